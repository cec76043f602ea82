//! The SQS consumer: turns queued deliveries into timeline writes. Each record
//! succeeds or fails on its own; failures are reported back to SQS (partial
//! batch response) and retried, then dead-lettered.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use thiserror::Error;

use crate::channels::{self, CanonicalEvent, ParseError};
use crate::delivery::{Delivery, DeliveryError, DeliveryQueue};
use crate::store::{Store, StoreError};

pub struct NormalizeDeps {
    pub store: Store,
    /// Only read from: loads claim-checked bodies.
    pub deliveries: DeliveryQueue,
}

#[derive(Debug, Error)]
pub enum NormalizeError {
    #[error("record has no body")]
    EmptyRecord,
    #[error("envelope: {0}")]
    Envelope(#[from] serde_json::Error),
    #[error("payload: {0}")]
    Payload(#[from] ParseError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn handle_batch(deps: &NormalizeDeps, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        if let Err(error) = process_record(deps, record).await {
            let id = record.message_id.clone().unwrap_or_default();
            tracing::warn!(message_id = %id, %error, "delivery failed; SQS will retry it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn process_record(deps: &NormalizeDeps, record: &SqsMessage) -> Result<(), NormalizeError> {
    let body = record.body.as_deref().ok_or(NormalizeError::EmptyRecord)?;
    let delivery: Delivery = serde_json::from_str(body)?;
    let payload = deps.deliveries.body(&delivery.payload).await?;
    let events = channels::parse(
        delivery.provider,
        payload.as_bytes(),
        &delivery.parse_context(),
    )?;
    for event in &events {
        if event.occurred_at() < delivery.connected_at {
            continue;
        }
        apply(&deps.store, &delivery.tenant_id, event).await?;
    }
    Ok(())
}

/// Every step is idempotent, so a redelivered record converges to the same state.
pub async fn apply(store: &Store, tenant: &str, event: &CanonicalEvent) -> Result<(), StoreError> {
    match event {
        CanonicalEvent::Message(message) => {
            let contact = store
                .resolve_contact_with(
                    tenant,
                    &message.customer,
                    &message.linked_identities,
                    message.customer_name.as_deref(),
                    message.occurred_at,
                )
                .await?;
            store.record_message(tenant, &contact, message).await?;
            store
                .touch_contact(tenant, &contact, message.occurred_at)
                .await
        }
        CanonicalEvent::Status(status) => store.apply_status(tenant, status).await,
        CanonicalEvent::Deletion(deletion) => store.apply_deletion(tenant, deletion).await,
    }
}
