//! Postmark inbound e-mail webhooks: one JSON document per received e-mail.
//!
//! Postmark does not sign its webhooks. The webhook URL carries HTTP Basic
//! credentials (`https://user:pass@host/path`), checked with
//! [`basic_auth_is_valid`]. A wrong password should be answered with `401`:
//! Postmark retries any other failure for about 10 hours, except `403`, which
//! stops its retries and loses the mail.
//!
//! What becomes of an e-mail (read as SES's adapter reads it: see
//! [`super::email`]):
//!
//! * Its id is the RFC `Message-ID` header (angle brackets dropped), so a
//!   redelivery, or the same mail delivered twice by Postmark, is one
//!   message; Postmark's own `MessageID` when the header is missing or not
//!   an acceptable id ([`email::message_id`]). The provider is part of the
//!   stored key, so a mail that reached the tenant through both Postmark
//!   and SES is two messages, one per connection.
//! * The timeline's [`Message`] has no subject field, so a non-empty
//!   `Subject` becomes the body's first line: `Subject: <subject>`, then a
//!   blank line, then the text.
//! * The text is `TextBody`, else `HtmlBody` as plain text, else
//!   `StrippedTextReply` (Postmark's own heuristic, missing for many mails).
//!   `body` is the reply without the quoted history below it;
//!   `full_body` keeps the whole text when that differs.
//! * Attachments are kept as metadata (kind, file name, MIME type). Their
//!   base64 `Content` is never deserialized, let alone stored.
//! * `Date` is the sender's header, in whatever format the sending server
//!   chose; when it cannot be read, the time the webhook reached us is used.
//! * Threading headers (`In-Reply-To`, `References`) are kept on the
//!   message's `thread`; the plus-address `MailboxHash` is not used yet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::email::{self, EmailText};
use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, from_json};
use crate::model::{Channel, EmailThread, Message, Provider};
use crate::signature::constant_time_eq;

pub const AUTHORIZATION_HEADER: &str = "authorization";

/// True when `authorization_header` is `Basic base64(user:password)` for the
/// configured credentials. Empty configured credentials never match.
pub fn basic_auth_is_valid(user: &str, password: &str, authorization_header: Option<&str>) -> bool {
    if user.is_empty() || password.is_empty() {
        return false;
    }
    let Some(header) = authorization_header else {
        return false;
    };
    let Some((scheme, credentials)) = header.trim().split_once(' ') else {
        return false;
    };
    // The scheme name is case-insensitive (RFC 7235).
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(given) = STANDARD.decode(credentials.trim()) else {
        return false;
    };
    let expected = format!("{user}:{password}");
    constant_time_eq(&given, expected.as_bytes())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inbound {
    /// Present only on Postmark's outbound-event webhooks (bounces, opens...).
    #[serde(default)]
    record_type: Option<String>,
    #[serde(default, rename = "MessageID")]
    message_id: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    from_full: Option<Address>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    text_body: Option<String>,
    #[serde(default)]
    html_body: Option<String>,
    #[serde(default)]
    stripped_text_reply: Option<String>,
    #[serde(default)]
    headers: Option<Vec<Header>>,
    #[serde(default)]
    attachments: Option<Vec<InboundAttachment>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Address {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Header {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// `Content` (base64) and `ContentLength` are deliberately not fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InboundAttachment {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
}

/// Parses a verified delivery into one inbound e-mail message.
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let mail: Inbound = from_json(body)?;
    if let Some(kind) = non_empty(&mail.record_type) {
        return Err(ParseError::new(
            "RecordType",
            format!("'{kind}' is an outbound-event webhook, not an inbound e-mail"),
        ));
    }
    let postmark_id =
        non_empty(&mail.message_id).ok_or_else(|| ParseError::new("MessageID", "missing"))?;
    // Postmark's id is the fallback key: held to the rule for RFC ids.
    if !email::is_acceptable(postmark_id) {
        return Err(ParseError::new(
            "MessageID",
            "not an id (printable ASCII without '#', at most 250 bytes)",
        ));
    }
    let headers = mail.headers.as_deref().unwrap_or_default();
    let rfc_id = header_values(headers, "message-id")
        .next()
        .and_then(email::message_id);
    let provider_message_id = rfc_id.unwrap_or(postmark_id).to_string();

    let full = mail.from_full.as_ref();
    let (field, address) = match full.and_then(|f| non_empty(&f.email)) {
        Some(email) => ("FromFull.Email", email),
        None => (
            "From",
            non_empty(&mail.from).ok_or_else(|| {
                ParseError::new("From", "missing sender (neither FromFull.Email nor From)")
            })?,
        ),
    };
    let customer = email::customer(address, field)?;
    let customer_name = email::display_name(full.and_then(|f| non_empty(&f.name)))
        .or_else(|| email::display_name(mail.from_name.as_deref()));

    let occurred_at = non_empty(&mail.date)
        .and_then(email::header_date)
        .unwrap_or(ctx.received_at);

    let subject = mail.subject.as_deref().and_then(email::subject);
    let mut text = email::email_text(mail.text_body.as_deref(), mail.html_body.as_deref());
    if text.full.is_none() {
        text = EmailText::whole(mail.stripped_text_reply.as_deref().unwrap_or_default());
    }
    let (body, full_body) = email::bodies(subject.as_deref(), &text);

    Ok(vec![CanonicalEvent::Message(IncomingMessage {
        provider: Provider::Postmark,
        provider_message_id,
        channel: Channel::Email,
        customer,
        customer_name,
        linked_identities: Vec::new(),
        occurred_at,
        message: Message::inbound(
            body,
            mail.attachments
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|a| email::attachment(a.name.as_deref(), a.content_type.as_deref()))
                .collect(),
        )
        .with_full_body(full_body)
        .with_thread(EmailThread {
            message_id: rfc_id.map(str::to_string),
            in_reply_to: email::thread_ids(header_values(headers, "in-reply-to")),
            references: email::thread_ids(header_values(headers, "references")),
            subject,
            // Postmark's inbound JSON gives no authentication verdict.
            sender_authentication: None,
        }),
    })])
}

/// The value, trimmed, if present and not blank.
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The values of the headers named `name` (case-insensitive), in order.
fn header_values<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |h| {
            h.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        })
        .filter_map(|h| h.value.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use crate::model::Attachment;
    use crate::model::{Author, Direction};
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    const INBOUND: &[u8] = include_bytes!("../../../tests/fixtures/postmark/inbound.json");
    /// From signatures.json: the credentials embedded in the webhook URL.
    const FIXTURE_AUTHORIZATION: &str = "Basic cG9zdG1hcms6dGVzdF9zZWNyZXQ=";

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: Utc.with_ymd_and_hms(2026, 10, 25, 20, 41, 2).unwrap(),
            default_region: None,
        }
    }

    fn one_message(body: &[u8]) -> IncomingMessage {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Message(m)] = events.as_slice() else {
            panic!("expected one message, got {events:?}");
        };
        m.clone()
    }

    fn fixture() -> Value {
        serde_json::from_slice(INBOUND).unwrap()
    }

    /// The fixture with `edit` applied.
    fn edited(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
        let mut mail = fixture();
        edit(mail.as_object_mut().unwrap());
        serde_json::to_vec(&mail).unwrap()
    }

    fn err(body: &[u8]) -> ParseError {
        parse(body, &ctx()).unwrap_err()
    }

    #[test]
    fn fixture_becomes_an_inbound_email() {
        let m = one_message(INBOUND);
        assert_eq!(m.provider, Provider::Postmark);
        assert_eq!(
            m.provider_message_id,
            "CAH7mK2pQ-9xLr4TzW8vNy3bFj1sDq6Ue0@mail.example.com"
        );
        assert_eq!(m.channel, Channel::Email);
        assert_eq!(m.customer.kind, IdentityKind::Email);
        assert_eq!(m.customer.value, "maya.lopez@example.com");
        assert_eq!(m.customer_name.as_deref(), Some("Maya Lopez"));
        assert!(m.linked_identities.is_empty());
        assert_eq!(
            m.occurred_at,
            Utc.with_ymd_and_hms(2026, 10, 25, 20, 40, 58).unwrap()
        );
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        let body = m.message.body.as_deref().unwrap();
        // The reply only: the quoted history is in full_body.
        assert_eq!(
            body,
            "Subject: Re: Your balayage appointment on Saturday\n\nThanks! Can I rebook?\n\n\
Same again in about 8 weeks would be perfect — maybe a Saturday afternoon?\n\nMaya"
        );
        let full = m.message.full_body.as_deref().unwrap();
        assert!(full.starts_with(body), "{full}");
        assert!(
            full.ends_with(
                "> balayage. Reply to this email any time to book your next appointment."
            ),
            "TextBody is kept whole in full_body: {full}"
        );
        assert_eq!(m.message.status, None);
        assert!(!m.message.deleted);
        assert_eq!(m.message.source, None);
        assert_eq!(
            m.message.attachments,
            vec![Attachment {
                kind: "image".to_string(),
                mime_type: Some("image/png".to_string()),
                filename: Some("after.png".to_string()),
                ..Attachment::default()
            }]
        );
    }

    #[test]
    fn fixture_credentials_are_accepted() {
        assert!(basic_auth_is_valid(
            "postmark",
            "test_secret",
            Some(FIXTURE_AUTHORIZATION)
        ));
        assert!(basic_auth_is_valid(
            "postmark",
            "test_secret",
            Some("basic  cG9zdG1hcms6dGVzdF9zZWNyZXQ= ")
        ));
    }

    #[test]
    fn other_credentials_are_rejected() {
        let check = |header: Option<&str>| basic_auth_is_valid("postmark", "test_secret", header);
        let basic = |creds: &str| format!("Basic {}", STANDARD.encode(creds));
        assert!(check(Some(&basic("postmark:test_secret"))));
        assert!(!check(Some(&basic("postmark:wrong"))));
        assert!(!check(Some(&basic("postmark:test_secret2"))));
        assert!(!check(Some(&basic("postmark:test_secre"))));
        assert!(!check(Some(&basic("other:test_secret"))));
        assert!(!check(Some(&basic("postmarktest_secret"))));
        assert!(!check(Some(&basic(""))));
        assert!(!check(None));
        assert!(!check(Some("")));
        assert!(!check(Some("Basic")));
        assert!(!check(Some("Basic ")));
        assert!(!check(Some("Bearer cG9zdG1hcms6dGVzdF9zZWNyZXQ=")));
        assert!(!check(Some("cG9zdG1hcms6dGVzdF9zZWNyZXQ=")));
        assert!(!check(Some("Basic not*base64")));
        assert!(!check(Some("Basic cG9zdG1hcms6dGVzdF9zZWNyZXQ")));
        // Empty configuration never matches, even the matching empty header.
        assert!(!basic_auth_is_valid("", "", Some(&basic(":"))));
        assert!(!basic_auth_is_valid(
            "postmark",
            "",
            Some(&basic("postmark:"))
        ));
        assert!(!basic_auth_is_valid(
            "",
            "test_secret",
            Some(&basic(":test_secret"))
        ));
    }

    #[test]
    fn html_only_mail_is_read_as_text() {
        let body = edited(|m| {
            m.insert("TextBody".into(), json!(""));
            m.insert("Subject".into(), json!(""));
        });
        let m = one_message(&body);
        // Gmail's quote div is history: the body is the reply above it.
        assert_eq!(
            m.message.body.as_deref(),
            Some(
                "Thanks! Can I rebook?\n\n\
Same again in about 8 weeks would be perfect — maybe a Saturday afternoon?\n\nMaya"
            )
        );
        assert_eq!(
            m.message.full_body.as_deref(),
            Some(
                "Thanks! Can I rebook?\n\n\
Same again in about 8 weeks would be perfect — maybe a Saturday afternoon?\n\nMaya\n\n\
On Sun, 25 Oct 2026 at 09:00, Lumière Hair Studio <hello@lumierehair.example> wrote:\n\
Hi Maya, thank you for visiting us yesterday!"
            )
        );
    }

    #[test]
    fn body_fallbacks_and_subject() {
        let set = |text: Value, html: Value, stripped: Value, subject: Value| {
            edited(|m| {
                m.insert("TextBody".into(), text);
                m.insert("HtmlBody".into(), html);
                m.insert("StrippedTextReply".into(), stripped);
                m.insert("Subject".into(), subject);
            })
        };
        let body = |b: Vec<u8>| one_message(&b).message.body;
        assert_eq!(
            body(set(
                json!("plain"),
                json!("<b>html</b>"),
                json!(""),
                json!("Hi")
            )),
            Some("Subject: Hi\n\nplain".to_string())
        );
        assert_eq!(
            body(set(
                json!(" \n"),
                json!("<b>html</b>"),
                json!("s"),
                json!(null)
            )),
            Some("html".to_string())
        );
        assert_eq!(
            body(set(
                json!(null),
                json!("<br>"),
                json!("stripped"),
                json!("")
            )),
            Some("stripped".to_string())
        );
        assert_eq!(
            body(set(
                json!(""),
                json!(""),
                json!(""),
                json!("Folded\r\n subject")
            )),
            Some("Subject: Folded subject".to_string())
        );
        assert_eq!(
            body(set(json!(""), json!(null), json!(null), json!(""))),
            None
        );
    }

    #[test]
    fn attachments_keep_metadata_only() {
        let body = edited(|m| {
            m.insert(
                "Attachments".into(),
                json!([
                    {"Name": "clip.MOV", "Content": "AAAA", "ContentType": "Video/quicktime",
                     "ContentLength": 3, "ContentID": ""},
                    {"Name": "note.m4a", "Content": "AAAA", "ContentType": "audio/mp4"},
                    {"Name": "invoice.pdf", "Content": "JVBERi0xLjQK", "ContentType": "application/pdf"},
                    {"Content": "AAAA"},
                ]),
            );
        });
        let m = one_message(&body);
        let a = &m.message.attachments;
        let summary: Vec<_> = a
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
            summary,
            [
                // MIME types are case-insensitive: stored in one (lower) case.
                ("video", Some("clip.MOV"), Some("video/quicktime")),
                ("audio", Some("note.m4a"), Some("audio/mp4")),
                ("file", Some("invoice.pdf"), Some("application/pdf")),
                ("file", None, None),
            ]
        );
        for a in a {
            assert_eq!((&a.url, &a.media_id, &a.caption), (&None, &None, &None));
        }
        let debug = format!("{m:?}");
        assert!(!debug.contains("JVBERi0xLjQK") && !debug.contains("iVBORw0KGgo"));

        let none = edited(|m| {
            m.insert("Attachments".into(), json!(null));
        });
        assert!(one_message(&none).message.attachments.is_empty());
    }

    #[test]
    fn threading_headers_are_kept() {
        let mut mail = fixture();
        mail["Headers"] = json!([
            {"Name": "Message-ID", "Value": "<reply@x>"},
            {"Name": "In-Reply-To", "Value": "<visit-4830@lumierehair.example>"},
            {"Name": "References", "Value": "<a@x> <visit-4830@lumierehair.example>"}
        ]);
        let events = parse(&serde_json::to_vec(&mail).unwrap(), &ctx()).unwrap();
        let CanonicalEvent::Message(m) = &events[0] else {
            panic!("not a message")
        };
        let thread = m.message.thread.as_ref().unwrap();
        assert_eq!(thread.message_id.as_deref(), Some("reply@x"));
        assert_eq!(thread.in_reply_to, ["visit-4830@lumierehair.example"]);
        assert_eq!(thread.references, ["a@x", "visit-4830@lumierehair.example"]);
    }

    #[test]
    fn message_id_falls_back_to_postmarks() {
        let with_headers = |headers: Value| {
            one_message(&edited(|m| {
                m.insert("Headers".into(), headers);
            }))
            .provider_message_id
        };
        let postmark = "6a1d2f0e-8c3b-4b9e-9f52-3e7a0c4d1b28";
        assert_eq!(with_headers(json!([])), postmark);
        assert_eq!(with_headers(json!(null)), postmark);
        assert_eq!(
            with_headers(json!([{"Name": "message-id", "Value": "  <a.b@c>  "}])),
            "a.b@c"
        );
        assert_eq!(
            with_headers(json!([{"Name": "MESSAGE-ID", "Value": "bare@id"}])),
            "bare@id"
        );
        assert_eq!(
            with_headers(json!([
                {"Name": "X-Original-Message-ID", "Value": "<no@x>"},
                {"Name": "Message-ID", "Value": "<first@x>"},
                {"Name": "Message-ID", "Value": "<second@x>"}
            ])),
            "first@x"
        );
        assert_eq!(
            with_headers(json!([{"Name": "Message-ID", "Value": "<>"}])),
            postmark
        );
        assert_eq!(
            with_headers(json!([{"Name": "Message-ID", "Value": "<a#b@c>"}])),
            postmark,
            "'#' would break storage keys"
        );
        // The rule SES applies too: printable ASCII, at most 250 bytes.
        let long = format!("<{}@example.com>", "x".repeat(300));
        for id in [long.as_str(), "<caf\u{e9}@example.com>", "<a\u{1}b@c>"] {
            assert_eq!(
                with_headers(json!([{"Name": "Message-ID", "Value": id}])),
                postmark,
                "{id}"
            );
        }
    }

    #[test]
    fn unusable_thread_ids_are_dropped() {
        let mut mail = fixture();
        mail["Headers"] = json!([
            {"Name": "Message-ID", "Value": "<bad#id@x>"},
            {"Name": "In-Reply-To", "Value": "<a#1@x>"},
            {"Name": "References", "Value": "<ok@x> <a b@x> <a#1@x>"}
        ]);
        let m = one_message(&serde_json::to_vec(&mail).unwrap());
        let thread = m.message.thread.unwrap();
        assert_eq!(thread.message_id, None);
        assert!(thread.in_reply_to.is_empty(), "{thread:?}");
        assert_eq!(thread.references, ["ok@x"]);
    }

    #[test]
    fn postmark_ids_that_would_break_keys_are_refused() {
        for id in ["a b", "x".repeat(300).as_str(), "a\tb"] {
            let e = err(&edited(|m| {
                m.insert("MessageID".into(), json!(id));
            }));
            assert_eq!(e.field, "MessageID", "{id}");
        }
    }

    #[test]
    fn sender_and_name_fallbacks() {
        let m = one_message(&edited(|m| {
            m.remove("FromFull");
            m.insert("From".into(), json!("\"Maya\" <Maya.Lopez@Example.COM>"));
            m.insert("FromName".into(), json!("Maya L"));
        }));
        assert_eq!(m.customer.value, "maya.lopez@example.com");
        assert_eq!(m.customer_name.as_deref(), Some("Maya L"));

        let m = one_message(&edited(|m| {
            m.insert(
                "FromFull".into(),
                json!({"Email": "MAYA@EXAMPLE.COM", "Name": ""}),
            );
            m.insert("FromName".into(), json!(""));
        }));
        assert_eq!(m.customer.value, "maya@example.com");
        assert_eq!(m.customer_name, None);
    }

    #[test]
    fn dates_in_the_formats_senders_use() {
        let at = |date: Value| {
            one_message(&edited(|m| {
                m.insert("Date".into(), date);
            }))
            .occurred_at
        };
        let utc = |h, mi, s| Utc.with_ymd_and_hms(2026, 10, 25, h, mi, s).unwrap();
        assert_eq!(
            at(json!("Sun, 25 Oct 2026 20:40:58 +0000 (UTC)")),
            utc(20, 40, 58)
        );
        assert_eq!(
            at(json!("Sun, 25 Oct 2026 16:40:58 -04:00")),
            utc(20, 40, 58)
        );
        assert_eq!(at(json!("25 Oct 2026 21:40:58 +0100")), utc(20, 40, 58));
        assert_eq!(at(json!("Sun,  25 Oct 2026 13:40:58 PDT")), utc(20, 40, 58));
        assert_eq!(at(json!("Mon, 25 Oct 2026 20:40:58 GMT")), utc(20, 40, 58));
        assert_eq!(
            at(json!("Sun, 25 Oct 2026 20:40:58 +00:00 (UTC)")),
            utc(20, 40, 58)
        );
        assert_eq!(at(json!("2026-10-25T20:40:58Z")), utc(20, 40, 58));
        assert_eq!(at(json!("last Sunday")), ctx().received_at);
        assert_eq!(at(json!("")), ctx().received_at);
        assert_eq!(at(json!(null)), ctx().received_at);
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        let e = err(&edited(|m| {
            m.remove("FromFull");
            m.remove("From");
        }));
        assert_eq!(e.field, "From");
        let e = err(&edited(|m| {
            m.insert("FromFull".into(), json!({"Email": ""}));
            m.insert("From".into(), json!(""));
        }));
        assert_eq!(e.field, "From");
        let e = err(&edited(|m| {
            m.insert(
                "FromFull".into(),
                json!({"Email": "maya.lopez.example.com"}),
            );
        }));
        assert_eq!(e.field, "FromFull.Email");
        assert!(!e.detail.contains("maya"), "no address in errors: {e}");
        let e = err(&edited(|m| {
            m.remove("FromFull");
            m.insert("From".into(), json!("nobody"));
        }));
        assert_eq!(e.field, "From");
        let e = err(&edited(|m| {
            m.remove("MessageID");
        }));
        assert_eq!(e.field, "MessageID");
        let e = err(&edited(|m| {
            m.insert("MessageID".into(), json!("a#b"));
        }));
        assert_eq!(e.field, "MessageID");
        let e = err(&edited(|m| {
            m.insert("FromFull".into(), json!("maya@example.com"));
        }));
        assert_eq!(e.field, "FromFull");
        let e = err(&edited(|m| {
            m.insert("Attachments".into(), json!([{"Name": 7}]));
        }));
        assert_eq!(e.field, "Attachments[0].Name");
        let e = err(&edited(|m| {
            m.insert("Headers".into(), json!({"Message-ID": "x"}));
        }));
        assert_eq!(e.field, "Headers");
        let bounce = json!({"RecordType": "Bounce", "MessageID": "x", "Email": "a@b.example"});
        assert_eq!(err(bounce.to_string().as_bytes()).field, "RecordType");
        assert_eq!(err(b"").field, "body");
        assert_eq!(err(b"null").field, "body");
        assert_eq!(err(b"\"mail\"").field, "body");
        // serde reads a struct from a sequence too; an empty one has no id.
        assert_eq!(err(b"[]").field, "MessageID");
        assert_eq!(err(b"From=a%40b.example").field, "body");
        assert_eq!(err(&[0xff, 0xfe]).field, "body");
    }
}
