//! Amazon SES inbound e-mail, delivered by an SES receipt rule's SNS action
//! to an SNS HTTP(S) subscription.
//!
//! The body is the SNS envelope (see [`super::sns`]; the caller has already
//! checked its signature, certificate URL, topic and timestamp). Its
//! `Message` is a JSON document in a string: the SES notification, whose
//! `content` is the raw MIME message (base64 when the action's encoding is
//! `BASE64`, else UTF-8 text).
//!
//! Conventions for the canonical message:
//! * `provider_message_id` is the RFC 5322 `Message-ID` without `<>`, so the
//!   same mail seen through another provider (Postmark) is the same message;
//!   SES's own `mail.messageId` when the header is missing, longer than 255
//!   bytes or not printable ASCII.
//! * `occurred_at` is `mail.timestamp` (when SES received the mail). The
//!   sender's `Date` header is the sender's clock and is not used.
//! * [`Message`] has no subject field, so a non-empty subject is the first line
//!   of the body: `"Subject: <subject>\n\n<text>"` (just `"Subject: <subject>"`
//!   when there is no text). The Postmark adapter follows the same convention.
//! * The body is the first text/plain part, else the first HTML part
//!   converted to text; line endings become `\n`. Quoted replies are kept.
//! * Attachments are metadata only (kind, file name, MIME type), never content.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders as _};
use serde::Deserialize;

use super::sns::{name_missing_field, parse_envelope};
use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, from_json};
use crate::identity::Identity;
use crate::model::{Attachment, Author, Channel, Direction, EmailThread, Message, Provider};

/// Longest RFC `Message-ID` used as the provider id (real ones are < 100).
const MAX_MESSAGE_ID_LEN: usize = 255;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesNotification {
    notification_type: Option<String>,
    /// SES event publishing (configuration sets) names its kind here instead.
    event_type: Option<String>,
    mail: Option<Mail>,
    receipt: Option<Receipt>,
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    timestamp: Option<String>,
    /// SES's id (also the S3 object key), not the RFC Message-ID.
    message_id: Option<String>,
    /// Envelope sender (MAIL FROM).
    source: Option<String>,
}

#[derive(Deserialize)]
struct Receipt {
    action: Option<Action>,
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "type")]
    kind: Option<String>,
    encoding: Option<String>,
}

/// What is read from a raw MIME message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedEmail {
    /// The `From` address as written (not normalized).
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    /// `To` addresses, as written.
    pub to: Vec<String>,
    pub subject: Option<String>,
    /// RFC `Message-ID` without `<>`.
    pub message_id: Option<String>,
    /// `In-Reply-To` ids without `<>` (for threading to our outbound mail).
    pub in_reply_to: Vec<String>,
    /// `References` ids without `<>`, oldest first.
    pub references: Vec<String>,
    /// The text body (HTML converted when there is no text part), `\n` line
    /// endings, trimmed; `None` when empty.
    pub text: Option<String>,
    /// Metadata of the attachments; their content is never kept.
    pub attachments: Vec<Attachment>,
}

/// Parses a verified SNS delivery. A `Notification` whose SES
/// `notificationType` is `Received` gives one inbound e-mail message; other
/// notification types (bounces, the rule's setup notification, ...) and
/// subscription/unsubscribe confirmations give no events (the caller
/// confirms subscriptions itself).
pub fn parse(body: &[u8], _ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let envelope = parse_envelope(body)?;
    match envelope.kind.as_str() {
        "Notification" => {}
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => return Ok(Vec::new()),
        other => {
            return Err(ParseError::new(
                "Type",
                format!("unknown SNS message type '{other}'"),
            ));
        }
    }
    let ses: SesNotification = from_json(envelope.message.as_bytes())
        .map_err(name_missing_field)
        .map_err(|e| {
            let field = if e.field == "body" {
                "Message".to_string()
            } else if e.field.starts_with('[') {
                format!("Message{}", e.field)
            } else {
                format!("Message.{}", e.field)
            };
            ParseError::new(field, e.detail)
        })?;
    let kind = ses
        .notification_type
        .as_deref()
        .or(ses.event_type.as_deref())
        .ok_or_else(|| ParseError::new("Message.notificationType", "missing"))?;
    if kind != "Received" {
        return Ok(Vec::new());
    }

    let mail = ses
        .mail
        .as_ref()
        .ok_or_else(|| ParseError::new("Message.mail", "missing"))?;
    let timestamp = mail
        .timestamp
        .as_deref()
        .ok_or_else(|| ParseError::new("Message.mail.timestamp", "missing"))?;
    let received_at = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|e| {
            ParseError::new(
                "Message.mail.timestamp",
                format!("'{timestamp}' is not an ISO-8601 time: {e}"),
            )
        })?
        .with_timezone(&Utc);
    let ses_message_id = mail
        .message_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| ParseError::new("Message.mail.messageId", "missing"))?;

    let action = ses.receipt.as_ref().and_then(|r| r.action.as_ref());
    let raw = raw_content(ses.content.as_deref(), action)?;
    let email = parse_mime(&raw)?;
    let message = incoming_message(&email, ses_message_id, received_at, mail.source.as_deref())?;
    Ok(vec![CanonicalEvent::Message(message)])
}

/// The raw MIME bytes of `content`, decoded as the receipt action says.
fn raw_content(content: Option<&str>, action: Option<&Action>) -> Result<Vec<u8>, ParseError> {
    let Some(content) = content else {
        let detail = match action.and_then(|a| a.kind.as_deref()) {
            Some("S3") => {
                "missing: the receipt action is S3, so the mail is in the bucket \
                 (fetch it and use parse_mime + incoming_message)"
            }
            _ => "missing",
        };
        return Err(ParseError::new("Message.content", detail));
    };
    match action.and_then(|a| a.encoding.as_deref()) {
        Some(enc) if enc.eq_ignore_ascii_case("BASE64") => {
            let compact: Vec<u8> = content
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            STANDARD
                .decode(compact)
                .map_err(|e| ParseError::new("Message.content", format!("invalid base64: {e}")))
        }
        // SES's default encoding is UTF-8 text.
        None => Ok(content.as_bytes().to_vec()),
        Some(enc) if enc.eq_ignore_ascii_case("UTF8") || enc.eq_ignore_ascii_case("UTF-8") => {
            Ok(content.as_bytes().to_vec())
        }
        Some(other) => Err(ParseError::new(
            "Message.receipt.action.encoding",
            format!("unknown encoding '{other}' (expected BASE64 or UTF8)"),
        )),
    }
}

/// Reads a raw RFC 5322 / MIME message (multipart, quoted-printable, base64,
/// RFC 2047 words, common charsets).
pub fn parse_mime(raw: &[u8]) -> Result<ParsedEmail, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::new("Message.content", "empty message"));
    }
    let parsed = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| ParseError::new("Message.content", "not a MIME message"))?;

    let from = parsed.from().and_then(|a| a.first());
    let from_address = from
        .and_then(|a| a.address())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let from_name = from
        .and_then(|a| a.name())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let to = parsed
        .to()
        .map(|list| {
            list.iter()
                .filter_map(|a| a.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let subject = parsed
        .subject()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let message_id = parsed
        .message_id()
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    let text = parsed
        .body_text(0)
        .map(|t| t.replace("\r\n", "\n").trim().to_string())
        .filter(|t| !t.is_empty());
    let attachments = parsed
        .attachments()
        .map(|part| {
            let content_type = part.content_type();
            let mime_type = content_type.map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            });
            let kind = match content_type.map(|ct| ct.ctype().to_ascii_lowercase()) {
                Some(t) if matches!(t.as_str(), "image" | "video" | "audio") => t,
                _ => "file".to_string(),
            };
            Attachment {
                kind,
                mime_type,
                filename: part
                    .attachment_name()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
                ..Attachment::default()
            }
        })
        .collect();

    Ok(ParsedEmail {
        from_address,
        from_name,
        to,
        subject,
        message_id,
        in_reply_to: message_ids(parsed.in_reply_to()),
        references: message_ids(parsed.references()),
        text,
        attachments,
    })
}

fn message_ids(value: &HeaderValue) -> Vec<String> {
    let ids: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    ids.into_iter()
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

/// The canonical inbound message for a parsed e-mail that SES received at
/// `received_at` under its id `ses_message_id`. The customer is the `From`
/// address, else the envelope sender (`mail.source`) when it is an address.
pub fn incoming_message(
    email: &ParsedEmail,
    ses_message_id: &str,
    received_at: DateTime<Utc>,
    envelope_sender: Option<&str>,
) -> Result<IncomingMessage, ParseError> {
    let customer = match email.from_address.as_deref() {
        Some(from) => Identity::email(from)
            .map_err(|e| ParseError::new("Message.content.From", e.to_string()))?,
        None => envelope_sender
            .and_then(|s| {
                Identity::email(s.trim().trim_start_matches('<').trim_end_matches('>')).ok()
            })
            .ok_or_else(|| {
                ParseError::new(
                    "Message.content.From",
                    "missing, and mail.source is not an address",
                )
            })?,
    };
    Ok(IncomingMessage {
        provider: Provider::Ses,
        provider_message_id: email
            .message_id
            .as_deref()
            .filter(|id| usable_message_id(id))
            .unwrap_or(ses_message_id)
            .to_string(),
        channel: Channel::Email,
        customer,
        customer_name: email.from_name.clone(),
        linked_identities: Vec::new(),
        occurred_at: received_at,
        message: Message {
            direction: Direction::Inbound,
            author: Author::Customer,
            body: body_with_subject(email.subject.as_deref(), email.text.as_deref()),
            attachments: email.attachments.clone(),
            status: None,
            status_at: None,
            status_error: None,
            deleted: false,
            source: None,
            thread: Some(EmailThread {
                message_id: email.message_id.clone(),
                in_reply_to: email.in_reply_to.clone(),
                references: email.references.clone(),
                subject: email.subject.clone(),
            }),
            truncated: false,
        },
    })
}

/// A sender-chosen `Message-ID` becomes part of a storage key: refuse
/// oversized or odd ones (SES's id is used instead).
fn usable_message_id(id: &str) -> bool {
    id.len() <= MAX_MESSAGE_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// `"Subject: <subject>\n\n<text>"`, see the module doc.
fn body_with_subject(subject: Option<&str>, text: Option<&str>) -> Option<String> {
    match (subject, text) {
        (Some(s), Some(t)) => Some(format!("Subject: {s}\n\n{t}")),
        (Some(s), None) => Some(format!("Subject: {s}")),
        (None, Some(t)) => Some(t.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;

    const NOTIFICATION: &[u8] = include_bytes!("../../../tests/fixtures/ses_sns/notification.json");
    const SUBSCRIPTION: &[u8] =
        include_bytes!("../../../tests/fixtures/ses_sns/subscription_confirmation.json");
    const RAW_EMAIL: &[u8] = include_bytes!("../../../tests/fixtures/ses_sns/raw_email.eml");

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: DateTime::parse_from_rfc3339("2026-10-25T20:41:04Z")
                .unwrap()
                .with_timezone(&Utc),
            default_region: None,
        }
    }

    fn envelope() -> serde_json::Value {
        serde_json::from_slice(NOTIFICATION).unwrap()
    }

    fn ses_of(env: &serde_json::Value) -> serde_json::Value {
        serde_json::from_str(env["Message"].as_str().unwrap()).unwrap()
    }

    /// The fixture envelope with its SES notification changed by `edit`.
    fn with_ses(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut env = envelope();
        let mut ses = ses_of(&env);
        edit(&mut ses);
        env["Message"] = serde_json::Value::String(ses.to_string());
        serde_json::to_vec(&env).unwrap()
    }

    /// The fixture envelope carrying `mime` as UTF8 content.
    fn with_mime(mime: &str) -> Vec<u8> {
        with_ses(|ses| {
            ses["receipt"]["action"]["encoding"] = "UTF8".into();
            ses["content"] = mime.into();
        })
    }

    fn only_message(events: Vec<CanonicalEvent>) -> IncomingMessage {
        match events.as_slice() {
            [CanonicalEvent::Message(m)] => m.clone(),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    #[test]
    fn fixture_content_is_the_raw_email() {
        let ses = ses_of(&envelope());
        let decoded = STANDARD.decode(ses["content"].as_str().unwrap()).unwrap();
        assert_eq!(decoded, RAW_EMAIL);
    }

    #[test]
    fn received_notification_gives_mayas_email() {
        let m = only_message(parse(NOTIFICATION, &ctx()).unwrap());
        assert_eq!(m.provider, Provider::Ses);
        assert_eq!(m.channel, Channel::Email);
        assert_eq!(
            m.provider_message_id,
            "CAH7mK2pQ-9xLr4TzW8vNy3bFj1sDq6Ue0@mail.example.com"
        );
        assert_eq!(m.customer.kind, IdentityKind::Email);
        assert_eq!(m.customer.value, "maya.lopez@example.com");
        assert_eq!(m.customer_name.as_deref(), Some("Maya Lopez"));
        assert!(m.linked_identities.is_empty());
        // SES's receive time, not the sender's Date header (20:40:58).
        assert_eq!(m.occurred_at.to_rfc3339(), "2026-10-25T20:41:01.864+00:00");
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        let body = m.message.body.unwrap();
        assert!(
            body.starts_with(
                "Subject: Re: Your balayage appointment on Saturday\n\n\
                 Thanks! Can I rebook?\n\n\
                 Same again in about 8 weeks would be perfect \u{2014} maybe a Saturday afternoon?\n\n\
                 Maya\n"
            ),
            "{body}"
        );
        // Soft line breaks and UTF-8 from quoted-printable are decoded.
        assert!(body.contains("On Sun, 25 Oct 2026 at 09:00, Lumi\u{e8}re Hair Studio <hello@lumierehair.example> wrote:"));
        assert!(!body.contains('\r'));
        assert!(!body.contains("<div"));
        assert_eq!(
            m.message.attachments,
            vec![Attachment {
                kind: "image".into(),
                mime_type: Some("image/png".into()),
                filename: Some("after.png".into()),
                ..Attachment::default()
            }]
        );
        assert_eq!(m.message.status, None);
        assert!(!m.message.deleted);
    }

    #[test]
    fn mime_headers_are_read() {
        let email = parse_mime(RAW_EMAIL).unwrap();
        assert_eq!(
            email.from_address.as_deref(),
            Some("maya.lopez@example.com")
        );
        assert_eq!(email.from_name.as_deref(), Some("Maya Lopez"));
        assert_eq!(email.to, vec!["hello+bk4830@lumierehair.example"]);
        assert_eq!(
            email.subject.as_deref(),
            Some("Re: Your balayage appointment on Saturday")
        );
        assert_eq!(
            email.message_id.as_deref(),
            Some("CAH7mK2pQ-9xLr4TzW8vNy3bFj1sDq6Ue0@mail.example.com")
        );
        let parent = "0102019a2f4c7e1b-3c9d4a55-visit-4830-000000@email.lumierehair.example";
        assert_eq!(email.in_reply_to, vec![parent]);
        assert_eq!(email.references, vec![parent]);
        assert_eq!(email.attachments.len(), 1);
    }

    #[test]
    fn utf8_content_is_parsed_as_is() {
        let raw = std::str::from_utf8(RAW_EMAIL).unwrap();
        let from_utf8 = only_message(parse(&with_mime(raw), &ctx()).unwrap());
        let from_base64 = only_message(parse(NOTIFICATION, &ctx()).unwrap());
        assert_eq!(from_utf8, from_base64);
    }

    #[test]
    fn base64_content_may_be_wrapped() {
        let body = with_ses(|ses| {
            let wrapped: String = ses["content"]
                .as_str()
                .unwrap()
                .as_bytes()
                .chunks(76)
                .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
                .collect();
            ses["content"] = wrapped.into();
        });
        let m = only_message(parse(&body, &ctx()).unwrap());
        assert_eq!(m.customer.value, "maya.lopez@example.com");
    }

    #[test]
    fn html_only_mail_is_converted_to_text() {
        let mime = "From: =?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <Jose.Perez@Example.COM>\r\n\
            To: hello@lumierehair.example\r\n\
            Subject: =?UTF-8?B?Q2l0YSBwYXJhIGVsIHPDoWJhZG8=?=\r\n\
            Message-ID: <html-only-1@example.com>\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: text/html; charset=UTF-8\r\n\
            \r\n\
            <html><body><p>Hola,</p><p>\u{bf}Ten&eacute;is hueco el <b>s&aacute;bado</b>?</p></body></html>\r\n";
        let m = only_message(parse(&with_mime(mime), &ctx()).unwrap());
        assert_eq!(m.customer.value, "jose.perez@example.com");
        assert_eq!(m.customer_name.as_deref(), Some("Jos\u{e9} P\u{e9}rez"));
        assert_eq!(m.provider_message_id, "html-only-1@example.com");
        let body = m.message.body.unwrap();
        assert!(
            body.starts_with("Subject: Cita para el s\u{e1}bado\n\nHola,"),
            "{body}"
        );
        assert!(
            body.contains("\u{bf}Ten\u{e9}is hueco el s\u{e1}bado?"),
            "{body}"
        );
        assert!(!body.contains('<'), "{body}");
        assert!(m.message.attachments.is_empty());
    }

    #[test]
    fn fixture_without_its_text_part_falls_back_to_html() {
        let raw = std::str::from_utf8(RAW_EMAIL).unwrap();
        let start = raw
            .find("--000000000000alt4830\r\nContent-Type: text/plain")
            .unwrap();
        let end = raw
            .find("--000000000000alt4830\r\nContent-Type: text/html")
            .unwrap();
        let html_only = format!("{}{}", &raw[..start], &raw[end..]);
        let email = parse_mime(html_only.as_bytes()).unwrap();
        let text = email.text.unwrap();
        // mail-parser's HTML to text: one line per block, entities decoded.
        assert_eq!(
            text,
            "Thanks! Can I rebook?\n\
             Same again in about 8 weeks would be perfect \u{2014} maybe a Saturday afternoon?\n\
             Maya\n\
             On Sun, 25 Oct 2026 at 09:00, Lumi\u{e8}re Hair Studio <hello@lumierehair.example> wrote:\n\
             Hi Maya, thank you for visiting us yesterday!"
        );
        assert!(!text.contains("<div"), "{text:?}");
        assert_eq!(email.attachments.len(), 1);
    }

    #[test]
    fn latin1_and_attachment_kinds() {
        let mime = "From: sam@example.org\r\n\
            Subject: files\r\n\
            Content-Type: multipart/mixed; boundary=b\r\n\
            \r\n\
            --b\r\n\
            Content-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\
            \r\n\
            Voil=E0 les fichiers\r\n\
            --b\r\n\
            Content-Type: application/pdf; name=\"quote.pdf\"\r\n\
            Content-Disposition: attachment; filename=\"quote.pdf\"\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            JVBERi0xLjQK\r\n\
            --b\r\n\
            Content-Type: video/mp4\r\n\
            Content-Disposition: attachment; filename*=UTF-8''clip%C3%A9.mp4\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            AAAA\r\n\
            --b\r\n\
            Content-Type: audio/ogg\r\n\
            Content-Disposition: attachment\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            AAAA\r\n\
            --b--\r\n";
        let m = only_message(parse(&with_mime(mime), &ctx()).unwrap());
        assert_eq!(
            m.message.body.as_deref(),
            Some("Subject: files\n\nVoil\u{e0} les fichiers")
        );
        // No Message-ID header: SES's id.
        assert_eq!(
            m.provider_message_id,
            "8t3kq9v0m2b7c1n5x4z6l8p0r2f4h6j8d0s2a4g6"
        );
        assert_eq!(m.customer_name, None);
        let kinds: Vec<(&str, Option<&str>, Option<&str>)> = m
            .message
            .attachments
            .iter()
            .map(|a| {
                (
                    a.kind.as_str(),
                    a.filename.as_deref(),
                    a.mime_type.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("file", Some("quote.pdf"), Some("application/pdf")),
                ("video", Some("clip\u{e9}.mp4"), Some("video/mp4")),
                ("audio", None, Some("audio/ogg")),
            ]
        );
        assert!(
            m.message
                .attachments
                .iter()
                .all(|a| a.url.is_none() && a.media_id.is_none() && a.caption.is_none())
        );
    }

    #[test]
    fn odd_message_ids_fall_back_to_the_ses_id() {
        let long = format!("<{}@example.com>", "x".repeat(300));
        for id in [long.as_str(), "<a b@example.com>", "<>"] {
            let mime = format!("From: a@example.com\r\nMessage-ID: {id}\r\n\r\nhi\r\n");
            let m = only_message(parse(&with_mime(&mime), &ctx()).unwrap());
            assert_eq!(
                m.provider_message_id, "8t3kq9v0m2b7c1n5x4z6l8p0r2f4h6j8d0s2a4g6",
                "{id}"
            );
        }
    }

    #[test]
    fn subject_only_and_body_only() {
        let m = only_message(
            parse(
                &with_mime("From: a@example.com\r\nSubject: Call me\r\n\r\n"),
                &ctx(),
            )
            .unwrap(),
        );
        assert_eq!(m.message.body.as_deref(), Some("Subject: Call me"));

        let m = only_message(
            parse(
                &with_mime("From: a@example.com\r\n\r\nJust text\r\n"),
                &ctx(),
            )
            .unwrap(),
        );
        assert_eq!(m.message.body.as_deref(), Some("Just text"));
    }

    #[test]
    fn missing_from_falls_back_to_the_envelope_sender() {
        let m = only_message(parse(&with_mime("Subject: hi\r\n\r\nbody\r\n"), &ctx()).unwrap());
        assert_eq!(m.customer.value, "maya.lopez@example.com");

        let body = with_ses(|ses| {
            ses["receipt"]["action"]["encoding"] = "UTF8".into();
            ses["content"] = "Subject: hi\r\n\r\nbody\r\n".into();
            ses["mail"]["source"] = "".into();
        });
        assert_eq!(
            parse(&body, &ctx()).unwrap_err().field,
            "Message.content.From"
        );
    }

    #[test]
    fn confirmations_and_other_notifications_give_no_events() {
        assert!(parse(SUBSCRIPTION, &ctx()).unwrap().is_empty());

        let mut env: serde_json::Value = serde_json::from_slice(SUBSCRIPTION).unwrap();
        env["Type"] = "UnsubscribeConfirmation".into();
        assert!(
            parse(&serde_json::to_vec(&env).unwrap(), &ctx())
                .unwrap()
                .is_empty()
        );

        for kind in ["Bounce", "Complaint", "AMAZON_SES_SETUP_NOTIFICATION"] {
            let body = with_ses(|ses| {
                ses["notificationType"] = kind.into();
                ses.as_object_mut().unwrap().remove("content");
            });
            assert!(parse(&body, &ctx()).unwrap().is_empty(), "{kind}");
        }
        let body = with_ses(|ses| {
            ses.as_object_mut().unwrap().remove("notificationType");
            ses["eventType"] = "Delivery".into();
        });
        assert!(parse(&body, &ctx()).unwrap().is_empty());
    }

    #[test]
    fn malformed_deliveries_name_the_field() {
        let field = |body: &[u8]| parse(body, &ctx()).unwrap_err().field;

        assert_eq!(field(b"not json"), "body");

        let mut env = envelope();
        env["Type"] = "Surprise".into();
        assert_eq!(field(&serde_json::to_vec(&env).unwrap()), "Type");

        let mut env = envelope();
        env.as_object_mut().unwrap().remove("Message");
        assert_eq!(field(&serde_json::to_vec(&env).unwrap()), "Message");

        let mut env = envelope();
        env["Message"] = "Successfully validated SNS topic".into();
        assert_eq!(field(&serde_json::to_vec(&env).unwrap()), "Message");

        let mut env = envelope();
        env["Message"] = "[1, 2]".into();
        assert_eq!(field(&serde_json::to_vec(&env).unwrap()), "Message[0]");

        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "Message.notificationType",
                Box::new(|s| {
                    s.as_object_mut().unwrap().remove("notificationType");
                }),
            ),
            (
                "Message.mail",
                Box::new(|s| {
                    s.as_object_mut().unwrap().remove("mail");
                }),
            ),
            (
                "Message.mail.timestamp",
                Box::new(|s| {
                    s["mail"].as_object_mut().unwrap().remove("timestamp");
                }),
            ),
            (
                "Message.mail.timestamp",
                Box::new(|s| s["mail"]["timestamp"] = "Sun, 25 Oct 2026 20:41:01".into()),
            ),
            (
                "Message.mail.timestamp",
                Box::new(|s| s["mail"]["timestamp"] = 1792960861.into()),
            ),
            (
                "Message.mail.messageId",
                Box::new(|s| {
                    s["mail"].as_object_mut().unwrap().remove("messageId");
                }),
            ),
            (
                "Message.content",
                Box::new(|s| {
                    s.as_object_mut().unwrap().remove("content");
                }),
            ),
            (
                "Message.content",
                Box::new(|s| s["content"] = "!!not base64!!".into()),
            ),
            ("Message.content", Box::new(|s| s["content"] = "".into())),
            (
                "Message.content",
                Box::new(|s| s["content"] = serde_json::Value::Null),
            ),
            (
                "Message.receipt.action.encoding",
                Box::new(|s| s["receipt"]["action"]["encoding"] = "GZIP".into()),
            ),
            (
                "Message.content.From",
                Box::new(|s| {
                    s["receipt"]["action"]["encoding"] = "UTF8".into();
                    s["content"] = "From: Bob <bob@localhost>\r\n\r\nhi\r\n".into();
                }),
            ),
        ];
        for (expected, edit) in cases {
            let err = parse(&with_ses(edit), &ctx()).unwrap_err();
            assert_eq!(err.field, expected, "{err}");
        }
    }

    #[test]
    fn s3_action_without_content_says_why() {
        let body = with_ses(|s| {
            s.as_object_mut().unwrap().remove("content");
            s["receipt"]["action"] = serde_json::json!({
                "type": "S3",
                "topicArn": "arn:aws:sns:eu-west-1:123456789012:ses-inbound-lumiere",
                "bucketName": "inbound",
                "objectKey": "8t3kq9v0m2b7c1n5x4z6l8p0r2f4h6j8d0s2a4g6"
            });
        });
        let err = parse(&body, &ctx()).unwrap_err();
        assert_eq!(err.field, "Message.content");
        assert!(err.detail.contains("S3"), "{err}");
    }

    #[test]
    fn garbage_mime_does_not_panic() {
        for raw in [
            &b"\x00\x01\x02"[..],
            b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--",
            b"From: <>\r\n\r\n",
            b"\xff\xfe\xfd: \xff\r\n\r\n\xff",
            b"From: a@example.com\r\nContent-Type: multipart/alternative\r\n\r\nno boundary",
        ] {
            let _ = parse_mime(raw);
        }
        assert!(parse_mime(b"").is_err());
        assert!(parse_mime(b" \r\n").is_err());
    }
}
