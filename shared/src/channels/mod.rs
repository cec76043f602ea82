//! Provider adapters: raw webhook bytes in, canonical events out. Adapters are
//! pure (no I/O) so they are unit tested and benchmarked on their own.

pub mod chat;
pub mod instagram;
pub mod meta;
pub mod twilio_signature;
pub mod twilio_sms;
pub mod whatsapp;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::identity::Identity;
use crate::model::{Channel, DeliveryStatus, Message, Provider};

/// What one delivery told us, in provider-neutral terms.
// Values live for one delivery item; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalEvent {
    Message(IncomingMessage),
    Status(StatusUpdate),
    Deletion(Deletion),
}

impl CanonicalEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            CanonicalEvent::Message(m) => m.occurred_at,
            CanonicalEvent::Status(s) => s.at,
            CanonicalEvent::Deletion(d) => d.at,
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
    /// Other identities this delivery ties to the same person (a chat
    /// visitor who gave an email and a phone number).
    pub linked_identities: Vec<Identity>,
    pub occurred_at: DateTime<Utc>,
    pub message: Message,
}

/// The customer unsent a message: its content must be erased, possibly
/// before we ever stored it (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub provider: Provider,
    pub provider_message_id: String,
    pub at: DateTime<Utc>,
}

/// What an adapter may need beyond the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseContext<'a> {
    /// When the webhook reached us; the time of events whose payload has none (Twilio SMS).
    pub received_at: DateTime<Utc>,
    /// ISO 3166 alpha-2 region for national phone formats (the business's setting).
    pub default_region: Option<&'a str>,
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

/// The adapter for one provider's deliveries.
pub fn parse(
    provider: Provider,
    body: &[u8],
    ctx: &ParseContext,
) -> Result<Vec<CanonicalEvent>, ParseError> {
    match provider {
        Provider::Whatsapp => whatsapp::parse(body, ctx),
        Provider::Instagram => instagram::parse(body, ctx),
        Provider::TwilioSms => twilio_sms::parse(body, ctx),
        Provider::Chat => chat::parse(body, ctx),
        other => Err(ParseError::new(
            "provider",
            format!("no adapter for {}", other.as_str()),
        )),
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
