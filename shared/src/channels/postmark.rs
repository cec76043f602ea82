//! Postmark inbound e-mail webhooks: one JSON document per received e-mail.
//!
//! Postmark does not sign its webhooks. The webhook URL carries HTTP Basic
//! credentials (`https://user:pass@host/path`), checked with
//! [`basic_auth_is_valid`]. A wrong password should be answered with `401`:
//! Postmark retries any other failure for about 10 hours, except `403`, which
//! stops its retries and loses the mail.
//!
//! What becomes of an e-mail:
//!
//! * Its id is the RFC `Message-ID` header (angle brackets dropped), so the
//!   same e-mail is one message whichever route it took; Postmark's own
//!   `MessageID` when the header is missing or unusable as a key.
//! * The timeline's [`Message`] has no subject field, so a non-empty
//!   `Subject` becomes the body's first line: `Subject: <subject>`, then a
//!   blank line, then the text.
//! * The text is `TextBody` (quoted history included: `StrippedTextReply` is
//!   Postmark's heuristic and missing for many mails); for an HTML-only mail,
//!   `HtmlBody` reduced to plain text.
//! * Attachments are kept as metadata (kind, file name, MIME type). Their
//!   base64 `Content` is never deserialized, let alone stored.
//! * `Date` is the sender's header, in whatever format the sending server
//!   chose; when it cannot be read, the time the webhook reached us is used.
//! * Threading headers (`In-Reply-To`, `References`) are kept on the
//!   message's `thread`; the plus-address `MailboxHash` is not used yet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, from_json};
use crate::identity::Identity;
use crate::model::{Attachment, Author, Channel, Direction, EmailThread, Message, Provider};
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
    if postmark_id.contains('#') {
        return Err(ParseError::new(
            "MessageID",
            format!("invalid id '{postmark_id}'"),
        ));
    }
    let headers = mail.headers.as_deref().unwrap_or_default();
    let provider_message_id = rfc_message_id(headers).unwrap_or(postmark_id).to_string();

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
    let customer = Identity::email(bare_address(address))
        .map_err(|e| ParseError::new(field, e.to_string()))?;
    let customer_name = full
        .and_then(|f| non_empty(&f.name))
        .or_else(|| non_empty(&mail.from_name))
        .map(str::to_string);

    let occurred_at = non_empty(&mail.date)
        .and_then(email_date)
        .unwrap_or(ctx.received_at);

    Ok(vec![CanonicalEvent::Message(IncomingMessage {
        provider: Provider::Postmark,
        provider_message_id,
        channel: Channel::Email,
        customer,
        customer_name,
        linked_identities: Vec::new(),
        occurred_at,
        message: Message {
            direction: Direction::Inbound,
            author: Author::Customer,
            body: body_text(&mail),
            attachments: attachments(mail.attachments.as_deref().unwrap_or_default()),
            status: None,
            status_at: None,
            status_error: None,
            deleted: false,
            source: None,
            thread: Some(EmailThread {
                message_id: rfc_message_id(headers).map(str::to_string),
                in_reply_to: header_ids(headers, "in-reply-to"),
                references: header_ids(headers, "references"),
                subject: non_empty(&mail.subject).map(str::to_string),
            }),
            truncated: false,
        },
    })])
}

/// The value, trimmed, if present and not blank.
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The first `Message-ID` header, without its angle brackets; `None` when
/// missing or unusable as a storage key ('#' is the key separator).
fn rfc_message_id(headers: &[Header]) -> Option<&str> {
    let value = headers
        .iter()
        .find(|h| {
            h.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("message-id"))
        })
        .and_then(|h| non_empty(&h.value))?;
    let id = match (value.find('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].trim(),
        _ => value,
    };
    (!id.is_empty() && !id.contains('#') && !id.contains(char::is_whitespace)).then_some(id)
}

/// The `<id>` tokens of a threading header, without brackets.
fn header_ids(headers: &[Header], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|h| {
            h.name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        })
        .filter_map(|h| h.value.as_deref())
        .flat_map(|v| v.split('<').skip(1))
        .filter_map(|part| part.split_once('>').map(|(id, _)| id.trim().to_string()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// `maya@example.com`, also out of `"Maya" <maya@example.com>`.
fn bare_address(raw: &str) -> &str {
    match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => &raw[open + 1..close],
        _ => raw,
    }
}

/// The sender's `Date` header. RFC 2822 (trailing comments such as `(UTC)`
/// allowed); also tolerated: an offset with a colon (`-04:00`), a weekday
/// that does not match the date, RFC 3339.
fn email_date(raw: &str) -> Option<DateTime<Utc>> {
    let rfc2822 = |s: &str| DateTime::parse_from_rfc2822(s).ok();
    let parsed = rfc2822(raw).or_else(|| {
        let normalized = normalize_date(raw);
        rfc2822(&normalized).or_else(|| {
            // A weekday that contradicts the date: trust the date.
            let (weekday, rest) = normalized.split_once(',')?;
            weekday
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphabetic())
                .then(|| rfc2822(rest))
                .flatten()
        })
    });
    parsed
        .or_else(|| DateTime::parse_from_rfc3339(raw).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Drops trailing `(...)` comments and the colon of a trailing `+hh:mm`.
fn normalize_date(raw: &str) -> String {
    let mut s = raw.trim();
    while s.ends_with(')') {
        match s.rfind('(') {
            Some(open) => s = s[..open].trim_end(),
            None => break,
        }
    }
    let mut out = s.to_string();
    if let Some((head, zone)) = s.rsplit_once(' ') {
        let b = zone.as_bytes();
        let colon_offset = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit());
        if colon_offset {
            out = format!("{head} {}{}", &zone[..3], &zone[4..]);
        }
    }
    out
}

/// `Subject: ...` and a blank line, then the text: `TextBody`, else the
/// `HtmlBody` as plain text, else `StrippedTextReply`.
fn body_text(mail: &Inbound) -> Option<String> {
    let text = non_empty(&mail.text_body)
        .and(mail.text_body.clone())
        .or_else(|| {
            mail.html_body
                .as_deref()
                .map(html_to_text)
                .filter(|t| !t.is_empty())
        })
        .or_else(|| non_empty(&mail.stripped_text_reply).map(str::to_string));
    // A folded subject must stay on the first line.
    let subject =
        non_empty(&mail.subject).map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
    match (subject, text) {
        (Some(subject), Some(text)) => Some(format!("Subject: {subject}\n\n{text}")),
        (Some(subject), None) => Some(format!("Subject: {subject}")),
        (None, text) => text,
    }
}

fn attachments(items: &[InboundAttachment]) -> Vec<Attachment> {
    items
        .iter()
        .map(|a| {
            let mime_type = non_empty(&a.content_type);
            let kind = match mime_type
                .and_then(|m| m.split('/').next())
                .map(|top| top.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some(top @ ("image" | "video" | "audio")) => top.to_string(),
                _ => "file".to_string(),
            };
            Attachment {
                kind,
                mime_type: mime_type.map(str::to_string),
                filename: non_empty(&a.name).map(str::to_string),
                ..Attachment::default()
            }
        })
        .collect()
}

/// Elements whose content is never shown.
const HIDDEN_ELEMENTS: &[&str] = &["script", "style", "head", "title", "template"];

/// Elements that start on a new line.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "pre",
    "section",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// Plain text of an HTML body, as a reader would see it: tags dropped (and
/// the content of `<script>`, `<style>`, `<head>`), entities decoded,
/// whitespace collapsed, line breaks at `<br>` and around blocks, a blank
/// line around paragraphs, at most one blank line in a row.
fn html_to_text(html: &str) -> String {
    let mut out = TextBuilder::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.text(&rest[..lt]);
        let after = &rest[lt + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !starts_tag {
            // A bare '<' in text ("a < b").
            out.text("<");
            rest = after;
            continue;
        }
        let Some(end) = tag_end(after) else {
            // An unterminated tag: drop it rather than show markup.
            rest = "";
            break;
        };
        let tag = &after[..end];
        rest = &after[end + 1..];
        let closing = tag.starts_with('/');
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_ascii_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let self_closing = tag.ends_with('/');
        if !closing && !self_closing && HIDDEN_ELEMENTS.contains(&name.as_str()) {
            rest = skip_element(rest, &name);
            continue;
        }
        match name.as_str() {
            "br" => out.line_break(),
            "p" => out.block_break(2),
            "td" | "th" => out.space(),
            n if BLOCK_ELEMENTS.contains(&n) => out.block_break(1),
            _ => {}
        }
    }
    out.text(rest);
    out.finish()
}

/// Index of the `>` that ends the tag starting `s` (quoted attribute values
/// may contain `>`).
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// What follows `</name>` (case-insensitive), or nothing when it is missing.
fn skip_element<'a>(s: &'a str, name: &str) -> &'a str {
    let closing = format!("</{name}");
    // ASCII lowercasing keeps byte offsets.
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(&closing) {
        let start = from + found;
        let after = start + closing.len();
        // `</styles>` does not close `<style>`.
        let boundary = lower[after..]
            .chars()
            .next()
            .is_none_or(|c| c == '>' || c == '/' || c.is_ascii_whitespace());
        if boundary {
            return s[after..].find('>').map_or("", |gt| &s[after + gt + 1..]);
        }
        from = after;
    }
    ""
}

/// Accumulates text with HTML's whitespace rules.
#[derive(Default)]
struct TextBuilder {
    out: String,
    pending_space: bool,
}

impl TextBuilder {
    /// A text node: entities decoded, runs of whitespace become one space.
    fn text(&mut self, raw: &str) {
        for c in decode_entities(raw).chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                if self.pending_space && !self.out.is_empty() && !self.out.ends_with('\n') {
                    self.out.push(' ');
                }
                self.pending_space = false;
                self.out.push(c);
            }
        }
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.pending_space = false;
    }

    /// Ends the current line, then makes sure `newlines` line breaks
    /// separate what follows from the text so far.
    fn block_break(&mut self, newlines: usize) {
        self.pending_space = false;
        if self.out.is_empty() {
            return;
        }
        let have = self.out.len() - self.out.trim_end_matches('\n').len();
        for _ in have..newlines {
            self.out.push('\n');
        }
    }

    /// The text, with at most one blank line in a row and no blank edges.
    fn finish(self) -> String {
        let mut text = String::with_capacity(self.out.len());
        let mut newlines = 0;
        for c in self.out.chars() {
            if c == '\n' {
                newlines += 1;
                if newlines <= 2 {
                    text.push(c);
                }
            } else {
                newlines = 0;
                text.push(c);
            }
        }
        text.trim().to_string()
    }
}

/// Decodes `&amp; &lt; &gt; &quot; &apos; &nbsp;` and numeric references
/// (`&#39;`, `&#x27;`) in one pass, so `&amp;lt;` stays `&lt;`. Anything
/// else is kept as written. `&nbsp;` becomes a plain space.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // Entity names are short; a ';' further away is something else.
        let decoded = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .and_then(|(semi, _)| Some((entity(&after[..semi])?, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse::<u32>().ok()?,
            };
            match char::from_u32(code)? {
                '\0' => None,
                '\u{a0}' => Some(' '),
                c => Some(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use chrono::TimeZone;
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
        assert!(
            body.starts_with(
                "Subject: Re: Your balayage appointment on Saturday\n\nThanks! Can I rebook?\n\n\
Same again in about 8 weeks would be perfect — maybe a Saturday afternoon?\n\nMaya\n"
            ),
            "{body}"
        );
        assert!(
            body.contains("> balayage."),
            "TextBody is kept whole: {body}"
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
        assert_eq!(
            m.message.body.as_deref(),
            Some(
                "Thanks! Can I rebook?\n\n\
Same again in about 8 weeks would be perfect — maybe a Saturday afternoon?\n\nMaya\n\n\
On Sun, 25 Oct 2026 at 09:00, Lumière Hair Studio <hello@lumierehair.example> wrote:\n\
Hi Maya, thank you for visiting us yesterday!"
            )
        );
    }

    #[test]
    fn html_to_text_cases() {
        let cases = [
            ("<p>One</p><p>Two</p>", "One\n\nTwo"),
            ("<div>A</div><div>B</div>", "A\nB"),
            ("a<br>b<br/><br />c", "a\nb\n\nc"),
            ("  lots \n of\t\tspace  ", "lots of space"),
            ("x&nbsp;&nbsp;y", "x y"),
            (
                "&lt;b&gt; &amp; &quot;q&quot; &#39;s&#39; &apos; &#x2014; &#8212;",
                "<b> & \"q\" 's' ' — —",
            ),
            ("&amp;lt; stays", "&lt; stays"),
            (
                "&unknown; &amp &#xZZ; &#0; & alone",
                "&unknown; &amp &#xZZ; &#0; & alone",
            ),
            ("a < b > c", "a < b > c"),
            (
                "<html><head><title>T</title><style>p{color:red}</style></head>\
<body><script type=\"x\">alert('<p>')</script>Hi</body></html>",
                "Hi",
            ),
            ("<STYLE>x</Style >after", "after"),
            ("<style>a</styles>b</style>c", "c"),
            ("<!-- hidden <b> -->shown<!-- open", "shown"),
            ("<a href=\"x>y\" title='>'>link</a> text", "link text"),
            (
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
                "a b\nc",
            ),
            ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
            ("br<br><br><br><br>many", "br\n\nmany"),
            ("before<span unterminated", "before"),
            ("<b>bo</b>ld", "bold"),
            ("", ""),
            ("<p> </p>", ""),
            ("<!DOCTYPE html><p>é ✂️</p>", "é ✂️"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), want, "{html}");
        }
    }

    #[test]
    fn truncated_input_never_panics() {
        let html =
            "<p a='>é'>ü&#x1F600;&amp</p><STYLE>é</STYLE é><!--é-->\u{2014}<br/é>&#99999999;<";
        let date = "Sun, 25 Oct 2026 20:40:58 +01:00 (é)";
        for (i, _) in html.char_indices() {
            html_to_text(&html[..i]);
            html_to_text(&html[i..]);
        }
        for (i, _) in date.char_indices() {
            email_date(&date[..i]);
            email_date(&date[i..]);
        }
        assert_eq!(
            html_to_text(html),
            "ü\u{1F600}&amp\n\n\u{2014}\n&#99999999;<"
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
                ("video", Some("clip.MOV"), Some("Video/quicktime")),
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
            m.insert("FromFull".into(), json!({"Email": "not an address"}));
        }));
        assert_eq!(e.field, "FromFull.Email");
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
