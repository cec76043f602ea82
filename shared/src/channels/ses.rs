//! Amazon SES inbound e-mail, delivered by an SES receipt rule's SNS action
//! to an SNS HTTP(S) subscription.
//!
//! The body is the SNS envelope (see [`super::sns`]; the caller has already
//! checked its signature, certificate URL, topic and timestamp). Its
//! `Message` is a JSON document in a string: the SES notification, whose
//! `content` is the raw MIME message (base64 when the action's encoding is
//! `BASE64`, else UTF-8 text).
//!
//! Conventions for the canonical message (shared with Postmark's adapter:
//! see [`super::email`]):
//! * `provider_message_id` is the RFC 5322 `Message-ID` without `<>`, so a
//!   redelivery, or the same mail received twice, is one message; SES's own
//!   `mail.messageId` when the header is missing or not an acceptable id
//!   ([`email::message_id`]). The provider is part of the stored key, so a
//!   mail that reached the tenant through both SES and Postmark is two
//!   messages, one per connection.
//! * `occurred_at` is `mail.timestamp` (when SES received the mail). The
//!   sender's `Date` header is the sender's clock and is not used.
//! * [`Message`] has no subject field, so a non-empty subject is the first line
//!   of the body: `"Subject: <subject>\n\n<text>"` (just `"Subject: <subject>"`
//!   when there is no text).
//! * The text is the first text/plain part, else the first HTML part
//!   converted to text; line endings become `\n`. `body` is the reply
//!   without the quoted history below it; `full_body` keeps the whole text
//!   when that differs.
//! * Attachments are metadata only (kind, file name, MIME type), never content.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders as _, PartType};
use serde::Deserialize;

use super::email::{self, EmailText};
use super::sns::{name_missing_field, parse_envelope};
use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, from_json};
use crate::identity::Identity;
use crate::model::{Attachment, Channel, EmailThread, Message, Provider};

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
#[serde(rename_all = "camelCase")]
struct Receipt {
    action: Option<Action>,
    spf_verdict: Option<Verdict>,
    dmarc_verdict: Option<Verdict>,
}

/// `{"status": "PASS" | "FAIL" | "GRAY" | "PROCESSING_FAILED"}`.
#[derive(Deserialize)]
struct Verdict {
    status: Option<String>,
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
    /// RFC `Message-ID` without `<>`, when acceptable ([`email::message_id`]).
    pub message_id: Option<String>,
    /// Acceptable `In-Reply-To` ids without `<>` (for threading to our
    /// outbound mail).
    pub in_reply_to: Vec<String>,
    /// Acceptable `References` ids without `<>`, oldest first.
    pub references: Vec<String>,
    /// The text body (HTML converted when there is no text part), `\n` line
    /// endings, trimmed; `None` when empty.
    pub text: Option<String>,
    /// `text` without the quoted history below the reply.
    pub reply: Option<String>,
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
    // SES's id is the fallback key: held to the rule for RFC ids.
    if !email::is_acceptable(ses_message_id) {
        return Err(ParseError::new(
            "Message.mail.messageId",
            "not an id (printable ASCII without '#', at most 250 bytes)",
        ));
    }

    let action = ses.receipt.as_ref().and_then(|r| r.action.as_ref());
    let raw = raw_content(ses.content.as_deref(), action)?;
    let email = parse_mime(&raw)?;
    let mut message =
        incoming_message(&email, ses_message_id, received_at, mail.source.as_deref())?;
    if let Some(thread) = message.message.thread.as_mut() {
        let receipt = ses.receipt.as_ref();
        thread.sender_authentication = crate::identity::email_sender_authentication(
            receipt.and_then(|r| r.dmarc_verdict.as_ref()?.status.as_deref()),
            receipt.and_then(|r| r.spf_verdict.as_ref()?.status.as_deref()),
            mail.source.as_deref(),
            email.from_address.as_deref(),
        );
    }
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
    let from_name = email::display_name(from.and_then(|a| a.name()));
    let to = parsed
        .to()
        .map(|list| {
            list.iter()
                .filter_map(|a| a.address())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let subject = parsed.subject().and_then(email::subject);
    // The raw header values, read by the same rules as Postmark's headers.
    let headers = |name: &'static str| {
        parsed
            .headers_raw()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    let message_id = headers("Message-ID")
        .next()
        .and_then(email::message_id)
        .map(str::to_string);
    // The first inline body part: text/plain, or HTML when that is all
    // there is (mail-parser's own HTML conversion is not used, so both
    // adapters convert alike).
    let text = match parsed.text_part(0).map(|part| &part.body) {
        Some(PartType::Text(plain)) => email::email_text(Some(plain), None),
        Some(PartType::Html(html)) => email::email_text(None, Some(html)),
        _ => EmailText::default(),
    };
    let attachments = parsed
        .attachments()
        .map(|part| {
            let mime_type = part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            });
            email::attachment(part.attachment_name(), mime_type.as_deref())
        })
        .collect();

    Ok(ParsedEmail {
        from_address,
        from_name,
        to,
        subject,
        message_id,
        in_reply_to: email::thread_ids(headers("In-Reply-To")),
        references: email::thread_ids(headers("References")),
        text: text.full,
        reply: text.reply,
        attachments,
    })
}

/// The canonical inbound message for a parsed e-mail that SES received at
/// `received_at` under its id `ses_message_id`. The customer is the `From`
/// address, else the envelope sender (`mail.source`) when it is an address.
pub fn incoming_message(
    parsed: &ParsedEmail,
    ses_message_id: &str,
    received_at: DateTime<Utc>,
    envelope_sender: Option<&str>,
) -> Result<IncomingMessage, ParseError> {
    let customer = match parsed.from_address.as_deref() {
        Some(from) => email::customer(from, "Message.content.From")?,
        None => envelope_sender
            .and_then(|s| Identity::email(email::bare_address(s)).ok())
            .ok_or_else(|| {
                ParseError::new(
                    "Message.content.From",
                    "missing, and mail.source is not an address",
                )
            })?,
    };
    let text = EmailText {
        full: parsed.text.clone(),
        reply: parsed.reply.clone(),
    };
    let (body, full_body) = email::bodies(parsed.subject.as_deref(), &text);
    Ok(IncomingMessage {
        provider: Provider::Ses,
        provider_message_id: parsed
            .message_id
            .as_deref()
            .unwrap_or(ses_message_id)
            .to_string(),
        channel: Channel::Email,
        customer,
        customer_name: parsed.from_name.clone(),
        linked_identities: Vec::new(),
        occurred_at: received_at,
        message: Message::inbound(body, parsed.attachments.clone())
            .with_full_body(full_body)
            .with_thread(EmailThread {
                message_id: parsed.message_id.clone(),
                in_reply_to: parsed.in_reply_to.clone(),
                references: parsed.references.clone(),
                subject: parsed.subject.clone(),
                // Set by `parse` from the receipt's verdicts.
                sender_authentication: None,
            }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use crate::model::{Author, Direction};

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
        // The reply only: the quoted history is in full_body.
        assert_eq!(
            body,
            "Subject: Re: Your balayage appointment on Saturday\n\n\
             Thanks! Can I rebook?\n\n\
             Same again in about 8 weeks would be perfect \u{2014} maybe a Saturday afternoon?\n\n\
             Maya"
        );
        let full = m.message.full_body.as_deref().unwrap();
        assert!(full.starts_with(&body), "{full}");
        // Soft line breaks and UTF-8 from quoted-printable are decoded.
        assert!(full.contains("On Sun, 25 Oct 2026 at 09:00, Lumi\u{e8}re Hair Studio <hello@lumierehair.example> wrote:"));
        assert!(!full.contains('\r'));
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
        // The HTML conversion Postmark's adapter uses (it was mail-parser's,
        // which kept no blank lines and disagreed with Postmark's).
        assert_eq!(
            text,
            "Thanks! Can I rebook?\n\n\
             Same again in about 8 weeks would be perfect \u{2014} maybe a Saturday afternoon?\n\n\
             Maya\n\n\
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
        // The rule Postmark applies too: '#' would break storage keys.
        for id in [
            long.as_str(),
            "<a b@example.com>",
            "<>",
            "<a#b@example.com>",
        ] {
            let mime = format!("From: a@example.com\r\nMessage-ID: {id}\r\n\r\nhi\r\n");
            let m = only_message(parse(&with_mime(&mime), &ctx()).unwrap());
            assert_eq!(
                m.provider_message_id, "8t3kq9v0m2b7c1n5x4z6l8p0r2f4h6j8d0s2a4g6",
                "{id}"
            );
            assert_eq!(m.message.thread.unwrap().message_id, None, "{id}");
        }
    }

    #[test]
    fn unusable_thread_ids_are_dropped() {
        let mime = "From: a@example.com\r\nMessage-ID: <ok@x>\r\nIn-Reply-To: <a#1@x>\r\n\
            References: <ok@x> <a#1@x>\r\n <b@x>\r\n\r\nhi\r\n";
        let m = only_message(parse(&with_mime(mime), &ctx()).unwrap());
        let thread = m.message.thread.unwrap();
        assert_eq!(thread.message_id.as_deref(), Some("ok@x"));
        assert!(thread.in_reply_to.is_empty(), "{thread:?}");
        assert_eq!(thread.references, ["ok@x", "b@x"]);
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
    fn html_drops_scripts_and_styles() {
        let mime = "From: a@example.com\r\nContent-Type: text/html\r\n\r\n\
            <style>p{color:red}</style><div>A</div><div>B<script>x()</script></div>\r\n";
        let m = only_message(parse(&with_mime(mime), &ctx()).unwrap());
        assert_eq!(m.message.body.as_deref(), Some("A\nB"));
    }

    #[test]
    fn sender_errors_do_not_repeat_the_address() {
        let body = with_ses(|s| {
            s["receipt"]["action"]["encoding"] = "UTF8".into();
            s["content"] = "From: Maya <maya@localhost>\r\n\r\nhi\r\n".into();
        });
        let err = parse(&body, &ctx()).unwrap_err();
        assert_eq!(err.field, "Message.content.From");
        assert!(!err.detail.contains("maya"), "{err}");
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
