//! The canonical timeline: one event type for every interaction kind, whatever
//! provider it came from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::limits;

/// Where a conversation happens, as staff think of it (not which vendor carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Whatsapp,
    Instagram,
    Sms,
    Email,
    Chat,
    Phone,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Instagram => "instagram",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Phone => "phone",
        }
    }
}

/// Declares `Provider`, its stored names and `Provider::ALL` from one list,
/// so no list of providers can miss one.
macro_rules! providers {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// The vendor whose webhook delivered an event; part of every idempotency key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Provider {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl Provider {
            pub const ALL: &'static [Provider] = &[$(Provider::$variant),+];

            /// The stored name (keys, events, deliveries).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Provider::$variant => $name,)+
                }
            }
        }
    };
}

providers! {
    /// WhatsApp Cloud API.
    Whatsapp = "whatsapp",
    /// Instagram messaging (Meta).
    Instagram = "instagram",
    /// Twilio Messaging.
    TwilioSms = "twilio_sms",
    /// Twilio Voice status callbacks.
    TwilioVoice = "twilio_voice",
    /// SES inbound mail through SNS.
    Ses = "ses",
    /// Postmark inbound mail.
    Postmark = "postmark",
    /// The website chat widget.
    Chat = "chat",
    /// Stripe payment events.
    Stripe = "stripe",
    /// Cal.com booking events.
    Calcom = "calcom",
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Who wrote a message: the timeline must tell an AI reply from a human one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    Customer,
    Ai,
    Human {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    System,
}

/// Outbound delivery progress. Providers report it out of order, so it only
/// ever moves forward: sent < delivered < read, and failed is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Failed,
    ];

    fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered => 2,
            DeliveryStatus::Read => 3,
            DeliveryStatus::Failed => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The statuses this one replaces when it arrives.
    pub fn supersedes(self) -> impl Iterator<Item = DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .filter(move |s| s.rank() < self.rank())
    }

    /// The further along of two statuses (the one a message should show).
    pub fn latest(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(x), Some(y)) => Some(if y.rank() > x.rank() { y } else { x }),
            (x, None) => x,
            (None, y) => y,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attachment {
    /// image, audio, video, document, sticker, location, contacts, ...
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// Where a conversation came from, for the journey's first touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TouchSource {
    /// e.g. `chat_widget`, `story_reply`, `story_mention`, `ad_referral`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub direction: Direction,
    pub author: Author,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The whole text when `body` shows less of it (an email reply without
    /// the quoted history below it), kept for exports; `None` when it would
    /// repeat `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_body: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeliveryStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_error: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TouchSource>,
    /// Email threading: which conversation this message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<EmailThread>,
    /// Less is stored than arrived: text cut, attachments or over-long
    /// links left out (see `limits`), so the message fits one item.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl Message {
    /// What a customer sent.
    pub fn inbound(body: Option<String>, attachments: Vec<Attachment>) -> Self {
        Self {
            direction: Direction::Inbound,
            author: Author::Customer,
            body,
            full_body: None,
            attachments,
            status: None,
            status_at: None,
            status_error: None,
            deleted: false,
            source: None,
            thread: None,
            truncated: false,
        }
    }

    /// What the business sent. It exists at the provider, so it was at
    /// least sent.
    pub fn outbound(author: Author, body: Option<String>, attachments: Vec<Attachment>) -> Self {
        Self {
            direction: Direction::Outbound,
            author,
            status: Some(DeliveryStatus::Sent),
            ..Self::inbound(body, attachments)
        }
    }

    pub fn with_source(self, source: Option<TouchSource>) -> Self {
        Self { source, ..self }
    }

    /// An email's whole text, quoted history included, when `body` is only the reply.
    pub fn with_full_body(self, full_body: Option<String>) -> Self {
        Self { full_body, ..self }
    }

    pub fn with_thread(self, thread: EmailThread) -> Self {
        Self {
            thread: Some(thread),
            ..self
        }
    }

    /// Keeps the message within one DynamoDB item (`limits`), flagging it
    /// `truncated` when anything was cut or left out.
    pub fn bound(&mut self) {
        let mut cut = false;
        for (text, max) in self.texts_mut() {
            cut |= limits::cut_opt(text, max);
        }
        if self.attachments.len() > limits::MAX_ATTACHMENTS {
            self.attachments.truncate(limits::MAX_ATTACHMENTS);
            cut = true;
        }
        for attachment in &mut self.attachments {
            cut |= attachment.bound();
        }
        if let Some(source) = &mut self.source {
            cut |= source.bound();
        }
        if let Some(thread) = &mut self.thread {
            cut |= thread.bound();
        }
        self.truncated |= cut;
    }

    /// The message's free texts and the bytes each keeps. A new text field
    /// (an email's full body) is bounded by listing it here; the item
    /// budget in `limits` has room for one more long text.
    fn texts_mut(&mut self) -> [(&mut Option<String>, usize); 3] {
        [
            (&mut self.body, limits::MAX_TEXT_BYTES),
            (&mut self.full_body, limits::MAX_TEXT_BYTES),
            (&mut self.status_error, limits::MAX_SHORT_TEXT_BYTES),
        ]
    }
}

impl Attachment {
    fn bound(&mut self) -> bool {
        let mut cut = limits::cut(&mut self.kind, limits::MAX_LABEL_BYTES);
        cut |= limits::drop_longer(&mut self.media_id, limits::MAX_KEY_ID_BYTES);
        cut |= limits::drop_longer(&mut self.url, limits::MAX_URL_BYTES);
        cut |= limits::drop_longer(&mut self.mime_type, limits::MAX_FILENAME_BYTES);
        cut |= limits::cut_opt(&mut self.caption, limits::MAX_CAPTION_BYTES);
        cut |= limits::cut_opt(&mut self.filename, limits::MAX_FILENAME_BYTES);
        cut
    }
}

impl TouchSource {
    fn bound(&mut self) -> bool {
        let mut cut = limits::cut(&mut self.kind, limits::MAX_LABEL_BYTES);
        cut |= limits::drop_longer(&mut self.url, limits::MAX_URL_BYTES);
        cut |= limits::drop_longer(&mut self.referrer, limits::MAX_URL_BYTES);
        for tag in [
            &mut self.utm_source,
            &mut self.utm_medium,
            &mut self.utm_campaign,
        ] {
            cut |= limits::cut_opt(tag, limits::MAX_LABEL_BYTES);
        }
        cut
    }
}

impl EmailThread {
    fn bound(&mut self) -> bool {
        let usable = |id: &String| id.len() <= limits::MAX_KEY_ID_BYTES;
        let mut cut = limits::drop_longer(&mut self.message_id, limits::MAX_KEY_ID_BYTES);
        cut |= limits::cut_opt(&mut self.subject, limits::MAX_SHORT_TEXT_BYTES);
        for ids in [&mut self.in_reply_to, &mut self.references] {
            let before = ids.len();
            ids.retain(usable);
            // The root and the nearest ancestors are what threading reads.
            if ids.len() > limits::MAX_THREAD_IDS {
                ids.drain(1..ids.len() + 1 - limits::MAX_THREAD_IDS);
            }
            cut |= ids.len() != before;
        }
        cut
    }
}

/// RFC 5322 ids (without angle brackets) that thread an email, its subject,
/// and whether its sender was authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmailThread {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_reply_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What the receiving service found about the `From` address; `None`
    /// when it gives no verdict (Postmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_authentication: Option<SenderAuthentication>,
}

/// Whether the `From` address's domain was authenticated: DMARC passed, or
/// SPF passed for an envelope sender of that same domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderAuthentication {
    Pass,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub direction: Direction,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub booking_id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// A reschedule is a new booking; this is the one it replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_booking_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub payment_id: String,
    pub status: String,
    /// Minor units (pence, cents): money is never a float.
    pub amount_minor: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub author_user_id: String,
    pub body: String,
}

/// Staff joined or separated contacts: which identities moved, and who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    /// `merge`: the other contact joined this one; `split`: these
    /// identities left for the other contact; `split_from`: they came from
    /// the other contact.
    pub action: String,
    pub other_contact_id: String,
    pub identities: Vec<crate::identity::Identity>,
    pub by_user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub by_user_id: String,
}

// Messages dominate the timeline, so boxing them would cost more than it saves.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventDetail {
    Message(Message),
    Call(Call),
    Booking(Booking),
    Payment(Payment),
    Note(Note),
    StageChange(StageChange),
    IdentityLink(IdentityLink),
}

impl EventDetail {
    /// Fills what this report left out from another report about the same
    /// object (a completion report does not repeat what was booked).
    pub fn fill_gaps_from(&mut self, other: &EventDetail) {
        fn fill<T: Clone>(field: &mut Option<T>, other: &Option<T>) {
            if field.is_none() {
                field.clone_from(other);
            }
        }
        match (self, other) {
            (EventDetail::Call(a), EventDetail::Call(b)) => {
                fill(&mut a.duration_secs, &b.duration_secs);
                fill(&mut a.recording_url, &b.recording_url);
            }
            (EventDetail::Booking(a), EventDetail::Booking(b)) => {
                fill(&mut a.service, &b.service);
                fill(&mut a.starts_at, &b.starts_at);
                fill(&mut a.ends_at, &b.ends_at);
                fill(&mut a.replaces_booking_id, &b.replaces_booking_id);
            }
            (EventDetail::Payment(a), EventDetail::Payment(b)) => {
                fill(&mut a.refunded_minor, &b.refunded_minor);
                fill(&mut a.description, &b.description);
            }
            _ => {}
        }
    }

    /// Keeps the detail within one DynamoDB item (`limits`). Notes, stage
    /// changes and identity links are bounded by the API that takes them.
    pub fn bound(&mut self) {
        match self {
            EventDetail::Message(m) => m.bound(),
            EventDetail::Call(c) => {
                limits::drop_longer(&mut c.recording_url, limits::MAX_URL_BYTES);
            }
            EventDetail::Booking(b) => {
                limits::cut_opt(&mut b.service, limits::MAX_LABEL_BYTES);
            }
            EventDetail::Payment(p) => {
                limits::cut(&mut p.currency, limits::MAX_LABEL_BYTES);
                limits::cut_opt(&mut p.description, limits::MAX_SHORT_TEXT_BYTES);
            }
            EventDetail::Note(_) | EventDetail::StageChange(_) | EventDetail::IdentityLink(_) => {}
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            EventDetail::Message(_) => "message",
            EventDetail::Call(_) => "call",
            EventDetail::Booking(_) => "booking",
            EventDetail::Payment(_) => "payment",
            EventDetail::Note(_) => "note",
            EventDetail::StageChange(_) => "stage_change",
            EventDetail::IdentityLink(_) => "identity_link",
        }
    }
}

/// One entry on a contact's timeline. Ordering is by `occurred_at` (a UTC
/// instant), ties broken by the time-ordered `event_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub event_id: String,
    pub contact_id: String,
    pub occurred_at: DateTime<Utc>,
    /// When we stored it: provider time and receive time are kept apart.
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// The provider's own id (wamid, mid, MessageSid, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<String>,
    #[serde(flatten)]
    pub detail: EventDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_only_moves_forward() {
        use DeliveryStatus::*;
        assert_eq!(
            DeliveryStatus::latest(Some(Read), Some(Delivered)),
            Some(Read)
        );
        assert_eq!(
            DeliveryStatus::latest(Some(Sent), Some(Failed)),
            Some(Failed)
        );
        assert_eq!(DeliveryStatus::latest(None, Some(Sent)), Some(Sent));
        assert_eq!(Read.supersedes().collect::<Vec<_>>(), vec![Sent, Delivered]);
        assert_eq!(Sent.supersedes().count(), 0);
    }

    #[test]
    fn a_message_within_bounds_is_kept_as_it_is_and_not_flagged() {
        let attachment = Attachment {
            kind: "image".into(),
            url: Some("https://cdn.example/a.jpg".into()),
            ..Attachment::default()
        };
        let original = Message::inbound(Some("Hi 😊".into()), vec![attachment]);
        let mut bounded = original.clone();
        bounded.bound();
        assert_eq!(bounded, original);
        let json = serde_json::to_value(&bounded).unwrap();
        assert!(json.get("truncated").is_none(), "{json}");
    }

    #[test]
    fn long_text_is_cut_between_characters_and_flagged() {
        let text = "é😊x".repeat(limits::MAX_TEXT_BYTES);
        let mut message = Message::inbound(Some(text.clone()), Vec::new());
        message.bound();
        let body = message.body.as_deref().unwrap();
        assert!(text.starts_with(body));
        assert!(body.len() <= limits::MAX_TEXT_BYTES);
        assert!(body.len() > limits::MAX_TEXT_BYTES - 4);
        assert!(message.truncated);
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["truncated"], true);
        let read: Message = serde_json::from_value(json).unwrap();
        assert!(read.truncated);
        let old: Message =
            serde_json::from_str(r#"{"direction":"inbound","author":{"kind":"customer"}}"#)
                .unwrap();
        assert!(!old.truncated, "items stored before the flag read as whole");
    }

    #[test]
    fn attachments_are_counted_and_their_fields_bounded() {
        let many: Vec<Attachment> = (0..25)
            .map(|i| Attachment {
                kind: "file".into(),
                filename: Some(format!("{i}.pdf")),
                ..Attachment::default()
            })
            .collect();
        let mut message = Message::inbound(None, many);
        message.bound();
        assert_eq!(message.attachments.len(), limits::MAX_ATTACHMENTS);
        assert_eq!(message.attachments[0].filename.as_deref(), Some("0.pdf"));
        assert!(message.truncated);

        let long = Attachment {
            kind: "k".repeat(1000),
            media_id: Some("m".repeat(1000)),
            url: Some(format!("https://cdn.example/{}", "u".repeat(5000))),
            mime_type: Some("image/jpeg".into()),
            caption: Some("c".repeat(10_000)),
            filename: Some("f".repeat(1000)),
        };
        let mut message = Message::inbound(None, vec![long]);
        message.bound();
        let a = &message.attachments[0];
        assert_eq!(a.kind.len(), limits::MAX_LABEL_BYTES);
        assert_eq!(a.media_id, None, "a cut id names nothing");
        assert_eq!(a.url, None, "a cut link points nowhere");
        assert_eq!(a.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(
            a.caption.as_deref().map(str::len),
            Some(limits::MAX_CAPTION_BYTES)
        );
        assert_eq!(
            a.filename.as_deref().map(str::len),
            Some(limits::MAX_FILENAME_BYTES)
        );
        assert!(message.truncated);
    }

    #[test]
    fn threads_keep_their_root_and_latest_ids() {
        let ids: Vec<String> = (0..30).map(|i| format!("{i}@mail.example")).collect();
        let mut message =
            Message::inbound(Some("Re: Saturday".into()), Vec::new()).with_thread(EmailThread {
                message_id: Some("m@mail.example".into()),
                in_reply_to: vec!["29@mail.example".into()],
                references: ids.clone(),
                subject: Some("S".repeat(5000)),
                sender_authentication: None,
            });
        message.bound();
        let thread = message.thread.as_ref().unwrap();
        assert_eq!(thread.references.len(), limits::MAX_THREAD_IDS);
        assert_eq!(thread.references[0], ids[0], "the root");
        assert_eq!(thread.references[1..], ids[11..], "the nearest ancestors");
        assert_eq!(thread.in_reply_to, ["29@mail.example"]);
        assert_eq!(
            thread.subject.as_deref().map(str::len),
            Some(limits::MAX_SHORT_TEXT_BYTES)
        );
        assert!(message.truncated);
    }

    #[test]
    fn constructors_say_who_wrote_it_and_that_outbound_was_sent() {
        let inbound = Message::inbound(Some("hi".into()), Vec::new());
        assert_eq!(
            (inbound.direction, inbound.author, inbound.status),
            (Direction::Inbound, Author::Customer, None)
        );
        let outbound = Message::outbound(Author::Ai, Some("hello".into()), Vec::new());
        assert_eq!(
            (outbound.direction, outbound.author, outbound.status),
            (Direction::Outbound, Author::Ai, Some(DeliveryStatus::Sent))
        );
    }
}
