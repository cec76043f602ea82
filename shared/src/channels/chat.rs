//! The project's own website chat widget: one visitor message per request,
//! authenticated per connection by a public key and an origin allow-list.
//! The request format is documented in `docs/chat-widget.md`.
//!
//! Everything in the body comes from a browser, so nothing in it is trusted:
//! ids are restricted to key-safe characters, every string has a length cap
//! (the stored event always fits in one DynamoDB item), attachment links must
//! be http(s), fields the format does not list and bytes after the object
//! are refused, the body is capped in size, and a browser clock that runs
//! ahead is not allowed to push a message into the future. Ingest also
//! rate-limits each visitor and each connection ([`VISITOR_LIMIT`],
//! [`CONNECTION_LIMIT`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, from_json};
use crate::identity::{Identity, IdentityKind};
use crate::model::{Attachment, Channel, Message, Provider, TouchSource};
use crate::signature::constant_time_eq;
use crate::store::RateLimit;

/// Carries the connection's public key (header names are case-insensitive).
pub const KEY_HEADER: &str = "x-chat-key";

/// How far a browser's `sent_at` may run ahead of our receipt time before
/// receipt time is used instead.
pub const MAX_CLOCK_AHEAD: TimeDelta = TimeDelta::minutes(5);

/// The largest request body. It holds every field at its maximum length in
/// plain UTF-8, and even escaped twice over in the queue envelope (quotes,
/// backslashes and newlines double) it fits in one SQS message, so chat
/// bodies never need the S3 claim check.
pub const MAX_BODY_BYTES: usize = 100 * 1024;

/// What one visitor (`visitor_id`) may post to one connection: a person
/// typing never comes close.
pub const VISITOR_LIMIT: RateLimit = RateLimit {
    max_requests: 20,
    window: TimeDelta::minutes(1),
};

/// What one connection (one website) accepts from all its visitors together:
/// thirty visitors chatting at full speed.
pub const CONNECTION_LIMIT: RateLimit = RateLimit {
    max_requests: 600,
    window: TimeDelta::minutes(1),
};

const MAX_ID_CHARS: usize = 128;
const MAX_TEXT_CHARS: usize = 10_000;
const MAX_ATTACHMENTS: usize = 10;
const MAX_URL_CHARS: usize = 4_096;
const MAX_NAME_CHARS: usize = 200;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PHONE_CHARS: usize = 32;
const MAX_UTM_CHARS: usize = 256;
const MAX_MIME_CHARS: usize = 255;
const MAX_FILENAME_CHARS: usize = 255;

// Required fields are `Option`s so that a missing one is reported under its
// own name rather than as a `missing field` error on the whole body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetMessage {
    #[serde(default)]
    visitor_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Option<Vec<WidgetAttachment>>,
    #[serde(default)]
    visitor: Option<Visitor>,
    #[serde(default)]
    page: Option<Page>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetAttachment {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Visitor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    referrer: Option<String>,
    #[serde(default)]
    utm_source: Option<String>,
    #[serde(default)]
    utm_medium: Option<String>,
    #[serde(default)]
    utm_campaign: Option<String>,
}

/// True when the request carries the connection's public key and comes from
/// one of its allowed origins. An empty key or allow-list denies everything.
///
/// The key is public (it is in the page's source) and `Origin` is only
/// trustworthy when a browser sets it, so this keeps other websites from
/// posting through visitors' browsers and stray traffic out; it does not stop
/// a script that forges both headers (see `docs/chat-widget.md`).
pub fn request_is_authorized(
    public_key: &str,
    allowed_origins: &[String],
    key_header: Option<&str>,
    origin_header: Option<&str>,
) -> bool {
    let key_ok = key_header.is_some_and(|given| {
        !public_key.is_empty() && constant_time_eq(public_key.as_bytes(), given.trim().as_bytes())
    });
    let origin_ok = origin_header.is_some_and(|origin| origin_is_allowed(allowed_origins, origin));
    key_ok && origin_ok
}

/// True when `origin` is one of `allowed_origins`: scheme and host compared
/// case-insensitively, the port exactly (a scheme's default port may be
/// written or not), a trailing slash ignored. Entries that are not plain
/// origins (a path, a wildcard, `null`) never match. Also answers CORS
/// preflights, which carry an `Origin` but no key.
pub fn origin_is_allowed(allowed_origins: &[String], origin: &str) -> bool {
    let Some(origin) = canonical_origin(origin) else {
        return false;
    };
    allowed_origins
        .iter()
        .filter_map(|allowed| canonical_origin(allowed))
        .any(|allowed| allowed == origin)
}

/// `scheme://host[:port]` lowercased, without a default port; `None` when
/// `raw` is not a serialized origin.
fn canonical_origin(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    let (scheme, authority) = raw.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let authority_ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '/' | '?' | '#' | '@' | '\\' | '*'));
    if !scheme_ok || !authority_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    // An IPv6 literal has colons of its own: the port follows the bracket.
    let host_end = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at_checked(host_end)?;
    let port = match port {
        "" => None,
        p => {
            let digits = p.strip_prefix(':')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let number: u16 = digits.parse().ok()?;
            let default = match scheme.as_str() {
                "http" => Some(80),
                "https" => Some(443),
                _ => None,
            };
            (default != Some(number)).then_some(number)
        }
    };
    if host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Parses an authorized widget request into its one message.
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    // serde would also read a struct from a JSON array, field by position.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'[') {
        return Err(ParseError::new("body", "must be a JSON object"));
    }
    let hook: WidgetMessage = from_json(body)?;
    let visitor_id = id(hook.visitor_id.as_deref(), "visitor_id")?;
    let message_id = id(hook.message_id.as_deref(), "message_id")?;
    let sent_at = sent_at(hook.sent_at.as_deref())?;

    let body = hook.text.filter(|t| !t.trim().is_empty());
    if let Some(text) = &body {
        check_len(text, MAX_TEXT_CHARS, "text")?;
    }
    let attachments = attachments(hook.attachments.as_deref().unwrap_or_default())?;
    if body.is_none() && attachments.is_empty() {
        return Err(ParseError::new(
            "text",
            "missing or empty, and there are no attachments",
        ));
    }

    let visitor = Identity::opaque(IdentityKind::Visitor, &visitor_id)
        .map_err(|e| ParseError::new("visitor_id", e.to_string()))?;
    let given_by = hook.visitor.as_ref();
    let customer_name = given_by.and_then(|v| given(&v.name));
    if let Some(name) = customer_name {
        check_len(name, MAX_NAME_CHARS, "visitor.name")?;
    }
    let email = given_by
        .and_then(|v| given(&v.email))
        .map(email)
        .transpose()?;
    let phone = given_by
        .and_then(|v| given(&v.phone))
        .map(|raw| phone(raw, ctx.default_region))
        .transpose()?;
    // The strongest identity is the customer; the rest tie to the same person.
    // How far each is trusted (the visitor id verified, what was typed a
    // claim) is decided in `identity::assurance`.
    let (customer, linked_identities) = match (email, phone) {
        (Some(email), Some(phone)) => (email, vec![phone, visitor]),
        (Some(email), None) => (email, vec![visitor]),
        (None, Some(phone)) => (phone, vec![visitor]),
        (None, None) => (visitor, Vec::new()),
    };

    let source = hook.page.as_ref().map(source).transpose()?;

    Ok(vec![CanonicalEvent::Message(IncomingMessage {
        provider: Provider::Chat,
        // Widget ids are only unique per visitor's browser.
        provider_message_id: format!("{visitor_id}/{message_id}"),
        channel: Channel::Chat,
        customer,
        customer_name: customer_name.map(str::to_string),
        linked_identities,
        occurred_at: occurred_at(sent_at, ctx.received_at),
        message: Message::inbound(body, attachments).with_source(source),
    })])
}

/// The visitor a parsed widget message came from (its `visitor_id`), which
/// the per-visitor rate limit counts.
pub fn visitor(events: &[CanonicalEvent]) -> Option<&Identity> {
    events.iter().find_map(|event| match event {
        CanonicalEvent::Message(m) => std::iter::once(&m.customer)
            .chain(&m.linked_identities)
            .find(|identity| identity.kind == IdentityKind::Visitor),
        CanonicalEvent::Status(_)
        | CanonicalEvent::Deletion(_)
        | CanonicalEvent::Call(_)
        | CanonicalEvent::Booking(_)
        | CanonicalEvent::Payment(_) => None,
    })
}

/// The browser's clock, unless it runs more than [`MAX_CLOCK_AHEAD`] ahead of
/// ours. An earlier time is kept: a widget may resend after being offline.
fn occurred_at(sent_at: DateTime<Utc>, received_at: DateTime<Utc>) -> DateTime<Utc> {
    let ahead = received_at
        .checked_add_signed(MAX_CLOCK_AHEAD)
        .is_some_and(|limit| sent_at > limit);
    if ahead { received_at } else { sent_at }
}

/// A widget-generated id: it ends up in storage keys, so visible ASCII only
/// and never the key separator `#`.
fn id(raw: Option<&str>, field: &str) -> Result<String, ParseError> {
    let raw = raw.ok_or_else(|| ParseError::new(field, "missing"))?;
    if raw.is_empty() {
        return Err(ParseError::new(field, "is empty"));
    }
    check_len(raw, MAX_ID_CHARS, field)?;
    if !raw.bytes().all(|b| b.is_ascii_graphic() && b != b'#') {
        return Err(ParseError::new(
            field,
            "may only contain visible ASCII characters other than '#'",
        ));
    }
    Ok(raw.to_string())
}

fn sent_at(raw: Option<&str>) -> Result<DateTime<Utc>, ParseError> {
    let raw = raw.ok_or_else(|| ParseError::new("sent_at", "missing"))?;
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ParseError::new(
                "sent_at",
                "is not an RFC 3339 timestamp (e.g. 2026-10-20T17:00:00.000Z)",
            )
        })
}

fn attachments(given_list: &[WidgetAttachment]) -> Result<Vec<Attachment>, ParseError> {
    if given_list.len() > MAX_ATTACHMENTS {
        return Err(ParseError::new(
            "attachments",
            format!("more than {MAX_ATTACHMENTS} attachments"),
        ));
    }
    let mut out = Vec::with_capacity(given_list.len());
    for (i, a) in given_list.iter().enumerate() {
        let path = format!("attachments[{i}]");
        let url_field = format!("{path}.url");
        let url = given(&a.url).ok_or_else(|| ParseError::new(url_field.as_str(), "missing"))?;
        link(url, &url_field)?;
        let mime_type = given(&a.mime_type);
        if let Some(mime) = mime_type {
            check_len(mime, MAX_MIME_CHARS, &format!("{path}.mime_type"))?;
        }
        let filename = given(&a.filename);
        if let Some(name) = filename {
            check_len(name, MAX_FILENAME_CHARS, &format!("{path}.filename"))?;
        }
        out.push(Attachment {
            kind: super::attachment::kind_for_mime(mime_type).to_string(),
            media_id: None,
            url: Some(url.to_string()),
            mime_type: mime_type.map(str::to_string),
            caption: None,
            filename: filename.map(str::to_string),
        });
    }
    Ok(out)
}

/// A link staff may open: capped, and http(s) only (no `javascript:` or
/// `data:` URLs).
fn link(url: &str, field: &str) -> Result<(), ParseError> {
    check_len(url, MAX_URL_CHARS, field)?;
    if !is_http_url(url) {
        return Err(ParseError::new(field, "must be an http(s) URL"));
    }
    Ok(())
}

fn is_http_url(url: &str) -> bool {
    ["https://", "http://"].iter().any(|scheme| {
        url.len() > scheme.len()
            && url
                .as_bytes()
                .get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme.as_bytes()))
    })
}

fn email(raw: &str) -> Result<Identity, ParseError> {
    const FIELD: &str = "visitor.email";
    check_len(raw, MAX_EMAIL_CHARS, FIELD)?;
    // `Identity::email` is lenient; one '@' keeps "a@b.c,d@e.f" out.
    if raw.matches('@').count() != 1 {
        return Err(ParseError::new(
            FIELD,
            format!("'{raw}' is not an email address"),
        ));
    }
    Identity::email(raw).map_err(|e| ParseError::new(FIELD, e.to_string()))
}

fn phone(raw: &str, default_region: Option<&str>) -> Result<Identity, ParseError> {
    const FIELD: &str = "visitor.phone";
    check_len(raw, MAX_PHONE_CHARS, FIELD)?;
    // The phone parser reads digits out of almost anything ("maya@example.com1"
    // would become a number): only digits and the usual separators pass, so an
    // email typed into the phone field cannot merge the visitor into a stranger.
    let plausible = raw.bytes().any(|b| b.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-().\\/".contains(c));
    if !plausible {
        return Err(ParseError::new(
            FIELD,
            format!("'{raw}' is not a phone number"),
        ));
    }
    Identity::phone(raw, default_region).map_err(|e| ParseError::new(FIELD, e.to_string()))
}

fn source(page: &Page) -> Result<TouchSource, ParseError> {
    let url = given(&page.url);
    if let Some(url) = url {
        link(url, "page.url")?;
    }
    let referrer = given(&page.referrer);
    if let Some(referrer) = referrer {
        link(referrer, "page.referrer")?;
    }
    let utm = [
        (&page.utm_source, "page.utm_source"),
        (&page.utm_medium, "page.utm_medium"),
        (&page.utm_campaign, "page.utm_campaign"),
    ];
    for (value, field) in utm {
        if let Some(value) = given(value) {
            check_len(value, MAX_UTM_CHARS, field)?;
        }
    }
    let owned = |v: &Option<String>| given(v).map(str::to_string);
    let explicit = Utm {
        source: owned(&page.utm_source),
        medium: owned(&page.utm_medium),
        campaign: owned(&page.utm_campaign),
    };
    // All three from one place: explicit fields, or else the page's query.
    let utm = if explicit.is_empty() {
        url.map(utm_from_url).unwrap_or_default()
    } else {
        explicit
    };
    Ok(TouchSource {
        kind: "chat_widget".to_string(),
        url: url.map(str::to_string),
        referrer: referrer.map(str::to_string),
        utm_source: utm.source,
        utm_medium: utm.medium,
        utm_campaign: utm.campaign,
    })
}

#[derive(Default)]
struct Utm {
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
}

impl Utm {
    fn is_empty(&self) -> bool {
        self.source.is_none() && self.medium.is_none() && self.campaign.is_none()
    }
}

/// `utm_*` parameters of a URL's query (first occurrence of each wins).
fn utm_from_url(url: &str) -> Utm {
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let Some((_, query)) = without_fragment.split_once('?') else {
        return Utm::default();
    };
    let mut utm = Utm::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "utm_source" => &mut utm.source,
            "utm_medium" => &mut utm.medium,
            "utm_campaign" => &mut utm.campaign,
            _ => continue,
        };
        let value = value.trim();
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.chars().take(MAX_UTM_CHARS).collect());
        }
    }
    utm
}

/// An optional string, trimmed; blank counts as absent (forms send "").
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn check_len(value: &str, max: usize, field: &str) -> Result<(), ParseError> {
    if value.chars().count() > max {
        return Err(ParseError::new(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Author, Direction};
    use serde_json::{Value, json};

    fn received_at() -> DateTime<Utc> {
        "2026-10-20T17:00:30Z".parse().unwrap()
    }

    fn ctx(region: Option<&'static str>) -> ParseContext<'static> {
        ParseContext {
            received_at: received_at(),
            default_region: region,
        }
    }

    fn request(extra: Value) -> Vec<u8> {
        let mut body = json!({
            "visitor_id": "v_8f2c41",
            "message_id": "m_01JABCDEF",
            "sent_at": "2026-10-20T17:00:00.000Z",
            "text": "Do you do balayage?",
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&body).unwrap()
    }

    fn message(extra: Value, region: Option<&'static str>) -> IncomingMessage {
        let events = parse(&request(extra), &ctx(region)).unwrap();
        match events.as_slice() {
            [CanonicalEvent::Message(m)] => m.clone(),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn error(extra: Value) -> ParseError {
        parse(&request(extra), &ctx(None)).unwrap_err()
    }

    fn visitor() -> Identity {
        Identity::opaque(IdentityKind::Visitor, "v_8f2c41").unwrap()
    }

    #[test]
    fn anonymous_visitor_is_known_by_the_visitor_id() {
        let m = message(json!({}), None);
        assert_eq!(m.provider, Provider::Chat);
        assert_eq!(m.channel, Channel::Chat);
        assert!(m.provider_message_id.ends_with("/m_01JABCDEF"));
        assert_eq!(m.customer, visitor());
        assert!(m.linked_identities.is_empty());
        assert_eq!(m.customer_name, None);
        assert_eq!(
            m.occurred_at,
            "2026-10-20T17:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        assert_eq!(m.message.body.as_deref(), Some("Do you do balayage?"));
        assert!(m.message.attachments.is_empty());
        assert_eq!(m.message.status, None);
        assert!(!m.message.deleted);
        assert_eq!(m.message.source, None);
    }

    #[test]
    fn the_mod_level_dispatch_reaches_this_adapter() {
        let events = super::super::parse(Provider::Chat, &request(json!({})), &ctx(None)).unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn visitor_with_an_email_is_the_email_linked_to_the_visitor() {
        let m = message(
            json!({"visitor": {"name": " Maya ", "email": " Maya@Example.COM "}}),
            None,
        );
        assert_eq!(m.customer, Identity::email("maya@example.com").unwrap());
        assert_eq!(m.linked_identities, vec![visitor()]);
        assert_eq!(m.customer_name.as_deref(), Some("Maya"));
    }

    #[test]
    fn email_and_phone_make_email_the_customer_and_link_the_rest() {
        let m = message(
            json!({"visitor": {"email": "maya@example.com", "phone": "+44 7700 900123"}}),
            None,
        );
        assert_eq!(m.customer.kind, IdentityKind::Email);
        assert_eq!(m.customer.value, "maya@example.com");
        let phone = Identity::phone("+447700900123", None).unwrap();
        assert_eq!(m.linked_identities, vec![phone, visitor()]);
    }

    #[test]
    fn national_phone_uses_the_default_region() {
        let m = message(json!({"visitor": {"phone": "0151 2345678"}}), Some("DE"));
        assert_eq!(m.customer.kind, IdentityKind::Phone);
        assert_eq!(m.customer.value, "+491512345678");
        assert_eq!(m.linked_identities, vec![visitor()]);
    }

    #[test]
    fn odd_phone_inputs_are_errors_not_panics() {
        let m = message(json!({"visitor": {"phone": "+44 (0)7700 900123"}}), None);
        assert_eq!(m.customer.value, "+447700900123");
        let m = message(
            json!({"visitor": {"phone": "0049 (0)151 2345678"}}),
            Some("DE"),
        );
        assert_eq!(m.customer.value, "+491512345678");
        let m = message(json!({"visitor": {"phone": "(030) 1234567"}}), Some("DE"));
        assert_eq!(m.customer.value, "+49301234567");
        let odd = [
            "+",
            "++44",
            "()",
            "0",
            "+0",
            "00",
            "+999 1",
            "1/2",
            "\\1",
            "  2 22",
            "+-().",
            "+1 (",
            "0049 151 2345678",
            "1234567890123456789012345678901",
        ];
        for raw in odd {
            for region in [None, Some("DE"), Some("GB"), Some("US")] {
                let extra = json!({"visitor": {"phone": raw}});
                if let Err(e) = parse(&request(extra), &ctx(region)) {
                    assert_eq!(e.field, "visitor.phone", "{raw}: {e}");
                }
            }
        }
    }

    #[test]
    fn blank_visitor_fields_count_as_absent() {
        let m = message(
            json!({"visitor": {"name": "", "email": "  ", "phone": ""}}),
            None,
        );
        assert_eq!(m.customer, visitor());
        assert_eq!(m.customer_name, None);
    }

    #[test]
    fn page_becomes_the_touch_source() {
        let m = message(
            json!({"page": {
                "url": "https://salon.example/prices?utm_source=bing",
                "referrer": "https://www.google.com/",
                "utm_source": "google",
                "utm_medium": "cpc",
                "utm_campaign": "autumn"
            }}),
            None,
        );
        let source = m.message.source.unwrap();
        assert_eq!(source.kind, "chat_widget");
        assert_eq!(
            source.url.as_deref(),
            Some("https://salon.example/prices?utm_source=bing")
        );
        assert_eq!(source.referrer.as_deref(), Some("https://www.google.com/"));
        // Explicit fields win, all three together: no mixing with the query.
        assert_eq!(source.utm_source.as_deref(), Some("google"));
        assert_eq!(source.utm_medium.as_deref(), Some("cpc"));
        assert_eq!(source.utm_campaign.as_deref(), Some("autumn"));
    }

    #[test]
    fn utm_is_read_from_the_url_query_when_absent() {
        let url = "https://salon.example/prices?x=1&utm_source=google&utm_medium=cpc\
                   &utm_campaign=autumn%20sale+2026&utm_source=other#utm_medium=frag";
        let m = message(json!({"page": {"url": url, "referrer": ""}}), None);
        let source = m.message.source.unwrap();
        assert_eq!(source.url.as_deref(), Some(url));
        assert_eq!(source.referrer, None);
        assert_eq!(source.utm_source.as_deref(), Some("google"));
        assert_eq!(source.utm_medium.as_deref(), Some("cpc"));
        assert_eq!(source.utm_campaign.as_deref(), Some("autumn sale 2026"));

        let m = message(json!({"page": {"url": "https://salon.example/"}}), None);
        let source = m.message.source.unwrap();
        assert_eq!(source.utm_source, None);
        let m = message(json!({"page": {}}), None);
        assert_eq!(m.message.source.unwrap().kind, "chat_widget");
    }

    #[test]
    fn a_browser_clock_far_ahead_is_replaced_by_receipt_time() {
        let m = message(json!({"sent_at": "2026-10-20T17:10:00Z"}), None);
        assert_eq!(m.occurred_at, received_at());
        // Within the allowance, and in the past, the browser's time stands.
        let m = message(json!({"sent_at": "2026-10-20T19:04:00+02:00"}), None);
        assert_eq!(
            m.occurred_at,
            "2026-10-20T17:04:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let m = message(json!({"sent_at": "2026-10-19T09:00:00Z"}), None);
        assert_eq!(
            m.occurred_at,
            "2026-10-19T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn attachments_get_a_kind_from_their_mime_type() {
        let m = message(
            json!({"text": "", "attachments": [
                {"url": "https://cdn.example/a.jpg", "mime_type": "image/jpeg", "filename": "a.jpg"},
                {"url": "https://cdn.example/b.mp4", "mime_type": "Video/MP4"},
                {"url": "https://cdn.example/c.ogg", "mime_type": "audio/ogg"},
                {"url": "HTTPS://cdn.example/d.pdf", "mime_type": "application/pdf"},
                {"url": "https://cdn.example/e"}
            ]}),
            None,
        );
        assert_eq!(m.message.body, None);
        let kinds: Vec<_> = m
            .message
            .attachments
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(kinds, ["image", "video", "audio", "file", "file"]);
        let first = &m.message.attachments[0];
        assert_eq!(first.url.as_deref(), Some("https://cdn.example/a.jpg"));
        assert_eq!(first.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(first.filename.as_deref(), Some("a.jpg"));
    }

    #[test]
    fn malformed_requests_name_the_field() {
        let cases = [
            (json!({"visitor_id": null}), "visitor_id"),
            (json!({"visitor_id": ""}), "visitor_id"),
            (json!({"visitor_id": 42}), "visitor_id"),
            (json!({"visitor_id": "v#1"}), "visitor_id"),
            (json!({"visitor_id": "v 1"}), "visitor_id"),
            (json!({"visitor_id": "v".repeat(129)}), "visitor_id"),
            (json!({"message_id": null}), "message_id"),
            (json!({"message_id": "m#1"}), "message_id"),
            (json!({"sent_at": null}), "sent_at"),
            (json!({"sent_at": "yesterday"}), "sent_at"),
            (json!({"sent_at": "2026-10-20 17:00"}), "sent_at"),
            (json!({"text": null}), "text"),
            (json!({"text": "   "}), "text"),
            (json!({"text": "x".repeat(10_001)}), "text"),
            (
                json!({"visitor": {"email": "not an email"}}),
                "visitor.email",
            ),
            (
                json!({"visitor": {"email": "a@b.c,d@e.f"}}),
                "visitor.email",
            ),
            (
                json!({"visitor": {"phone": "maya@example.com"}}),
                "visitor.phone",
            ),
            (json!({"visitor": {"phone": "call me"}}), "visitor.phone"),
            (
                json!({"visitor": {"phone": "0151 2345678"}}),
                "visitor.phone",
            ),
            (
                json!({"visitor": {"name": "n".repeat(201)}}),
                "visitor.name",
            ),
            (
                json!({"attachments": [{"mime_type": "image/png"}]}),
                "attachments[0].url",
            ),
            (
                json!({"attachments": [{"url": "https://x.example/a"}, {"url": "javascript:alert(1)"}]}),
                "attachments[1].url",
            ),
            (
                json!({"attachments": vec![json!({"url": "https://x.example/a"}); 11]}),
                "attachments",
            ),
            (json!({"page": {"url": "x".repeat(4_097)}}), "page.url"),
            (json!({"page": "https://salon.example/"}), "page"),
        ];
        for (extra, field) in cases {
            let shown = extra.to_string();
            let err = error(extra);
            assert_eq!(err.field, field, "{shown}: {err}");
        }
        let err = parse(b"not json", &ctx(None)).unwrap_err();
        assert_eq!(err.field, "body");
        let err = parse(b"[]", &ctx(None)).unwrap_err();
        assert_eq!(err.field, "body");
        let positional = br#" ["v1", "m1", "2026-10-20T17:00:00Z", "hi"]"#;
        assert_eq!(parse(positional, &ctx(None)).unwrap_err().field, "body");
    }

    #[test]
    fn page_links_must_be_http_urls() {
        let cases = [
            (json!({"page": {"url": "javascript:alert(1)"}}), "page.url"),
            (json!({"page": {"url": "salon.example/prices"}}), "page.url"),
            (json!({"page": {"url": "ftp://salon.example/"}}), "page.url"),
            (
                json!({"page": {"referrer": "data:text/html,<script>x</script>"}}),
                "page.referrer",
            ),
            (json!({"page": {"referrer": "https://"}}), "page.referrer"),
        ];
        for (extra, field) in cases {
            let shown = extra.to_string();
            let err = error(extra);
            assert_eq!(err.field, field, "{shown}: {err}");
            assert!(err.detail.contains("http(s)"), "{shown}: {err}");
        }
        let m = message(
            json!({"page": {"url": "HTTP://salon.example/", "referrer": "https://www.google.com/"}}),
            None,
        );
        assert_eq!(
            m.message.source.unwrap().url.as_deref(),
            Some("HTTP://salon.example/")
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let cases = [
            (json!({"x_padding": "x"}), "x_padding"),
            (
                json!({"visitor": {"email": "a@b.example", "age": 3}}),
                "visitor.age",
            ),
            (json!({"page": {"title": "Prices"}}), "page.title"),
            (
                json!({"attachments": [{"url": "https://x.example/a", "size": 9}]}),
                "attachments[0].size",
            ),
        ];
        for (extra, field) in cases {
            let shown = extra.to_string();
            let err = error(extra);
            assert_eq!(err.field, field, "{shown}: {err}");
            assert!(err.detail.contains("unknown field"), "{shown}: {err}");
        }
    }

    #[test]
    fn bytes_after_the_object_are_refused() {
        let body = request(json!({}));
        for tail in [&b" x"[..], b"{}", b"[]", b"\"0\"", b",", b"\0"] {
            let mut with_tail = body.clone();
            with_tail.extend_from_slice(tail);
            let err = parse(&with_tail, &ctx(None)).unwrap_err();
            assert_eq!(err.field, "body", "{}", String::from_utf8_lossy(tail));
        }
        let mut padded = body.clone();
        padded.extend_from_slice(b" \r\n\t ");
        assert!(parse(&padded, &ctx(None)).is_ok());
    }

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn authorized_with_the_key_from_an_allowed_origin() {
        let allowed = origins(&["https://salon.example", "https://www.salon.example"]);
        let ok = |key, origin| request_is_authorized("pk_live_123", &allowed, key, origin);
        assert!(ok(Some("pk_live_123"), Some("https://salon.example")));
        assert!(ok(Some("pk_live_123"), Some("https://www.salon.example")));
        assert!(ok(Some("pk_live_123"), Some("HTTPS://Salon.Example")));
        // Wrong key, wrong origin, missing headers.
        assert!(!ok(Some("pk_live_124"), Some("https://salon.example")));
        assert!(!ok(Some("pk_live_12"), Some("https://salon.example")));
        assert!(!ok(Some(""), Some("https://salon.example")));
        assert!(!ok(Some("pk_live_123"), Some("https://evil.example")));
        assert!(!ok(Some("pk_live_123"), Some("http://salon.example")));
        assert!(!ok(
            Some("pk_live_123"),
            Some("https://salon.example.evil.example")
        ));
        assert!(!ok(Some("pk_live_123"), Some("null")));
        assert!(!ok(None, Some("https://salon.example")));
        assert!(!ok(Some("pk_live_123"), None));
        assert!(!ok(None, None));
    }

    #[test]
    fn an_empty_allow_list_or_key_denies_everything() {
        assert!(!request_is_authorized(
            "pk_live_123",
            &[],
            Some("pk_live_123"),
            Some("https://salon.example")
        ));
        let allowed = origins(&["https://salon.example"]);
        assert!(!request_is_authorized(
            "",
            &allowed,
            Some(""),
            Some("https://salon.example")
        ));
    }

    #[test]
    fn origins_match_ignoring_a_trailing_slash_and_default_ports() {
        let allowed = origins(&["https://salon.example/", "http://localhost:8080"]);
        assert!(origin_is_allowed(&allowed, "https://salon.example"));
        assert!(origin_is_allowed(&allowed, "https://salon.example/"));
        assert!(origin_is_allowed(&allowed, "https://salon.example:443"));
        assert!(origin_is_allowed(&allowed, "http://localhost:8080"));
        assert!(!origin_is_allowed(&allowed, "http://localhost:8081"));
        assert!(!origin_is_allowed(&allowed, "http://localhost"));
        assert!(!origin_is_allowed(&allowed, "https://salon.example:8443"));
        assert!(!origin_is_allowed(
            &origins(&["https://salon.example"]),
            "https://salon.example/prices"
        ));
        // Entries that are not origins never match.
        for entry in [
            "*",
            "https://*.salon.example",
            "https://salon.example/prices",
            "salon.example",
            "null",
        ] {
            assert!(
                !origin_is_allowed(&origins(&[entry]), "https://salon.example"),
                "{entry}"
            );
        }
        let v6 = origins(&["http://[::1]:3000"]);
        assert!(origin_is_allowed(&v6, "http://[::1]:3000"));
        assert!(!origin_is_allowed(&v6, "http://[::1]:3001"));
    }
}
