//! Provider adapters: raw webhook bytes in, canonical events out. Adapters are
//! pure (no I/O) so they are unit tested and benchmarked on their own.

mod admit;
pub mod attachment;
pub mod calcom;
pub mod chat;
pub mod email;
mod form;
pub mod instagram;
mod json_node;
pub mod meta;
pub mod postmark;
pub mod provider;
pub mod ses;
pub mod sns;
pub mod stripe;
pub mod twilio_signature;
pub mod twilio_sms;
pub mod twilio_voice;
pub mod whatsapp;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::identity::Identity;
use crate::model::{Channel, DeliveryStatus, Direction, Message, Provider};

/// What one delivery told us, in provider-neutral terms.
// Values live for one delivery item; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalEvent {
    Message(IncomingMessage),
    Status(StatusUpdate),
    Deletion(Deletion),
    Call(CallUpdate),
    Booking(BookingUpdate),
    Payment(PaymentUpdate),
}

impl CanonicalEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            CanonicalEvent::Message(m) => m.occurred_at,
            CanonicalEvent::Status(s) => s.at,
            CanonicalEvent::Deletion(d) => d.at,
            CanonicalEvent::Call(c) => c.at,
            CanonicalEvent::Booking(b) => b.at,
            CanonicalEvent::Payment(p) => p.at,
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

/// One report about a phone call. A call's reports, in any order, converge
/// to one timeline event in the call's final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    pub provider: Provider,
    pub call_id: String,
    pub customer: Identity,
    pub direction: Direction,
    pub status: CallStatus,
    /// The provider's ordering of a call's reports (Twilio `SequenceNumber`).
    pub sequence: Option<u32>,
    /// When this report was made.
    pub at: DateTime<Utc>,
    pub duration_secs: Option<u32>,
    pub recording_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    /// Final states: the call is over.
    pub fn is_final(self) -> bool {
        self >= CallStatus::Completed
    }
}

/// One report about a booking (appointment). A booking's reports converge
/// to one timeline event per booking id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingUpdate {
    pub provider: Provider,
    pub booking_id: String,
    /// The attendee's strongest identity (email, else phone).
    pub customer: Identity,
    /// The attendee's other identities (phone when email is the customer).
    pub linked_identities: Vec<Identity>,
    pub customer_name: Option<String>,
    pub status: BookingStatus,
    /// What was booked (the event type), for journey and repeat analysis.
    pub service: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// When this change happened.
    pub at: DateTime<Utc>,
    /// A reschedule is a new booking that retires this one.
    pub replaces_booking_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BookingStatus {
    Created,
    Rescheduled,
    Cancelled,
    Completed,
    NoShow,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Created => "created",
            BookingStatus::Rescheduled => "rescheduled",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Completed => "completed",
            BookingStatus::NoShow => "no_show",
        }
    }
}

/// One report about a payment. Keyed by the payment's id (a Stripe
/// PaymentIntent), so the reports about it converge to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentUpdate {
    pub provider: Provider,
    pub payment_id: String,
    /// The payer's strongest identity when the provider gives one.
    pub customer: Option<Identity>,
    pub linked_identities: Vec<Identity>,
    pub customer_name: Option<String>,
    pub status: PaymentStatus,
    /// Minor units (pence, cents).
    pub amount_minor: i64,
    /// ISO 4217, lowercase as Stripe sends it.
    pub currency: String,
    pub refunded_minor: Option<i64>,
    pub description: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PaymentStatus {
    Failed,
    Succeeded,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Failed => "failed",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
        }
    }
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
/// Displayed (logged) by its field only: the detail may quote the payload
/// (a phone number, an address) and goes only to the webhook's caller.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{field} is not as the provider documents it")]
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

/// The adapter for one provider's deliveries, its output checked by the one
/// rule every adapter shares (`admit`: ids that can be keys, instants that
/// sort).
pub fn parse(
    provider: Provider,
    body: &[u8],
    ctx: &ParseContext,
) -> Result<Vec<CanonicalEvent>, ParseError> {
    let mut events = (provider.descriptor().parse)(body, ctx)?;
    admit::admit(&mut events)?;
    Ok(events)
}

/// Deserializes one JSON document (nothing but whitespace may follow it),
/// naming the offending field on failure.
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ParseError::new(field, e.into_inner().to_string())
    })?;
    // `deserialize` stops after the value; `end` refuses what follows it.
    de.end()
        .map_err(|e| ParseError::new("body", e.to_string()))?;
    Ok(value)
}
