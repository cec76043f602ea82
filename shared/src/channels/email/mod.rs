//! What every inbound e-mail adapter (SES, Postmark) reads the same way,
//! so one mail gives the same text, ids and sender whichever provider
//! carried it (still one message per provider: the provider is part of the
//! stored key):
//!
//! * ids: [`message_id`] and [`thread_ids`], one acceptance rule;
//! * the text: [`email_text`] prefers a non-blank text/plain body, else the
//!   HTML converted by [`html_to_text`]; [`bodies`] then makes the message's
//!   `body` (the reply, without the quoted history below it: see [`quote_start`]
//!   and the HTML quote containers in [`html_text`]) and `full_body` (all of
//!   it, only when that differs), both with the subject on a first line;
//! * the sender: [`bare_address`], [`customer`], [`display_name`];
//! * attachments as metadata: [`attachment`].
//!
//! Everything here is pure, for unit tests and fuzzing.

mod date;
mod html_text;
mod message_id;
mod reply;

pub use date::header_date;
pub use html_text::{HtmlText, html_text, html_to_text};
pub use message_id::{MAX_ID_BYTES, MAX_THREAD_IDS, is_acceptable, message_id, thread_ids};
pub use reply::quote_start;

use super::ParseError;
use super::attachment::kind_for_mime;
use crate::identity::Identity;
use crate::model::Attachment;

/// The text of one mail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailText {
    /// Everything the sender wrote, quoted history included: `\n` line
    /// endings, no blank edges; `None` when there is no text.
    pub full: Option<String>,
    /// `full` without the quoted history below the reply (the same text
    /// when there is none).
    pub reply: Option<String>,
}

impl EmailText {
    /// A text whose reply is all of it (e.g. a provider's own reply extract).
    pub fn whole(text: &str) -> Self {
        let text = normalize_newlines(text).trim().to_string();
        if text.is_empty() {
            return Self::default();
        }
        Self {
            full: Some(text.clone()),
            reply: Some(text),
        }
    }
}

/// The text of a mail from its bodies: `plain` unless it is blank, else
/// `html` as text.
pub fn email_text(plain: Option<&str>, html: Option<&str>) -> EmailText {
    if let Some(plain) = plain.filter(|p| !p.trim().is_empty()) {
        let full = normalize_newlines(plain).trim().to_string();
        let reply = before(&full, quote_start(&full));
        return EmailText {
            reply: Some(reply),
            full: Some(full),
        };
    }
    let Some(html) = html else {
        return EmailText::default();
    };
    let HtmlText { text, quote_at } = html_text(html);
    if text.is_empty() {
        return EmailText::default();
    }
    // The HTML quote container, then the plain-text shapes (Outlook's
    // reply header is plain paragraphs) in what stands above it.
    let above = before(&text, quote_at.filter(|&at| !text[..at].trim().is_empty()));
    let reply = before(&above, quote_start(&above));
    EmailText {
        full: Some(text),
        reply: Some(reply),
    }
}

/// `text` up to `cut`, without trailing blanks.
fn before(text: &str, cut: Option<usize>) -> String {
    let end = cut
        .filter(|&at| text.is_char_boundary(at))
        .unwrap_or(text.len());
    text[..end].trim_end().to_string()
}

fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The timeline message's `body` and `full_body`. The message has no
/// subject field, so a subject is the first line of both:
/// `Subject: <subject>`, a blank line, then the text (just the subject
/// line when there is no text). `full_body` is `None` when it would repeat
/// `body`.
pub fn bodies(subject: Option<&str>, text: &EmailText) -> (Option<String>, Option<String>) {
    let body = with_subject(subject, text.reply.as_deref());
    let full = with_subject(subject, text.full.as_deref());
    let full_body = if full == body { None } else { full };
    (body, full_body)
}

fn with_subject(subject: Option<&str>, text: Option<&str>) -> Option<String> {
    match (subject, text.filter(|t| !t.is_empty())) {
        (Some(s), Some(t)) => Some(format!("Subject: {s}\n\n{t}")),
        (Some(s), None) => Some(format!("Subject: {s}")),
        (None, Some(t)) => Some(t.to_string()),
        (None, None) => None,
    }
}

/// A subject on one line (a folded header's line breaks and runs of blanks
/// become one space); `None` when blank.
pub fn subject(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `maya@example.com`, also out of `"Maya" <maya@example.com>` or
/// `<maya@example.com>`.
pub fn bare_address(raw: &str) -> &str {
    let raw = raw.trim();
    match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => raw[open + 1..close].trim(),
        _ => raw,
    }
}

/// The customer's identity from a sender address. The error names `field`
/// but not the address: error details reach logs and HTTP answers.
pub fn customer(address: &str, field: &str) -> Result<Identity, ParseError> {
    Identity::email(bare_address(address))
        .map_err(|_| ParseError::new(field, "not an email address"))
}

/// A sender's display name, trimmed; `None` when blank.
pub fn display_name(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// An attachment's metadata: its kind, its MIME type (lowercase, without
/// parameters) and its file name. Content is never kept.
pub fn attachment(filename: Option<&str>, content_type: Option<&str>) -> Attachment {
    let mime_type = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty());
    Attachment {
        kind: kind_for_mime(mime_type.as_deref()).to_string(),
        mime_type,
        filename: display_name(filename),
        ..Attachment::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::{CanonicalEvent, IncomingMessage, ParseContext, postmark, ses};

    const POSTMARK: &[u8] = include_bytes!("../../../../tests/fixtures/postmark/inbound.json");
    const RAW_EMAIL: &str = include_str!("../../../../tests/fixtures/ses_sns/raw_email.eml");

    fn via_postmark(mail: &serde_json::Value) -> IncomingMessage {
        let ctx = ParseContext {
            received_at: chrono::Utc::now(),
            default_region: None,
        };
        let body = serde_json::to_vec(mail).unwrap();
        match postmark::parse(&body, &ctx).unwrap().as_slice() {
            [CanonicalEvent::Message(m)] => m.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn via_ses(raw: &str) -> IncomingMessage {
        let email = ses::parse_mime(raw.as_bytes()).unwrap();
        ses::incoming_message(&email, "ses-id", chrono::Utc::now(), None).unwrap()
    }

    /// The fixtures are one mail (Maya's reply) as each provider delivers it.
    #[test]
    fn both_providers_read_one_mail_alike() {
        let same = |a: &IncomingMessage, b: &IncomingMessage| {
            assert_eq!(a.provider_message_id, b.provider_message_id);
            assert_eq!(a.customer, b.customer);
            assert_eq!(a.customer_name, b.customer_name);
            assert_eq!(a.message.body, b.message.body);
            assert_eq!(a.message.full_body, b.message.full_body);
            assert_eq!(a.message.attachments, b.message.attachments);
            assert_eq!(a.message.thread, b.message.thread);
        };
        let mut postmark: serde_json::Value = serde_json::from_slice(POSTMARK).unwrap();
        same(&via_postmark(&postmark), &via_ses(RAW_EMAIL));

        // HTML only: both convert with the same rules.
        postmark["TextBody"] = "".into();
        let start = RAW_EMAIL
            .find("--000000000000alt4830\r\nContent-Type: text/plain")
            .unwrap();
        let end = RAW_EMAIL
            .find("--000000000000alt4830\r\nContent-Type: text/html")
            .unwrap();
        let html_only = format!("{}{}", &RAW_EMAIL[..start], &RAW_EMAIL[end..]);
        let (a, b) = (via_postmark(&postmark), via_ses(&html_only));
        same(&a, &b);
        assert!(a.message.full_body.is_some());
    }

    #[test]
    fn plain_text_is_preferred_and_split() {
        let text = email_text(
            Some("Yes!\r\n\r\nOn Sun, 25 Oct 2026, Lumière wrote:\r\n> Hi\r\n"),
            Some("<p>html</p>"),
        );
        assert_eq!(text.reply.as_deref(), Some("Yes!"));
        assert_eq!(
            text.full.as_deref(),
            Some("Yes!\n\nOn Sun, 25 Oct 2026, Lumière wrote:\n> Hi")
        );
        // A blank text part is no text part.
        let text = email_text(Some(" \r\n"), Some("<p>html</p>"));
        assert_eq!(text, EmailText::whole("html"));
        assert_eq!(email_text(None, Some("<br>")), EmailText::default());
        assert_eq!(email_text(None, None), EmailText::default());
    }

    #[test]
    fn html_quote_and_outlook_header_in_html() {
        let gmail = email_text(
            None,
            Some(
                "<div>Yes!</div><div class=\"gmail_quote\">On Sun, X wrote:<blockquote>Hi</blockquote></div>",
            ),
        );
        assert_eq!(gmail.reply.as_deref(), Some("Yes!"));
        assert_eq!(gmail.full.as_deref(), Some("Yes!\nOn Sun, X wrote:\nHi"));

        let outlook = email_text(
            None,
            Some(
                "<p>Yes!</p><div style=\"border-top:solid #E1E1E1 1.0pt\"><p><b>From:</b> Lumière<br>\
<b>Sent:</b> Sunday<br><b>To:</b> Maya<br><b>Subject:</b> Appointment</p></div><p>Hi Maya</p>",
            ),
        );
        assert_eq!(outlook.reply.as_deref(), Some("Yes!"));
    }

    #[test]
    fn bodies_carry_the_subject_and_full_body_only_when_different() {
        let split = EmailText {
            full: Some("Yes!\n\n> Hi".into()),
            reply: Some("Yes!".into()),
        };
        assert_eq!(
            bodies(Some("Re: Hi"), &split),
            (
                Some("Subject: Re: Hi\n\nYes!".into()),
                Some("Subject: Re: Hi\n\nYes!\n\n> Hi".into())
            )
        );
        assert_eq!(bodies(None, &split).1.as_deref(), Some("Yes!\n\n> Hi"));
        let whole = EmailText::whole("Just text");
        assert_eq!(bodies(None, &whole), (Some("Just text".into()), None));
        assert_eq!(
            bodies(Some("Call me"), &EmailText::default()),
            (Some("Subject: Call me".into()), None)
        );
        assert_eq!(bodies(None, &EmailText::default()), (None, None));
    }

    #[test]
    fn subjects_addresses_and_names() {
        assert_eq!(
            subject(" Folded\r\n  subject "),
            Some("Folded subject".into())
        );
        assert_eq!(subject(" \r\n"), None);
        assert_eq!(bare_address("\"Maya\" <maya@x.example>"), "maya@x.example");
        assert_eq!(bare_address(" <maya@x.example> "), "maya@x.example");
        assert_eq!(bare_address("maya@x.example"), "maya@x.example");
        assert_eq!(display_name(Some("  ")), None);
        assert_eq!(display_name(Some(" Maya ")), Some("Maya".into()));
    }

    #[test]
    fn customer_errors_do_not_repeat_the_address() {
        let e = customer("Maya Lopez maya.lopez.example", "From").unwrap_err();
        assert_eq!(e.field, "From");
        assert!(!e.detail.contains("maya"), "{e:?}");
        assert_eq!(
            customer("\"M\" <Maya@Example.COM>", "From").map(|c| c.value),
            Ok("maya@example.com".to_string())
        );
    }

    #[test]
    fn attachment_metadata() {
        let a = attachment(Some(" clip.MOV "), Some("Video/QuickTime; name=clip.MOV"));
        assert_eq!(
            (
                a.kind.as_str(),
                a.mime_type.as_deref(),
                a.filename.as_deref()
            ),
            ("video", Some("video/quicktime"), Some("clip.MOV"))
        );
        let a = attachment(Some(""), Some(" "));
        assert_eq!(
            (a.kind.as_str(), a.mime_type, a.filename),
            ("file", None, None)
        );
    }
}
