use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{Attempt, Item, Store, StoreError, lost_race, optimistic, s, settle};
use crate::channels::{Deletion, IncomingMessage, StatusUpdate};
use crate::identity::Identity;
use crate::keys;
use crate::model::{DeliveryStatus, EventDetail, Provider, TimelineEvent};

/// A status or tombstone for a message we never receive is kept this long.
const PARKED_STATUS_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Created {
        event_id: String,
        event_pk: String,
        event_sk: String,
    },
    /// A redelivery (or a client retry) of a message we already hold.
    Duplicate { event_pk: String, event_sk: String },
}

impl RecordOutcome {
    fn event_key(&self) -> (&str, &str) {
        match self {
            RecordOutcome::Created {
                event_pk, event_sk, ..
            }
            | RecordOutcome::Duplicate { event_pk, event_sk } => (event_pk, event_sk),
        }
    }
}

fn recorded(pm: &ProviderMessageItem) -> Option<RecordOutcome> {
    Some(RecordOutcome::Duplicate {
        event_pk: pm.event_pk.clone()?,
        event_sk: pm.event_sk.clone()?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePage {
    pub events: Vec<TimelineEvent>,
    /// Sort key of the last event returned, when more may follow.
    pub next: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EventItem {
    pub(super) pk: String,
    pub(super) sk: String,
    /// Keys of the provider-message items that point at this event, so a
    /// merge can re-point them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) claims: Vec<String>,
    /// The customer identity the event arrived through, so a split can
    /// move it with that identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) via: Option<Identity>,
    /// The search-index keys of the message's text (see `search`); kept
    /// until its index items are removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) index_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    gsi3pk: String,
    gsi3sk: String,
    #[serde(flatten)]
    pub(super) event: TimelineEvent,
}

impl EventItem {
    pub(super) fn new(tenant: &str, mut event: TimelineEvent, claims: Vec<String>) -> Self {
        // Every event item is built here, whichever path wrote it (webhook,
        // API, import, merge), so this is where it is kept within one item.
        event.detail.bound();
        let pk = keys::contact_pk(tenant, &event.contact_id);
        let sk = keys::event_sk(event.occurred_at, &event.event_id);
        let gsi2pk = event
            .channel
            .map(|c| keys::contact_channel_pk(tenant, &event.contact_id, c));
        let index_keys = match &event.detail {
            EventDetail::Message(m) if !m.deleted => m
                .body
                .as_deref()
                .map(crate::text::index_keys)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        Self {
            claims,
            via: None,
            index_keys,
            gsi2sk: gsi2pk.as_ref().map(|_| sk.clone()),
            gsi2pk,
            gsi3pk: keys::tenant_day_pk(tenant, event.occurred_at, &event.event_id),
            gsi3sk: sk.clone(),
            pk,
            sk,
            event,
        }
    }

    pub(super) fn arrived_via(self, via: Option<Identity>) -> Self {
        Self { via, ..self }
    }
}

/// The coordination point for one provider message id: it dedupes
/// redeliveries and parks statuses that arrive before their message.
#[derive(Serialize, Deserialize, Default)]
struct ProviderMessageItem {
    pk: String,
    sk: String,
    /// Optimistic concurrency: every write expects the version it read.
    #[serde(default)]
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<DeliveryStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_error: Option<String>,
    /// The customer unsent the message: its content is never stored.
    #[serde(default)]
    deleted: bool,
    /// Set only while nothing but parked statuses is known (DynamoDB TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl ProviderMessageItem {
    /// What is known of a message not stored yet (a parked status, a
    /// tombstone) expires; once the message is stored it stays.
    fn expiry_unless_stored(&self) -> Option<i64> {
        match self.event_sk {
            Some(_) => None,
            None => Some((Utc::now() + Duration::days(PARKED_STATUS_TTL_DAYS)).timestamp()),
        }
    }
}

/// What a deleted message keeps: that it existed, when, and who sent it.
fn erase(message: &mut crate::model::Message) {
    message.body = None;
    message.full_body = None;
    message.attachments.clear();
    message.deleted = true;
}

impl Store {
    async fn provider_message(
        &self,
        tenant: &str,
        provider: Provider,
        provider_id: &str,
    ) -> Result<ProviderMessageItem, StoreError> {
        let pk = keys::provider_message_pk(tenant, provider, provider_id);
        Ok(match self.get(&pk, keys::PROVIDER_MESSAGE_SK).await? {
            Some(item) => serde_dynamo::from_item(item)?,
            None => ProviderMessageItem {
                pk,
                sk: keys::PROVIDER_MESSAGE_SK.to_string(),
                ..Default::default()
            },
        })
    }

    /// Puts `next` only if nobody changed the item since `read_version`.
    fn put_versioned(
        &self,
        mut next: ProviderMessageItem,
        read_version: u64,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        next.version = read_version + 1;
        let condition = if read_version == 0 {
            "attribute_not_exists(pk)"
        } else {
            "version = :v"
        };
        let values = (read_version > 0).then(|| {
            Item::from([(
                ":v".to_string(),
                AttributeValue::N(read_version.to_string()),
            )])
        });
        self.put_if(serde_dynamo::to_item(next)?, condition, values)
    }

    /// Stores a message exactly once per provider message id, applying any
    /// status or deletion that arrived before it.
    pub async fn record_message(
        &self,
        tenant: &str,
        contact: &str,
        incoming: &IncomingMessage,
    ) -> Result<RecordOutcome, StoreError> {
        self.record_message_once(tenant, contact, incoming, None)
            .await
    }

    /// As `record_message`, and also at most once per `idempotency_key`
    /// (a client's retry of `POST /contacts/{contact}/messages`).
    #[tracing::instrument(skip(self, incoming, idempotency_key), fields(provider_id = %incoming.provider_message_id))]
    pub async fn record_message_once(
        &self,
        tenant: &str,
        contact: &str,
        incoming: &IncomingMessage,
        idempotency_key: Option<&str>,
    ) -> Result<RecordOutcome, StoreError> {
        let outcome = self
            .store_message(tenant, contact, incoming, idempotency_key)
            .await?;
        // Also on a duplicate: it completes an index write a crash cut short.
        let (pk, sk) = outcome.event_key();
        self.index_message(pk, sk).await?;
        Ok(outcome)
    }

    async fn store_message(
        &self,
        tenant: &str,
        contact: &str,
        incoming: &IncomingMessage,
        idempotency_key: Option<&str>,
    ) -> Result<RecordOutcome, StoreError> {
        let key_pk = idempotency_key.map(|k| keys::idempotency_pk(tenant, k));
        let key_pk = &key_pk;
        optimistic(
            || incoming.provider_message_id.clone(),
            || async move {
                if let Some(key_pk) = &key_pk
                    && let Some(item) = self.get(key_pk, keys::PROVIDER_MESSAGE_SK).await?
                    && let Some(existing) = recorded(&serde_dynamo::from_item(item)?)
                {
                    return Ok(Attempt::Done(existing));
                }
                let pm = self
                    .provider_message(tenant, incoming.provider, &incoming.provider_message_id)
                    .await?;
                if let Some(existing) = recorded(&pm) {
                    return Ok(Attempt::Done(existing));
                }
                let mut message = incoming.message.clone();
                if pm.deleted {
                    erase(&mut message);
                }
                if DeliveryStatus::latest(message.status, pm.status) != message.status {
                    message.status = pm.status;
                    message.status_at = pm.status_at;
                    message.status_error = pm.status_error.clone();
                }
                let event_id = Ulid::from_datetime(incoming.occurred_at.into()).to_string();
                let claims = std::iter::once(pm.pk.clone())
                    .chain(key_pk.clone())
                    .collect();
                let item = EventItem::new(
                    tenant,
                    TimelineEvent {
                        event_id: event_id.clone(),
                        contact_id: contact.to_string(),
                        occurred_at: incoming.occurred_at,
                        recorded_at: Utc::now(),
                        channel: Some(incoming.channel),
                        provider: Some(incoming.provider),
                        provider_ref: Some(incoming.provider_message_id.clone()),
                        detail: EventDetail::Message(message),
                    },
                    claims,
                )
                .arrived_via(Some(incoming.customer.clone()));
                let (event_pk, event_sk) = (item.pk.clone(), item.sk.clone());
                let turn = crate::metrics::Turn {
                    at: incoming.occurred_at,
                    direction: incoming.message.direction,
                };
                let metrics = self
                    .metrics_for_new_message(tenant, contact, &event_sk, turn, incoming.channel)
                    .await?;
                let read_version = pm.version;
                let claimed = ProviderMessageItem {
                    event_pk: Some(event_pk.clone()),
                    event_sk: Some(event_sk.clone()),
                    expires_at: None,
                    ..pm
                };
                let mut transaction = self
                    .db
                    .transact_write_items()
                    .transact_items(self.put_versioned(claimed, read_version)?)
                    .transact_items(self.put_new(serde_dynamo::to_item(item)?)?)
                    .transact_items(metrics);
                if let Some(key_pk) = &key_pk {
                    let key_item = ProviderMessageItem {
                        pk: key_pk.clone(),
                        sk: keys::PROVIDER_MESSAGE_SK.to_string(),
                        event_pk: Some(event_pk.clone()),
                        event_sk: Some(event_sk.clone()),
                        ..Default::default()
                    };
                    transaction = transaction.transact_items(self.put_versioned(key_item, 0)?);
                }
                Ok(
                    settle(transaction.send().await)?.map(|_| RecordOutcome::Created {
                        event_id,
                        event_pk,
                        event_sk,
                    }),
                )
            },
        )
        .await
    }

    /// Names who wrote a business message that was first seen as a provider
    /// echo, which cannot tell (an AI reply whose echo beat the app's own
    /// record of it). A known author is never replaced.
    pub async fn fill_author(
        &self,
        outcome: &RecordOutcome,
        author: &crate::model::Author,
    ) -> Result<(), StoreError> {
        let (pk, sk) = outcome.event_key();
        let filled = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET #author = :author")
            .condition_expression(
                "#direction = :outbound AND #author.#kind = :human AND attribute_not_exists(#author.#user)",
            )
            .expression_attribute_names("#author", "author")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_names("#user", "user_id")
            .expression_attribute_names("#direction", "direction")
            .expression_attribute_values(":author", serde_dynamo::to_attribute_value(author)?)
            .expression_attribute_values(":outbound", s("outbound"))
            .expression_attribute_values(":human", s("human"))
            .send()
            .await;
        match filled {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The event a provider-message or idempotency item points at. The key
    /// comes from a tenant-scoped item, so it stays in that tenant.
    pub async fn recorded_event(
        &self,
        outcome: &RecordOutcome,
    ) -> Result<Option<TimelineEvent>, StoreError> {
        let (pk, sk) = outcome.event_key();
        Ok(match self.get(pk, sk).await? {
            Some(item) => Some(serde_dynamo::from_item::<_, EventItem>(item)?.event),
            None => None,
        })
    }

    /// Applies a delivery status monotonically. A status for a message not
    /// stored yet is parked and applied when the message arrives.
    #[tracing::instrument(skip(self, update), fields(provider_id = %update.provider_message_id))]
    pub async fn apply_status(
        &self,
        tenant: &str,
        update: &StatusUpdate,
    ) -> Result<(), StoreError> {
        optimistic(
            || update.provider_message_id.clone(),
            || async move {
                let pm = self
                    .provider_message(tenant, update.provider, &update.provider_message_id)
                    .await?;
                let latest = DeliveryStatus::latest(pm.status, Some(update.status));
                if latest == pm.status {
                    // Already at or past this status; finish a write a crash may have cut short.
                    return self.copy_status_to_event(&pm).await.map(Attempt::Done);
                }
                let read_version = pm.version;
                let next = ProviderMessageItem {
                    status: Some(update.status),
                    status_at: Some(update.at),
                    status_error: update.error.clone(),
                    expires_at: pm.expiry_unless_stored(),
                    ..pm
                };
                let write = self.put_versioned(next, read_version)?;
                if let Attempt::Retry = self.write_one(write).await? {
                    return Ok(Attempt::Retry);
                }
                let pm = self
                    .provider_message(tenant, update.provider, &update.provider_message_id)
                    .await?;
                self.copy_status_to_event(&pm).await.map(Attempt::Done)
            },
        )
        .await
    }

    /// Erases a message's content for good. A deletion for a message not
    /// stored yet leaves a tombstone, so the content is never written.
    #[tracing::instrument(skip(self, deletion), fields(provider_id = %deletion.provider_message_id))]
    pub async fn apply_deletion(
        &self,
        tenant: &str,
        deletion: &Deletion,
    ) -> Result<(), StoreError> {
        optimistic(
            || deletion.provider_message_id.clone(),
            || async move {
                let pm = self
                    .provider_message(tenant, deletion.provider, &deletion.provider_message_id)
                    .await?;
                if !pm.deleted {
                    let read_version = pm.version;
                    let next = ProviderMessageItem {
                        deleted: true,
                        expires_at: pm.expiry_unless_stored(),
                        ..pm
                    };
                    let write = self.put_versioned(next, read_version)?;
                    if let Attempt::Retry = self.write_one(write).await? {
                        return Ok(Attempt::Retry);
                    }
                }
                let pm = self
                    .provider_message(tenant, deletion.provider, &deletion.provider_message_id)
                    .await?;
                if let (Some(pk), Some(sk)) = (&pm.event_pk, &pm.event_sk) {
                    let erased = self
                        .db
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", s(pk))
                        .key("sk", s(sk))
                        .update_expression("SET deleted = :t REMOVE body, attachments")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":t", AttributeValue::Bool(true))
                        .return_values(ReturnValue::AllNew)
                        .send()
                        .await;
                    match erased {
                        Ok(out) => {
                            let event: EventItem =
                                serde_dynamo::from_item(out.attributes.unwrap_or_default())?;
                            self.forget_words(pk, sk, &event.index_keys).await?;
                        }
                        Err(e) if !lost_race(&e) => return Err(e.into()),
                        Err(_) => {}
                    }
                }
                Ok(Attempt::Done(()))
            },
        )
        .await
    }

    /// Removes a deleted message's postings, then the record of which
    /// postings it had (kept until then, so a redelivery can finish).
    async fn forget_words(
        &self,
        pk: &str,
        sk: &str,
        index_keys: &[String],
    ) -> Result<(), StoreError> {
        if index_keys.is_empty() {
            return Ok(());
        }
        self.remove_postings(pk, sk, index_keys).await?;
        let forgotten = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("REMOVE index_keys")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match forgotten {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Brings the stored message's status up to the provider-message item's,
    /// never backwards.
    async fn copy_status_to_event(&self, pm: &ProviderMessageItem) -> Result<(), StoreError> {
        let (Some(pk), Some(sk), Some(status)) = (&pm.event_pk, &pm.event_sk, pm.status) else {
            return Ok(());
        };
        let superseded: Vec<DeliveryStatus> = status.supersedes().collect();
        let mut condition = String::from("attribute_exists(pk) AND (attribute_not_exists(#st)");
        let mut request = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":s", s(status.as_str()));
        for (i, old) in superseded.iter().enumerate() {
            let name = format!(":old{i}");
            condition.push_str(&format!(" OR #st = {name}"));
            request = request.expression_attribute_values(name, s(old.as_str()));
        }
        condition.push(')');
        let mut update = String::from("SET #st = :s");
        if let Some(at) = pm.status_at {
            update.push_str(", status_at = :at");
            request = request.expression_attribute_values(":at", s(keys::instant(at)));
        }
        match &pm.status_error {
            Some(error) => {
                update.push_str(", status_error = :err");
                request = request.expression_attribute_values(":err", s(error));
            }
            None => update.push_str(" REMOVE status_error"),
        }
        let result = request
            .update_expression(update)
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }
}
