//! A conversation as people read it: business-local times, who wrote each
//! message, its delivery status; calls, bookings and payments as one line
//! each. The TXT export prints it and the PDF renderer lays it out; neither
//! looks at a raw event.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::model::{Author, Channel, Direction, EventDetail, TimelineEvent};

/// What a deleted (unsent) message shows instead of its text.
pub const DELETED_MESSAGE: &str = "[Message deleted]";

/// A conversation export, ready to print. Every field is plain text: the
/// PDF renderer receives it as data (JSON), never as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The business's name (its tenant id when it has not set one).
    pub business: String,
    /// The customer's name, or their contact id when they have none.
    pub contact: String,
    pub contact_id: String,
    /// The period asked for, in business-local dates ("all time" when open).
    pub period: String,
    /// The business's IANA timezone, which every time below is in.
    pub timezone: String,
    /// When the export was made, business-local with its UTC offset.
    pub generated_at: String,
    /// Oldest first.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Message,
    Call,
    Booking,
    Payment,
    Note,
}

/// One line (or paragraph, for a message) of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// Business-local, with the UTC offset: `2026-10-21 09:14:01 +01:00`.
    pub at: String,
    /// `WhatsApp`, `SMS`, ...; empty for notes.
    pub channel: String,
    /// `inbound` or `outbound`; empty where it does not apply.
    pub direction: String,
    /// `Customer`, `AI`, `Staff (user id)`, `System`.
    pub author: String,
    /// A message's delivery status (`sent`, `delivered`, `read`, `failed`); empty otherwise.
    pub status: String,
    /// The message text (its whole text for an e-mail), [`DELETED_MESSAGE`]
    /// for an unsent message, or a one-line summary of a call, booking,
    /// payment or note.
    pub text: String,
    /// Attachments as `kind: name`, for messages.
    pub attachments: Vec<String>,
    pub deleted: bool,
}

/// Business-local time with its offset, as every export shows it.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

pub fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Instagram => "Instagram",
        Channel::Sms => "SMS",
        Channel::Email => "Email",
        Channel::Chat => "Website chat",
        Channel::Phone => "Phone",
    }
}

pub fn author_label(author: &Author) -> String {
    match author {
        Author::Customer => "Customer".into(),
        Author::Ai => "AI".into(),
        Author::Human { user_id: Some(id) } => format!("Staff ({id})"),
        Author::Human { user_id: None } => "Staff".into(),
        Author::System => "System".into(),
    }
}

pub fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// Money in minor units as a decimal amount: `4500` GBP is `45.00`. Zero
/// exponent currencies (JPY, KRW, ...) have no minor unit.
pub fn money(amount_minor: i64, currency: &str) -> String {
    const ZERO_DECIMAL: [&str; 16] = [
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ];
    if ZERO_DECIMAL.contains(&currency.to_ascii_uppercase().as_str()) {
        return amount_minor.to_string();
    }
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

impl Entry {
    /// The entry an event shows as, or `None` for what a conversation
    /// export leaves out: stage changes and identity links always, notes
    /// unless `include_notes`.
    pub fn from_event(event: &TimelineEvent, tz: Tz, include_notes: bool) -> Option<Entry> {
        let channel = event.channel.map(channel_label).unwrap_or_default();
        let entry = |kind, direction: &str, author: String, text: String| Entry {
            kind,
            at: local_time(event.occurred_at, tz),
            channel: channel.to_string(),
            direction: direction.to_string(),
            author,
            status: String::new(),
            text,
            attachments: Vec::new(),
            deleted: false,
        };
        match &event.detail {
            EventDetail::Message(m) => {
                let text = if m.deleted {
                    DELETED_MESSAGE.to_string()
                } else {
                    m.full_body
                        .clone()
                        .or_else(|| m.body.clone())
                        .unwrap_or_default()
                };
                let mut e = entry(
                    EntryKind::Message,
                    direction_label(m.direction),
                    author_label(&m.author),
                    text,
                );
                e.status = m.status.map(|s| s.as_str()).unwrap_or_default().into();
                e.deleted = m.deleted;
                if !m.deleted {
                    e.attachments = m
                        .attachments
                        .iter()
                        .map(|a| match a.filename.as_deref().or(a.caption.as_deref()) {
                            Some(name) => format!("{}: {name}", a.kind),
                            None => a.kind.clone(),
                        })
                        .collect();
                }
                Some(e)
            }
            EventDetail::Call(c) => {
                let mut text = format!("Call {}: {}", direction_label(c.direction), c.status);
                if let Some(secs) = c.duration_secs {
                    text.push_str(&format!(", {}:{:02}", secs / 60, secs % 60));
                }
                Some(entry(
                    EntryKind::Call,
                    direction_label(c.direction),
                    String::new(),
                    text,
                ))
            }
            EventDetail::Booking(b) => {
                let mut text = format!("Booking {}", b.status);
                if let Some(service) = &b.service {
                    text.push_str(&format!(": {service}"));
                }
                if let Some(starts) = b.starts_at {
                    text.push_str(&format!(" at {}", local_time(starts, tz)));
                }
                Some(entry(EntryKind::Booking, "", String::new(), text))
            }
            EventDetail::Payment(p) => {
                let mut text = format!(
                    "Payment {}: {} {}",
                    p.status,
                    money(p.amount_minor, &p.currency),
                    p.currency.to_ascii_uppercase()
                );
                if let Some(refunded) = p.refunded_minor.filter(|r| *r != 0) {
                    text.push_str(&format!(", refunded {}", money(refunded, &p.currency)));
                }
                if let Some(description) = &p.description {
                    text.push_str(&format!(" ({description})"));
                }
                Some(entry(EntryKind::Payment, "", String::new(), text))
            }
            EventDetail::Note(n) if include_notes => Some(entry(
                EntryKind::Note,
                "",
                author_label(&Author::Human {
                    user_id: Some(n.author_user_id.clone()),
                }),
                format!("Internal note: {}", n.body),
            )),
            EventDetail::Note(_) | EventDetail::StageChange(_) | EventDetail::IdentityLink(_) => {
                None
            }
        }
    }
}

impl Document {
    /// The conversation as plain UTF-8 text: a header, then one block per
    /// entry separated by blank lines.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Conversation with {} ({})\nBusiness: {}\nPeriod: {}\nTimes: {}\nGenerated: {}\n",
            self.contact,
            self.contact_id,
            self.business,
            self.period,
            self.timezone,
            self.generated_at
        );
        for entry in &self.entries {
            out.push('\n');
            out.push_str(&entry.to_text());
        }
        out
    }
}

impl Entry {
    /// `[2026-10-21 09:14:01 +01:00] WhatsApp · inbound · Customer · read`,
    /// then a message's text on the next lines; anything else on that one line.
    pub fn to_text(&self) -> String {
        let labels: Vec<&str> = [
            self.channel.as_str(),
            self.direction.as_str(),
            self.author.as_str(),
            self.status.as_str(),
        ]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
        let head = format!("[{}] {}", self.at, labels.join(" · "));
        if self.kind != EntryKind::Message {
            return format!("{} · {}\n", head.trim_end(), self.text);
        }
        let mut out = format!("{head}\n{}\n", self.text);
        for attachment in &self.attachments {
            out.push_str(&format!("(attachment: {attachment})\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Call, DeliveryStatus, Message, Note, Payment};

    fn event(detail: EventDetail) -> TimelineEvent {
        let at = "2026-10-21T08:14:01Z".parse().unwrap();
        TimelineEvent {
            event_id: "01J".into(),
            contact_id: "C".into(),
            occurred_at: at,
            recorded_at: at,
            channel: Some(Channel::Whatsapp),
            provider: None,
            provider_ref: None,
            detail,
        }
    }

    #[test]
    fn a_message_shows_local_time_author_status_and_text() {
        let mut m = Message::outbound(
            Author::Human {
                user_id: Some("u-7".into()),
            },
            Some("See you at 3".into()),
            Vec::new(),
        );
        m.status = Some(DeliveryStatus::Read);
        let tz: Tz = "Europe/London".parse().unwrap();
        let e = Entry::from_event(&event(EventDetail::Message(m)), tz, false).unwrap();
        assert_eq!(e.at, "2026-10-21 09:14:01 +01:00");
        assert_eq!(
            e.to_text(),
            "[2026-10-21 09:14:01 +01:00] WhatsApp · outbound · Staff (u-7) · read\nSee you at 3\n"
        );
    }

    #[test]
    fn an_unsent_message_shows_deleted_not_its_text() {
        let mut m = Message::inbound(Some("secret".into()), Vec::new());
        m.deleted = true;
        let e = Entry::from_event(&event(EventDetail::Message(m)), Tz::UTC, false).unwrap();
        assert_eq!(e.text, DELETED_MESSAGE);
        assert!(!e.to_text().contains("secret"));
    }

    #[test]
    fn notes_only_when_asked_and_stage_changes_never() {
        let note = event(EventDetail::Note(Note {
            author_user_id: "u-1".into(),
            body: "VIP".into(),
        }));
        assert!(Entry::from_event(&note, Tz::UTC, false).is_none());
        let shown = Entry::from_event(&note, Tz::UTC, true).unwrap();
        assert_eq!(shown.text, "Internal note: VIP");
    }

    #[test]
    fn calls_and_payments_are_one_line() {
        let call = event(EventDetail::Call(Call {
            direction: Direction::Inbound,
            status: "completed".into(),
            duration_secs: Some(125),
            recording_url: None,
        }));
        let e = Entry::from_event(&call, Tz::UTC, false).unwrap();
        assert_eq!(e.text, "Call inbound: completed, 2:05");
        let payment = event(EventDetail::Payment(Payment {
            payment_id: "pi".into(),
            status: "succeeded".into(),
            amount_minor: 4500,
            currency: "gbp".into(),
            refunded_minor: Some(-0),
            description: None,
        }));
        let e = Entry::from_event(&payment, Tz::UTC, false).unwrap();
        assert_eq!(e.text, "Payment succeeded: 45.00 GBP");
        assert!(!e.to_text().trim_end().contains('\n'));
    }

    #[test]
    fn money_respects_zero_decimal_currencies_and_signs() {
        assert_eq!(money(4500, "gbp"), "45.00");
        assert_eq!(money(-5, "eur"), "-0.05");
        assert_eq!(money(1200, "JPY"), "1200");
    }
}
