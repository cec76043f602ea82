//! Chat widget.

use super::*;

/// `chat`: the widget parser on the body, and the Origin and key check on
/// the body read as lines: origin, public key, key header, allowed origins.
pub fn check_chat(data: &[u8]) {
    warm_up();
    const REGIONS: [Option<&str>; 4] = [None, Some("GB"), Some("DE"), Some("US")];
    let ctx = ctx(REGIONS[data.len() % REGIONS.len()]);
    let parsed = within_budget("chat::parse", data.len(), || chat::parse(data, &ctx));
    if let Ok(events) = parsed {
        check_events(&events);
        let m = only_message(&events, Provider::Chat);
        assert_eq!(m.channel, Channel::Chat);
        assert!(
            m.provider_message_id.contains('/'),
            "chat ids are visitor/message"
        );
        let visitor = match m.customer.kind {
            IdentityKind::Visitor => &m.customer,
            _ => m
                .linked_identities
                .last()
                .unwrap_or_else(|| panic!("a known visitor is linked to their visitor id")),
        };
        assert_eq!(visitor.kind, IdentityKind::Visitor);
        let body = m.message.body.as_deref();
        assert!(body.is_none_or(|b| !b.trim().is_empty() && b.chars().count() <= 10_000));
        assert!(body.is_some() || !m.message.attachments.is_empty());
        assert!(m.message.attachments.len() <= 10);
        for a in &m.message.attachments {
            let url = a.url.as_deref().unwrap_or_default().to_ascii_lowercase();
            assert!(
                url.starts_with("https://") || url.starts_with("http://"),
                "attachment link is not http(s): {url:?}"
            );
        }
        assert!(
            m.occurred_at <= ctx.received_at + chat::MAX_CLOCK_AHEAD,
            "a message from the future: {}",
            m.occurred_at
        );
    }

    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let origin = lines.next().unwrap_or_default();
    let public_key = lines.next().unwrap_or_default();
    let key_header = lines.next();
    let allowed: Vec<String> = lines.map(str::to_string).collect();
    within_budget("chat origin check", data.len(), || {
        check_origin(&allowed, origin, public_key, key_header)
    });
}

/// Scheme and host, lowercased, of `scheme://host[:port]` as a browser
/// writes an origin (a plain split, independent of the checker's parser).
pub(super) fn scheme_and_host(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let host = if rest.starts_with('[') {
        &rest[..=rest.find(']')?]
    } else {
        rest.split(':').next()?
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

pub(super) fn check_origin(
    allowed: &[String],
    origin: &str,
    public_key: &str,
    key_header: Option<&str>,
) {
    let ok = chat::origin_is_allowed(allowed, origin);
    let one = |entry: &str, o: &str| chat::origin_is_allowed(&[entry.to_string()], o);
    if ok {
        let o = origin.trim();
        assert!(
            !o.chars().any(|c| c.is_whitespace()
                || !c.is_ascii()
                || matches!(c, '@' | '\\' | '?' | '#' | '*')),
            "allowed an origin with userinfo, a path, a query or odd characters: {origin:?}"
        );
        assert!(
            one(origin, origin),
            "an allowed origin does not allow itself"
        );
        let (scheme, host) = scheme_and_host(origin)
            .unwrap_or_else(|| panic!("allowed origin {origin:?} has no scheme://host"));
        let entry = allowed
            .iter()
            .find(|e| one(e, origin))
            .unwrap_or_else(|| panic!("{origin:?} allowed, but by no single entry"));
        assert!(one(origin, entry), "origin matching is not symmetric");
        assert_eq!(
            scheme_and_host(entry),
            Some((scheme, host)),
            "{origin:?} allowed by {entry:?}, another scheme or host"
        );
    }
    // Case, surrounding whitespace and a trailing slash do not matter.
    let trimmed = origin.trim();
    assert_eq!(chat::origin_is_allowed(allowed, trimmed), ok);
    assert_eq!(
        chat::origin_is_allowed(allowed, &trimmed.to_ascii_uppercase()),
        ok
    );
    if !trimmed.ends_with('/') {
        assert_eq!(chat::origin_is_allowed(allowed, &format!("{trimmed}/")), ok);
    }
    let authorized = chat::request_is_authorized(public_key, allowed, key_header, Some(origin));
    let key_ok = !public_key.is_empty() && key_header.is_some_and(|k| k.trim() == public_key);
    assert_eq!(
        authorized,
        key_ok && ok,
        "key {key_header:?} vs {public_key:?}"
    );
    assert!(!chat::request_is_authorized(
        public_key, allowed, key_header, None
    ));
    assert!(!chat::request_is_authorized(
        public_key,
        allowed,
        None,
        Some(origin)
    ));
}
