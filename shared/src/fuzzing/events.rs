//! Canonical events.

use super::*;

/// An id that becomes part of a storage key: non-empty, bounded, and
/// without the key separator.
pub fn check_id(field: &str, id: &str) {
    assert!(!id.is_empty(), "{field} is empty");
    check_id_length(field, id);
    check_no_separator(field, id);
}

/// Without the key separator `#`.
pub fn check_no_separator(field: &str, id: &str) {
    assert!(
        !id.contains('#'),
        "{field} contains the key separator '#': {id:?}"
    );
}

/// At most [`MAX_ID_BYTES`].
pub fn check_id_length(field: &str, id: &str) {
    assert!(
        id.len() <= MAX_ID_BYTES,
        "{field} is {} bytes (limit {MAX_ID_BYTES})",
        id.len()
    );
}

/// A normalized identity: bounded, and a fixed point of its normalization.
/// An email may hold '#' (RFC 5322 allows it, and identity values are read
/// back from attributes, never split out of keys); other kinds may not.
pub fn check_normalized(identity: &Identity) {
    let value = &identity.value;
    assert!(!value.is_empty(), "{:?} identity is empty", identity.kind);
    // Addresses and numbers are bounded whatever the adapter (opaque ids
    // by `check_id` below).
    match identity.kind {
        IdentityKind::Email => assert!(
            value.len() <= crate::identity::MAX_EMAIL_BYTES,
            "email identity is {} bytes (limit {})",
            value.len(),
            crate::identity::MAX_EMAIL_BYTES
        ),
        IdentityKind::Phone => check_id_length("phone identity", value),
        _ => {}
    }
    match identity.kind {
        IdentityKind::Email => {
            assert_eq!(
                Identity::email(value).as_ref(),
                Ok(identity),
                "email normalization is not idempotent"
            );
        }
        IdentityKind::Phone => {
            assert!(
                value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit()),
                "phone identity is not E.164: {value:?}"
            );
            assert_eq!(
                Identity::phone(value, None).as_ref(),
                Ok(identity),
                "phone normalization is not idempotent"
            );
        }
        IdentityKind::InstagramId | IdentityKind::WhatsappUser | IdentityKind::Visitor => {
            check_id("opaque identity", value);
            check_no_separator("opaque identity", value);
            assert_eq!(
                Identity::opaque(identity.kind, value).as_ref(),
                Ok(identity),
                "opaque identity is not a fixed point"
            );
        }
    }
}

/// Every id and identity in `events`.
pub fn check_events(events: &[CanonicalEvent]) {
    for event in events {
        match event {
            CanonicalEvent::Message(m) => {
                check_id("provider_message_id", &m.provider_message_id);
                check_normalized(&m.customer);
                m.linked_identities.iter().for_each(check_normalized);
            }
            CanonicalEvent::Status(s) => {
                check_id("provider_message_id", &s.provider_message_id);
                s.customer.iter().for_each(check_normalized);
            }
            CanonicalEvent::Deletion(d) => check_id("provider_message_id", &d.provider_message_id),
            CanonicalEvent::Call(c) => {
                check_id("call_id", &c.call_id);
                check_normalized(&c.customer);
            }
            CanonicalEvent::Booking(b) => {
                check_id("booking_id", &b.booking_id);
                if let Some(old) = &b.replaces_booking_id {
                    check_id("replaces_booking_id", old);
                }
                check_normalized(&b.customer);
                b.linked_identities.iter().for_each(check_normalized);
            }
            CanonicalEvent::Payment(p) => {
                check_id("payment_id", &p.payment_id);
                p.customer.iter().for_each(check_normalized);
                p.linked_identities.iter().for_each(check_normalized);
            }
        }
    }
}

/// The one inbound message an adapter that yields exactly one returns.
pub(super) fn only_message(events: &[CanonicalEvent], provider: Provider) -> &IncomingMessage {
    match events {
        [CanonicalEvent::Message(m)] => {
            assert_eq!(m.provider, provider);
            assert_eq!(m.message.direction, Direction::Inbound);
            m
        }
        other => panic!("expected one message, got {other:?}"),
    }
}
