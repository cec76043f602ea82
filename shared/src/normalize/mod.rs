//! The SQS consumer: turns queued deliveries into timeline writes. Each record
//! succeeds or fails on its own; failures are reported back to SQS (partial
//! batch response) and retried, then dead-lettered.
//!
//! A batch's records run concurrently, except that records naming the same
//! customer (or the same provider object) run one after another in the order
//! they came: one slow, failing or panicking record costs only itself. The
//! handler stops before the invocation's deadline and reports every record it
//! did not finish, so a timeout never fails the records that were done.

mod apply;
mod batch;

use std::panic::AssertUnwindSafe;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::time::Instant;

use crate::channels::{self, CanonicalEvent, ParseError};
use crate::delivery::{Delivery, DeliveryError, DeliveryQueue, Payload};
use crate::identity::Identity;
use crate::store::{Store, StoreError};

pub use apply::apply;
pub use batch::{BatchLimits, DEADLINE_MARGIN, MAX_CONCURRENT_RECORDS, deadline_from_epoch_millis};
use batch::{OrderKey, RecordFailure, Start, run_ordered};

pub struct NormalizeDeps {
    pub store: Store,
    /// Only read from: loads claim-checked bodies.
    pub deliveries: DeliveryQueue,
}

impl NormalizeDeps {
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::SettingsError> {
        Ok(Self {
            store: Store::from_settings(clients, settings)?,
            deliveries: DeliveryQueue::from_settings(clients, settings)?,
        })
    }
}

// Displayed in logs, so no variant shows what the delivery said: parse and
// JSON errors can quote phone numbers, addresses and message text.
#[derive(Debug, Error)]
pub enum NormalizeError {
    #[error("record has no body")]
    EmptyRecord,
    #[error("envelope: {}", json_error_shape(.0))]
    Envelope(#[from] serde_json::Error),
    #[error("payload: {0}")]
    Payload(#[from] ParseError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where JSON went wrong, without the offending value.
fn json_error_shape(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a delivery",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// The keys a delivery's events are ordered by: the customers they name (a
/// contact is resolved from them) and the provider objects (a message and
/// its statuses, a call's reports) they change.
fn order_keys(tenant: &str, events: &[CanonicalEvent]) -> Vec<OrderKey> {
    let mut keys = Vec::new();
    let people = |keys: &mut Vec<OrderKey>, customer: Option<&Identity>, linked: &[Identity]| {
        keys.extend(
            customer
                .into_iter()
                .chain(linked)
                .map(|identity| OrderKey::identity(tenant, identity)),
        );
    };
    for event in events {
        match event {
            CanonicalEvent::Message(m) => {
                people(&mut keys, Some(&m.customer), &m.linked_identities);
                keys.push(OrderKey::object(tenant, m.provider, &m.provider_message_id));
            }
            CanonicalEvent::Status(s) => {
                people(&mut keys, s.customer.as_ref(), &[]);
                keys.push(OrderKey::object(tenant, s.provider, &s.provider_message_id));
            }
            CanonicalEvent::Deletion(d) => {
                keys.push(OrderKey::object(tenant, d.provider, &d.provider_message_id));
            }
            CanonicalEvent::Call(c) => {
                people(&mut keys, Some(&c.customer), &[]);
                keys.push(OrderKey::object(tenant, c.provider, &c.call_id));
            }
            CanonicalEvent::Booking(b) => {
                people(&mut keys, Some(&b.customer), &b.linked_identities);
                keys.push(OrderKey::object(tenant, b.provider, &b.booking_id));
                if let Some(old) = &b.replaces_booking_id {
                    keys.push(OrderKey::object(tenant, b.provider, old));
                }
            }
            CanonicalEvent::Payment(p) => {
                people(&mut keys, p.customer.as_ref(), &p.linked_identities);
                keys.push(OrderKey::object(tenant, p.provider, &p.payment_id));
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// A parsed delivery, ready to write.
struct Parsed {
    tenant_id: String,
    connected_at: DateTime<Utc>,
    events: Vec<CanonicalEvent>,
}

/// Runs one SQS batch of the ingest queue, stopping `limits.margin` before
/// `deadline`; the response lists every record not stored.
pub async fn handle_batch(
    deps: &NormalizeDeps,
    event: SqsEvent,
    deadline: Instant,
    limits: BatchLimits,
) -> SqsBatchResponse {
    // Inline bodies (nearly all) are parsed here, in the batch's order, so
    // records of one customer keep that order; a claim-checked body's keys
    // are known only once it is read from S3.
    let starts: Vec<Start<Delivery, Parsed, NormalizeError>> =
        event.records.iter().map(start_record).collect();
    let outcomes = run_ordered(
        starts,
        limits,
        deadline.checked_sub(limits.margin).unwrap_or(deadline),
        |delivery| fetch_and_parse(deps, delivery),
        |parsed| apply_parsed(&deps.store, parsed),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        let Err(failure) = outcome else { continue };
        let id = record.message_id.clone().unwrap_or_default();
        match &failure {
            RecordFailure::Error(error) => {
                tracing::warn!(message_id = %id, %error, "delivery failed; SQS will retry it");
            }
            RecordFailure::Panicked => {
                tracing::error!(message_id = %id, "delivery panicked; SQS will retry it");
            }
            RecordFailure::Unfinished => {
                tracing::warn!(message_id = %id, "delivery unfinished at the deadline; SQS will retry it");
            }
        }
        let mut item = BatchItemFailure::default();
        item.item_identifier = id;
        response.batch_item_failures.push(item);
    }
    response
}

/// One record on its own, start to end, with no deadline and no panic
/// guard: what `handle_batch` does for each record.
pub async fn process_record(
    deps: &NormalizeDeps,
    record: &SqsMessage,
) -> Result<(), NormalizeError> {
    let delivery = envelope(record)?;
    let (parsed, _) = fetch_and_parse(deps, delivery).await?;
    apply_parsed(&deps.store, parsed).await
}

fn envelope(record: &SqsMessage) -> Result<Delivery, NormalizeError> {
    let body = record.body.as_deref().ok_or(NormalizeError::EmptyRecord)?;
    Ok(serde_json::from_str(body)?)
}

fn start_record(record: &SqsMessage) -> Start<Delivery, Parsed, NormalizeError> {
    let delivery = match envelope(record) {
        Ok(delivery) => delivery,
        Err(e) => return Start::Failed(RecordFailure::Error(e)),
    };
    let Payload::Inline { body } = &delivery.payload else {
        return Start::Fetch(delivery);
    };
    // An adapter bug must cost this record only.
    match std::panic::catch_unwind(AssertUnwindSafe(|| parse(&delivery, body))) {
        Ok(Ok(parsed)) => {
            let keys = order_keys(&parsed.tenant_id, &parsed.events);
            Start::Ready(parsed, keys)
        }
        Ok(Err(e)) => Start::Failed(RecordFailure::Error(e)),
        Err(_) => Start::Failed(RecordFailure::Panicked),
    }
}

fn parse(delivery: &Delivery, body: &str) -> Result<Parsed, NormalizeError> {
    let events = channels::parse(
        delivery.provider,
        body.as_bytes(),
        &delivery.parse_context(),
    )?;
    Ok(Parsed {
        tenant_id: delivery.tenant_id.clone(),
        connected_at: delivery.connected_at,
        events,
    })
}

async fn fetch_and_parse(
    deps: &NormalizeDeps,
    delivery: Delivery,
) -> Result<(Parsed, Vec<OrderKey>), NormalizeError> {
    let body = deps.deliveries.body(&delivery.payload).await?;
    let parsed = parse(&delivery, &body)?;
    let keys = order_keys(&parsed.tenant_id, &parsed.events);
    Ok((parsed, keys))
}

async fn apply_parsed(store: &Store, parsed: Parsed) -> Result<(), NormalizeError> {
    for event in &parsed.events {
        if event.occurred_at() < parsed.connected_at {
            continue;
        }
        apply(store, &parsed.tenant_id, event).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Provider;

    #[test]
    fn one_customer_and_one_message_share_keys_across_deliveries() {
        let ctx = crate::channels::ParseContext {
            received_at: Utc::now(),
            default_region: None,
        };
        let body = |from: &str, id: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"447700900100","phone_number_id":"1"}},"contacts":[{{"profile":{{"name":"A"}},"wa_id":"{from}"}}],"messages":[{{"from":"{from}","id":"{id}","timestamp":"1792570441","type":"text","text":{{"body":"Hi"}}}}]}}}}]}}]}}"#
            )
        };
        let keys = |tenant: &str, from: &str, id: &str| {
            let events = channels::parse(Provider::Whatsapp, body(from, id).as_bytes(), &ctx)
                .expect("parses");
            order_keys(tenant, &events)
        };
        let shared = |a: &[OrderKey], b: &[OrderKey]| a.iter().any(|k| b.contains(k));
        let first = keys("salon", "447700900123", "wamid.1");
        assert!(shared(&first, &keys("salon", "447700900123", "wamid.2")));
        assert!(shared(&first, &keys("salon", "447700900999", "wamid.1")));
        assert!(!shared(&first, &keys("salon", "447700900999", "wamid.2")));
        assert!(!shared(&first, &keys("other", "447700900123", "wamid.1")));
    }
}
