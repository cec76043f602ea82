//! The one check every adapter's output passes (`channels::parse`, so at
//! ingest and again at normalize) before any of it is queued or becomes a
//! key: ids that are empty, longer than [`limits::MAX_KEY_ID_BYTES`] or hold
//! the key separator '#', and instants outside [`limits::YEARS`], refuse the
//! delivery. An adapter that can do better than refuse (fall back to another
//! id, leave a reference out) does so before this point.
//!
//! Errors name the canonical field (`events[1].call_id`), never its value:
//! ids and identities are personal data.

use chrono::{DateTime, Utc};

use super::{CanonicalEvent, ParseError};
use crate::identity::{Identity, IdentityKind};
use crate::limits;
use crate::model::EmailThread;

/// Refuses the delivery unless every event's ids and instants can be keys;
/// cuts the names and error texts events carry to their bounds.
pub(super) fn admit(events: &mut [CanonicalEvent]) -> Result<(), ParseError> {
    for (i, event) in events.iter_mut().enumerate() {
        check(event, &format!("events[{i}]"))?;
        bound(event);
    }
    Ok(())
}

fn check(event: &CanonicalEvent, at: &str) -> Result<(), ParseError> {
    let field = |name: &str| format!("{at}.{name}");
    match event {
        CanonicalEvent::Message(m) => {
            key_id(&m.provider_message_id, field("provider_message_id"))?;
            identity(&m.customer, &field("customer"))?;
            identities(&m.linked_identities, &field("linked_identities"))?;
            instant(m.occurred_at, field("occurred_at"))?;
            if let Some(status_at) = m.message.status_at {
                instant(status_at, field("message.status_at"))?;
            }
            if let Some(thread) = &m.message.thread {
                thread_ids(thread, &field("message.thread"))?;
            }
        }
        CanonicalEvent::Status(s) => {
            key_id(&s.provider_message_id, field("provider_message_id"))?;
            if let Some(customer) = &s.customer {
                identity(customer, &field("customer"))?;
            }
            instant(s.at, field("at"))?;
        }
        CanonicalEvent::Deletion(d) => {
            key_id(&d.provider_message_id, field("provider_message_id"))?;
            instant(d.at, field("at"))?;
        }
        CanonicalEvent::Call(c) => {
            key_id(&c.call_id, field("call_id"))?;
            identity(&c.customer, &field("customer"))?;
            instant(c.at, field("at"))?;
        }
        CanonicalEvent::Booking(b) => {
            key_id(&b.booking_id, field("booking_id"))?;
            if let Some(replaced) = &b.replaces_booking_id {
                key_id(replaced, field("replaces_booking_id"))?;
            }
            identity(&b.customer, &field("customer"))?;
            identities(&b.linked_identities, &field("linked_identities"))?;
            instant(b.at, field("at"))?;
            for (name, at) in [("starts_at", b.starts_at), ("ends_at", b.ends_at)] {
                if let Some(at) = at {
                    instant(at, field(name))?;
                }
            }
        }
        CanonicalEvent::Payment(p) => {
            key_id(&p.payment_id, field("payment_id"))?;
            if let Some(customer) = &p.customer {
                identity(customer, &field("customer"))?;
            }
            identities(&p.linked_identities, &field("linked_identities"))?;
            instant(p.at, field("at"))?;
        }
    }
    Ok(())
}

fn bound(event: &mut CanonicalEvent) {
    let name = match event {
        CanonicalEvent::Message(m) => &mut m.customer_name,
        CanonicalEvent::Booking(b) => &mut b.customer_name,
        CanonicalEvent::Payment(p) => &mut p.customer_name,
        CanonicalEvent::Status(s) => {
            // Stored on the message it reports on, bypassing its bounds.
            limits::cut_opt(&mut s.error, limits::MAX_SHORT_TEXT_BYTES);
            return;
        }
        CanonicalEvent::Deletion(_) | CanonicalEvent::Call(_) => return,
    };
    // A display name goes on the contact's profile item.
    limits::cut_opt(name, limits::MAX_LABEL_BYTES);
}

fn key_id(id: &str, field: String) -> Result<(), ParseError> {
    match limits::key_id_problem(id, false) {
        Some(problem) => Err(ParseError::new(field, problem)),
        None => Ok(()),
    }
}

fn identity(identity: &Identity, at: &str) -> Result<(), ParseError> {
    let may_hold_hash = match identity.kind {
        // Legal in an address's local part; the address ends its key.
        IdentityKind::Email => true,
        IdentityKind::Phone
        | IdentityKind::InstagramId
        | IdentityKind::WhatsappUser
        | IdentityKind::Visitor => false,
    };
    match limits::key_id_problem(&identity.value, may_hold_hash) {
        Some(problem) => Err(ParseError::new(format!("{at}.value"), problem)),
        None => Ok(()),
    }
}

fn identities(identities: &[Identity], at: &str) -> Result<(), ParseError> {
    for (i, linked) in identities.iter().enumerate() {
        identity(linked, &format!("{at}[{i}]"))?;
    }
    Ok(())
}

/// Threading ids name other messages by their provider message ids (a
/// reply's `In-Reply-To` is the Message-ID it answers), so they follow the
/// same rule.
fn thread_ids(thread: &EmailThread, at: &str) -> Result<(), ParseError> {
    if let Some(id) = &thread.message_id {
        key_id(id, format!("{at}.message_id"))?;
    }
    for (name, ids) in [
        ("in_reply_to", &thread.in_reply_to),
        ("references", &thread.references),
    ] {
        for (i, id) in ids.iter().enumerate() {
            key_id(id, format!("{at}.{name}[{i}]"))?;
        }
    }
    Ok(())
}

fn instant(at: DateTime<Utc>, field: String) -> Result<(), ParseError> {
    if limits::instant_in_range(at) {
        Ok(())
    } else {
        Err(ParseError::new(field, "is outside the years 1970 to 9999"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::{
        BookingStatus, BookingUpdate, CallStatus, CallUpdate, Deletion, IncomingMessage,
        PaymentStatus, PaymentUpdate, StatusUpdate,
    };
    use super::*;
    use crate::model::{Channel, DeliveryStatus, Direction, Message, Provider};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 21, 8, 0, 0).unwrap()
    }

    fn phone() -> Identity {
        Identity::phone("+447700900123", None).unwrap()
    }

    fn opaque(value: &str) -> Identity {
        Identity {
            kind: IdentityKind::InstagramId,
            value: value.to_string(),
        }
    }

    /// One event of every kind, each with its key id and instant.
    fn every_kind(id: &str, at: DateTime<Utc>) -> Vec<CanonicalEvent> {
        vec![
            CanonicalEvent::Message(IncomingMessage {
                provider: Provider::Whatsapp,
                provider_message_id: id.to_string(),
                channel: Channel::Whatsapp,
                customer: phone(),
                customer_name: None,
                linked_identities: Vec::new(),
                occurred_at: at,
                message: Message::inbound(Some("hi".into()), Vec::new()),
            }),
            CanonicalEvent::Status(StatusUpdate {
                provider: Provider::Whatsapp,
                provider_message_id: id.to_string(),
                customer: None,
                status: DeliveryStatus::Read,
                at,
                error: None,
            }),
            CanonicalEvent::Deletion(Deletion {
                provider: Provider::Instagram,
                provider_message_id: id.to_string(),
                at,
            }),
            CanonicalEvent::Call(CallUpdate {
                provider: Provider::TwilioVoice,
                call_id: id.to_string(),
                customer: phone(),
                direction: Direction::Inbound,
                status: CallStatus::Completed,
                sequence: None,
                at,
                duration_secs: None,
                recording_url: None,
            }),
            CanonicalEvent::Booking(BookingUpdate {
                provider: Provider::Calcom,
                booking_id: id.to_string(),
                customer: phone(),
                linked_identities: Vec::new(),
                customer_name: None,
                status: BookingStatus::Created,
                service: None,
                starts_at: None,
                ends_at: None,
                at,
                replaces_booking_id: None,
            }),
            CanonicalEvent::Payment(PaymentUpdate {
                provider: Provider::Stripe,
                payment_id: id.to_string(),
                customer: None,
                linked_identities: Vec::new(),
                customer_name: None,
                status: PaymentStatus::Succeeded,
                amount_minor: 5000,
                currency: "gbp".into(),
                refunded_minor: None,
                description: None,
                at,
            }),
        ]
    }

    fn one(event: &CanonicalEvent) -> Result<(), ParseError> {
        admit(&mut [event.clone()])
    }

    #[test]
    fn good_events_of_every_kind_pass() {
        let mut events = every_kind("id-1", now());
        assert_eq!(admit(&mut events), Ok(()));
    }

    #[test]
    fn every_kind_refuses_an_id_that_cannot_be_a_key_naming_only_the_field() {
        let ids = [
            "a#b".to_string(),
            String::new(),
            "x".repeat(limits::MAX_KEY_ID_BYTES + 1),
        ];
        let fields = [
            "events[0].provider_message_id",
            "events[0].provider_message_id",
            "events[0].provider_message_id",
            "events[0].call_id",
            "events[0].booking_id",
            "events[0].payment_id",
        ];
        for id in &ids {
            for (event, field) in every_kind(id, now()).iter().zip(fields) {
                let err = one(event).unwrap_err();
                assert_eq!(err.field, field, "{id:?}");
                if !id.is_empty() {
                    assert!(!err.detail.contains(id.as_str()), "{err}");
                }
            }
        }
        // The longest id that fits is taken.
        let longest = "x".repeat(limits::MAX_KEY_ID_BYTES);
        assert_eq!(admit(&mut every_kind(&longest, now())), Ok(()));
    }

    #[test]
    fn every_kind_refuses_instants_outside_1970_to_9999() {
        let fields = [
            "events[0].occurred_at",
            "events[0].at",
            "events[0].at",
            "events[0].at",
            "events[0].at",
            "events[0].at",
        ];
        for at in [
            Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ] {
            for (event, field) in every_kind("id", at).iter().zip(fields) {
                assert_eq!(one(event).unwrap_err().field, field, "{at}");
            }
        }
        let edges = [
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ];
        for at in edges {
            assert_eq!(admit(&mut every_kind("id", at)), Ok(()));
        }
    }

    #[test]
    fn identities_other_references_and_later_events_are_checked_too() {
        let mut events = every_kind("id", now());
        let CanonicalEvent::Message(m) = &mut events[0] else {
            unreachable!()
        };
        m.linked_identities = vec![opaque("v1"), opaque("v#2")];
        assert_eq!(
            admit(&mut events).unwrap_err().field,
            "events[0].linked_identities[1].value"
        );

        // An email address may hold '#'; an Instagram id may not.
        let mut events = every_kind("id", now());
        if let CanonicalEvent::Call(c) = &mut events[3] {
            c.customer = Identity::email("a#b@example.com").unwrap();
        }
        assert_eq!(admit(&mut events), Ok(()));
        if let CanonicalEvent::Call(c) = &mut events[3] {
            c.customer = opaque("12#3");
        }
        assert_eq!(
            admit(&mut events).unwrap_err().field,
            "events[3].customer.value"
        );

        let mut events = every_kind("id", now());
        if let CanonicalEvent::Booking(b) = &mut events[4] {
            b.replaces_booking_id = Some("old#1".into());
        }
        assert_eq!(
            admit(&mut events).unwrap_err().field,
            "events[4].replaces_booking_id"
        );
        if let CanonicalEvent::Booking(b) = &mut events[4] {
            b.replaces_booking_id = None;
            b.ends_at = Some(Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        }
        assert_eq!(admit(&mut events).unwrap_err().field, "events[4].ends_at");

        let mut events = every_kind("id", now());
        if let CanonicalEvent::Message(m) = &mut events[0] {
            m.message.thread = Some(EmailThread {
                references: vec!["root@x".into(), "r#2@x".into()],
                ..EmailThread::default()
            });
        }
        assert_eq!(
            admit(&mut events).unwrap_err().field,
            "events[0].message.thread.references[1]"
        );
    }

    #[test]
    fn names_and_status_errors_are_cut_not_refused() {
        let mut events = every_kind("id", now());
        if let CanonicalEvent::Message(m) = &mut events[0] {
            m.customer_name = Some("N".repeat(10_000));
        }
        if let CanonicalEvent::Status(s) = &mut events[1] {
            s.error = Some("E".repeat(10_000));
        }
        assert_eq!(admit(&mut events), Ok(()));
        let CanonicalEvent::Message(m) = &events[0] else {
            unreachable!()
        };
        assert_eq!(
            m.customer_name.as_deref().map(str::len),
            Some(limits::MAX_LABEL_BYTES)
        );
        let CanonicalEvent::Status(s) = &events[1] else {
            unreachable!()
        };
        assert_eq!(
            s.error.as_deref().map(str::len),
            Some(limits::MAX_SHORT_TEXT_BYTES)
        );
    }
}
