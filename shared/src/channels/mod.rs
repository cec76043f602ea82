//! Provider adapters: raw webhook bytes in, canonical events out. Adapters are
//! pure (no I/O) so they are unit tested and benchmarked on their own.

pub mod whatsapp;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::identity::Identity;
use crate::model::{Channel, DeliveryStatus, Message, Provider};

/// What one delivery told us, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalEvent {
    Message(IncomingMessage),
    Status(StatusUpdate),
}

impl CanonicalEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            CanonicalEvent::Message(m) => m.occurred_at,
            CanonicalEvent::Status(s) => s.at,
        }
    }
}

/// A message in either direction, as the provider reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub provider: Provider,
    pub provider_message_id: String,
    pub channel: Channel,
    /// The customer on the other end, whichever direction the message went.
    pub customer: Identity,
    pub customer_name: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub message: Message,
}

/// A delivery receipt for an outbound message, possibly for a message we have
/// not stored yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub provider: Provider,
    pub provider_message_id: String,
    pub customer: Option<Identity>,
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
    pub error: Option<String>,
}

/// A delivery that is well signed but not what the provider documents.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{field}: {detail}")]
pub struct ParseError {
    /// Path of the offending field, e.g. `entry[0].changes[0].value.messages[0].timestamp`.
    pub field: String,
    pub detail: String,
}

impl ParseError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Deserializes JSON, naming the offending field on failure.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ParseError::new(field, e.into_inner().to_string())
    })
}
