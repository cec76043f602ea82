//! The single-table key design (documented in docs/table.md). Every key that
//! holds customer data starts with the tenant, so no key built here can reach
//! another tenant's items.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::identity::Identity;
use crate::model::{Channel, Provider};

pub const PROFILE_SK: &str = "PROFILE";
pub const SETTINGS_SK: &str = "SETTINGS";
pub const IDENTITY_SK: &str = "ID";
pub const PROVIDER_MESSAGE_SK: &str = "PM";
pub const CONNECTION_ROUTE_SK: &str = "ROUTE";
pub const EVENT_SK_PREFIX: &str = "EV#";
/// Just past every event sort key (`$` follows `#`), for range queries.
pub const EVENT_SK_END: &str = "EV$";
/// How many partitions one tenant-day of events is spread over in the
/// export index, so a busy day does not become a hot partition.
pub const DAY_SHARDS: u32 = 4;

pub fn tenant_pk(tenant: &str) -> String {
    format!("T#{tenant}")
}

pub fn contact_pk(tenant: &str, contact: &str) -> String {
    format!("T#{tenant}#C#{contact}")
}

/// Fixed width and UTC, so string order is chronological order.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serde for instants that DynamoDB conditions compare as strings: always
/// the fixed-width form of [`instant`].
pub mod fixed_instant {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::instant(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d)
    }
}

pub fn event_sk(at: DateTime<Utc>, event_id: &str) -> String {
    format!("{EVENT_SK_PREFIX}{}#{event_id}", instant(at))
}

pub fn identity_pk(tenant: &str, identity: &Identity) -> String {
    format!(
        "T#{tenant}#ID#{}#{}",
        identity.kind.as_str(),
        identity.value
    )
}

/// Reverse link from a contact to the identities it holds.
pub fn identity_link_sk(identity: &Identity) -> String {
    format!("IDENT#{}#{}", identity.kind.as_str(), identity.value)
}

pub fn provider_message_pk(tenant: &str, provider: Provider, provider_id: &str) -> String {
    format!("T#{tenant}#PM#{}#{provider_id}", provider.as_str())
}

/// A call, booking or payment: the provider's object that one timeline event
/// follows through its life.
pub fn object_pk(tenant: &str, provider: Provider, object_id: &str) -> String {
    format!("T#{tenant}#OBJ#{}#{object_id}", provider.as_str())
}

/// A client's `Idempotency-Key` in the tenant; the API scopes `key` to the
/// route and the contact first (`POST-messages#{contact}#{key}`).
pub fn idempotency_pk(tenant: &str, key: &str) -> String {
    format!("T#{tenant}#IK#{key}")
}

pub fn connection_sk(provider: Provider, connection: &str) -> String {
    format!("CONN#{}#{connection}", provider.as_str())
}

/// Webhooks name only the connection, so it has a global routing item.
pub fn connection_route_pk(connection: &str) -> String {
    format!("CONN#{connection}")
}

/// GSI1: contacts of a tenant by last activity.
pub fn contacts_by_activity_pk(tenant: &str) -> String {
    format!("T#{tenant}#CONTACTS")
}

pub fn contacts_by_activity_sk(last_activity: DateTime<Utc>, contact: &str) -> String {
    format!("{}#{contact}", instant(last_activity))
}

/// One search-index posting list: a contact's messages holding a word
/// beginning `key` (the event's partition key makes it tenant- and
/// contact-scoped).
pub fn search_pk(event_pk: &str, key: &str) -> String {
    format!("{event_pk}#W#{key}")
}

/// GSI2: one contact's events on one channel, so a channel filter never
/// reads other channels' events.
pub fn contact_channel_pk(tenant: &str, contact: &str, channel: Channel) -> String {
    format!("T#{tenant}#C#{contact}#CH#{}", channel.as_str())
}

/// One fixed window of a webhook rate limit (`store::rate_limit`): the
/// connection's or one visitor's counter, one item per window.
pub fn rate_window_key(
    tenant: &str,
    scope: &crate::store::RateScope<'_>,
    window_start: DateTime<Utc>,
) -> (String, String) {
    let pk = match scope {
        crate::store::RateScope::Connection { connection } => {
            format!("T#{tenant}#RATE#{connection}")
        }
        crate::store::RateScope::Visitor {
            connection,
            visitor,
        } => format!(
            "T#{tenant}#RATE#{connection}#{}#{}",
            visitor.kind.as_str(),
            visitor.value
        ),
    };
    (pk, format!("W#{}", instant(window_start)))
}

pub const EXPORT_JOB_SK: &str = "JOB";

/// An export job (`shared::export`).
pub fn export_pk(tenant: &str, export_id: &str) -> String {
    format!("{}#EXPORT#{export_id}", tenant_pk(tenant))
}

/// The GSI3 partition of one shard of one UTC day.
pub fn tenant_day_shard_pk(tenant: &str, day: chrono::NaiveDate, shard: u32) -> String {
    format!("T#{tenant}#DAY#{}#{shard}", day.format("%Y-%m-%d"))
}

/// GSI3: a tenant's events by UTC day, sharded, for bulk export by date range.
pub fn tenant_day_pk(tenant: &str, at: DateTime<Utc>, event_id: &str) -> String {
    let shard = event_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % DAY_SHARDS;
    tenant_day_shard_pk(tenant, at.date_naive(), shard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn event_keys_sort_chronologically_as_strings() {
        let times = [
            Utc.with_ymd_and_hms(2026, 10, 21, 8, 14, 1).unwrap(),
            Utc.with_ymd_and_hms(2026, 10, 21, 8, 14, 1).unwrap()
                + chrono::Duration::milliseconds(5),
            Utc.with_ymd_and_hms(2026, 10, 21, 10, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        ];
        let keys: Vec<String> = times.iter().map(|t| event_sk(*t, "01J")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys[0], "EV#2026-10-21T08:14:01.000Z#01J");
    }

    #[test]
    fn stored_instants_are_fixed_width() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Item {
            #[serde(with = "fixed_instant")]
            at: DateTime<Utc>,
        }
        let at = Utc.with_ymd_and_hms(2026, 10, 21, 8, 15, 27).unwrap();
        let json = serde_json::to_string(&Item { at }).unwrap();
        assert_eq!(json, r#"{"at":"2026-10-21T08:15:27.000Z"}"#);
        let back: Item = serde_json::from_str(r#"{"at":"2026-10-21T08:15:27Z"}"#).unwrap();
        assert_eq!(back.at, at);
    }

    #[test]
    fn day_shard_is_stable_and_bounded() {
        let at = Utc.with_ymd_and_hms(2026, 10, 21, 8, 0, 0).unwrap();
        let a = tenant_day_pk("demo", at, "01JABC");
        assert_eq!(a, tenant_day_pk("demo", at, "01JABC"));
        assert!(a.starts_with("T#demo#DAY#2026-10-21#"));
        let shard: u32 = a.rsplit('#').next().unwrap().parse().unwrap();
        assert!(shard < DAY_SHARDS);
    }
}
