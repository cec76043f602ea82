//! E-mail: Postmark and SES, both through the one e-mail module.

use super::*;

/// `postmark`: the Postmark adapter, through the central admission check
/// (`channels::parse`), on the body as sent, and on an inbound e-mail whose
/// only content is the (possibly amplified, see [`expand`]) input as
/// `HtmlBody`, which exercises the HTML-to-text conversion.
pub fn check_postmark(data: &[u8]) {
    warm_up();
    let parse = |body: &[u8]| crate::channels::parse(Provider::Postmark, body, &ctx(None));

    if let Ok(events) = within_budget("postmark::parse", data.len(), || parse(data)) {
        check_email_events(&events, Provider::Postmark);
    }

    let html = String::from_utf8_lossy(&expand(data)).into_owned();
    let body = serde_json::json!({
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "From": "sender@example.com",
        "HtmlBody": html,
    });
    let body = serde_json::to_vec(&body).expect("JSON");
    let events = within_budget("postmark::parse (HtmlBody)", body.len(), || parse(&body))
        .unwrap_or_else(|e| panic!("a well-formed inbound e-mail is refused: {e}"));
    check_email_events(&events, Provider::Postmark);
    let text = only_message(&events, Provider::Postmark)
        .message
        .body
        .clone()
        .unwrap_or_default();
    check_html_text(&html, &text);
}

/// `ses_mime`: the SES adapter's MIME reader on the (possibly amplified)
/// input, then the canonical message made from what it read.
pub fn check_ses_mime(data: &[u8]) {
    warm_up();
    let raw = expand(data);
    let parsed = within_budget("ses::parse_mime", raw.len(), || ses::parse_mime(&raw));
    let Ok(email) = parsed else {
        return;
    };
    check_parsed_email(&email);
    let message = within_budget("ses::incoming_message", raw.len(), || {
        ses::incoming_message(
            &email,
            "0000000000000000-00000000-0000-0000-0000-000000000000-000000",
            received_at(),
            Some("envelope@example.com"),
        )
    });
    if let Ok(message) = message {
        check_email_events(&[CanonicalEvent::Message(message)], Provider::Ses);
    }
}

/// One inbound e-mail from `provider`, with its ids and identities in shape.
pub fn check_email_events(events: &[CanonicalEvent], provider: Provider) {
    check_events(events);
    let m = only_message(events, provider);
    assert_eq!(m.channel, Channel::Email);
    assert_eq!(m.customer.kind, IdentityKind::Email);
    if let Some(thread) = &m.message.thread {
        let ids = thread
            .message_id
            .iter()
            .chain(&thread.in_reply_to)
            .chain(&thread.references);
        for id in ids {
            assert!(!id.is_empty(), "empty threading id");
        }
    }
    if let Some(body) = &m.message.body {
        assert!(!body.is_empty());
    }
}

/// What [`ses::parse_mime`] promises about what it read.
pub fn check_parsed_email(email: &ses::ParsedEmail) {
    if let Some(text) = &email.text {
        assert!(!text.is_empty() && text.trim() == text, "text not trimmed");
        assert!(!text.contains("\r\n"), "text keeps CRLF line endings");
    }
    let thread = email.in_reply_to.iter().chain(&email.references);
    for id in email.message_id.iter().chain(thread.clone()) {
        assert!(!id.is_empty(), "empty message id");
    }
    let brackets_kept = |id: &&String| id.starts_with('<') || id.ends_with('>');
    if let Some(id) = email.message_id.iter().find(brackets_kept) {
        panic!("brackets kept: {id:?}");
    }
    if let Some(id) = thread.clone().find(brackets_kept) {
        panic!("brackets kept: {id:?}");
    }
    for a in &email.attachments {
        assert!(matches!(
            a.kind.as_str(),
            "image" | "video" | "audio" | "file"
        ));
        if let Some(mime) = &a.mime_type {
            assert_eq!(&mime.to_ascii_lowercase(), mime);
        }
    }
}

/// Plain text from HTML: no longer than the HTML, whitespace collapsed to
/// single spaces and line breaks, at most one blank line in a row, nothing
/// blank at either end.
pub fn check_html_text(html: &str, text: &str) {
    assert!(
        text.len() <= html.len(),
        "text ({} bytes) longer than its HTML ({} bytes)",
        text.len(),
        html.len()
    );
    assert_eq!(text.trim(), text, "text not trimmed");
    assert!(
        !text.contains("\n\n\n"),
        "more than one blank line in a row"
    );
    for pattern in ["  ", " \n", "\n "] {
        assert!(
            !text.contains(pattern),
            "uncollapsed whitespace {pattern:?}"
        );
    }
    assert!(
        text.chars()
            .all(|c| !c.is_whitespace() || c == ' ' || c == '\n'),
        "whitespace other than ' ' and '\\n'"
    );
}
