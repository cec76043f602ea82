//! Calls, bookings and payments: one timeline event per provider object,
//! updated as reports about it arrive, in any order. The event shows the
//! report that ranks highest (latest state) and sits at the earliest instant
//! any report gave, so every arrival order converges to the same event.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::events::EventItem;
use super::{Attempt, Item, Store, StoreError, optimistic, settle};
use crate::identity::Identity;
use crate::keys;
use crate::model::{Channel, EventDetail, Provider, TimelineEvent};

/// One report about a provider object, ready to store.
pub struct ObjectReport<'a> {
    pub provider: Provider,
    pub object_id: &'a str,
    /// Where a new event goes; an existing event stays with its contact.
    pub contact: &'a str,
    /// The customer identity the report named.
    pub via: &'a Identity,
    pub channel: Option<Channel>,
    /// When the object began, as far as this report tells.
    pub instant: DateTime<Utc>,
    /// Reports with a higher rank replace the shown state. Compared as
    /// strings, so callers zero-pad numbers.
    pub rank: String,
    pub detail: EventDetail,
}

#[derive(Serialize, Deserialize)]
struct ObjectItem {
    pk: String,
    sk: String,
    version: u64,
    event_pk: String,
    event_sk: String,
    rank: String,
    #[serde(with = "keys::fixed_instant")]
    instant: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all, fields(object = %report.object_id))]
    pub async fn upsert_object_event(
        &self,
        tenant: &str,
        report: ObjectReport<'_>,
    ) -> Result<(), StoreError> {
        let object_pk = keys::object_pk(tenant, report.provider, report.object_id);
        let (object_pk, report) = (&object_pk, &report);
        optimistic(
            || object_pk.clone(),
            || async move {
                let existing = match self.get(object_pk, keys::PROVIDER_MESSAGE_SK).await? {
                    Some(item) => Some(serde_dynamo::from_item::<_, ObjectItem>(item)?),
                    None => None,
                };
                let result = match existing {
                    None => self.create_object_event(tenant, object_pk, report).await?,
                    Some(object) => {
                        let outranks = report.rank > object.rank;
                        let earlier = report.instant < object.instant;
                        // A lower-ranked report may still fill a gap, so
                        // duplicates are cheap no-ops only when nothing changes.
                        if !outranks && !earlier && !self.fills_gap(&object, report).await? {
                            return Ok(Attempt::Done(()));
                        }
                        self.update_object_event(tenant, object, report, outranks)
                            .await?
                    }
                };
                let attempt = settle(result)?;
                if let Attempt::Retry = attempt {
                    // Lost to a merge rather than a concurrent report: go where it went.
                    self.ensure_not_merged(tenant, report.contact).await?;
                }
                Ok(attempt)
            },
        )
        .await
    }

    async fn fills_gap(
        &self,
        object: &ObjectItem,
        report: &ObjectReport<'_>,
    ) -> Result<bool, StoreError> {
        let Some(current) = self.get(&object.event_pk, &object.event_sk).await? else {
            return Ok(false);
        };
        let current: EventItem = serde_dynamo::from_item(current)?;
        let mut filled = current.event.detail.clone();
        filled.fill_gaps_from(&report.detail);
        Ok(filled != current.event.detail)
    }

    async fn create_object_event(
        &self,
        tenant: &str,
        object_pk: &str,
        report: &ObjectReport<'_>,
    ) -> Result<WriteResult, StoreError> {
        let event = TimelineEvent {
            event_id: Ulid::from_datetime(report.instant.into()).to_string(),
            contact_id: report.contact.to_string(),
            occurred_at: report.instant,
            recorded_at: Utc::now(),
            channel: report.channel,
            provider: Some(report.provider),
            provider_ref: Some(report.object_id.to_string()),
            detail: report.detail.clone(),
        };
        let item = EventItem::new(tenant, event, vec![object_pk.to_string()])
            .arrived_via(Some(report.via.clone()));
        let object = ObjectItem {
            pk: object_pk.to_string(),
            sk: keys::PROVIDER_MESSAGE_SK.to_string(),
            version: 1,
            event_pk: item.pk.clone(),
            event_sk: item.sk.clone(),
            rank: report.rank.clone(),
            instant: report.instant,
        };
        Ok(self
            .db
            .transact_write_items()
            .transact_items(self.put_new(serde_dynamo::to_item(object)?)?)
            .transact_items(self.put_new(serde_dynamo::to_item(item)?)?)
            // A new event never lands on a contact being merged away.
            .transact_items(self.not_merged(tenant, report.contact)?)
            .send()
            .await
            .map(|_| ()))
    }

    async fn update_object_event(
        &self,
        tenant: &str,
        object: ObjectItem,
        report: &ObjectReport<'_>,
        outranks: bool,
    ) -> Result<WriteResult, StoreError> {
        let Some(current) = self.get(&object.event_pk, &object.event_sk).await? else {
            // The event is being moved by a merge; the retry sees where it went.
            return Err(StoreError::Contention(object.event_pk));
        };
        let current: EventItem = serde_dynamo::from_item(current)?;
        let claims = current.claims.clone();
        let via = current.via;
        let mut event = current.event;
        if outranks {
            let mut detail = report.detail.clone();
            detail.fill_gaps_from(&event.detail);
            event.detail = detail;
        } else {
            event.detail.fill_gaps_from(&report.detail);
        }
        let instant = event.occurred_at.min(report.instant);
        let moved = instant != event.occurred_at;
        if moved {
            event.occurred_at = instant;
            event.event_id = Ulid::from_datetime(instant.into()).to_string();
        }
        let item = EventItem::new(tenant, event, claims).arrived_via(via);
        let read_version = object.version;
        let next = ObjectItem {
            version: read_version + 1,
            event_pk: item.pk.clone(),
            event_sk: item.sk.clone(),
            rank: if outranks {
                report.rank.clone()
            } else {
                object.rank.clone()
            },
            instant,
            ..object
        };
        let (old_pk, old_sk) = (current.pk, current.sk);
        let versioned = Item::from([(
            ":v".to_string(),
            AttributeValue::N(read_version.to_string()),
        )]);
        let mut transaction = self.db.transact_write_items().transact_items(self.put_if(
            serde_dynamo::to_item(next)?,
            "version = :v",
            Some(versioned),
        )?);
        transaction = if moved {
            transaction
                .transact_items(self.put_new(serde_dynamo::to_item(item)?)?)
                .transact_items(self.delete(&old_pk, &old_sk)?)
        } else {
            transaction.transact_items(self.put_if(
                serde_dynamo::to_item(item)?,
                "attribute_exists(pk)",
                None,
            )?)
        };
        Ok(transaction.send().await.map(|_| ()))
    }
}

type WriteResult = Result<
    (),
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
>;

/// Zero-padded so string order is numeric order.
pub fn rank(parts: &[i64]) -> String {
    parts
        .iter()
        .map(|p| format!("{:020}", p.max(&0)))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::rank;

    #[test]
    fn ranks_compare_numerically_as_strings() {
        assert!(rank(&[1, 0]) > rank(&[0, 9_999_999_999_999]));
        assert!(rank(&[2, 10]) > rank(&[2, 9]));
        assert_eq!(rank(&[-5]), rank(&[0]));
    }
}
