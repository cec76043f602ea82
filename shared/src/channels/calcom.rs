//! Cal.com webhooks: bookings created, rescheduled, cancelled, ended and
//! missed, signed with `X-Cal-Signature-256`.
//!
//! The header is the lowercase hex HMAC-SHA256 of the raw body, keyed with
//! the webhook's secret, with no `sha256=` prefix. Without a configured
//! secret Cal.com sends the literal `no-secret-provided`.
//!
//! Booking triggers arrive as `{"triggerEvent", "createdAt", "payload": {...}}`.
//! `MEETING_ENDED` comes in that shape from newer builds, and from older ones
//! as the raw booking row with `triggerEvent` added and no wrapper; there the
//! top-level `createdAt` is the booking's own column, not the event time.
//! Deliveries are at most once (no retries) and in no particular order, so a
//! cancellation or reschedule may be the first we hear of a booking.

use serde_json::Value;

use super::json_node::Node;
use super::{BookingStatus, BookingUpdate, CanonicalEvent, ParseContext, ParseError, from_json};
use crate::identity::Identity;
use crate::model::Provider;
use crate::signature::hmac_sha256_hex_matches;

pub const SIGNATURE_HEADER: &str = "x-cal-signature-256";

/// What Cal.com puts in the signature header when no secret is configured.
const NO_SECRET: &str = "no-secret-provided";

/// True when `header` is the hex HMAC-SHA256 of `body` keyed with `secret`.
/// Unsigned deliveries (`no-secret-provided`) and an empty secret never verify.
pub fn signature_is_valid(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    // An empty key would let anyone compute the MAC.
    if secret.is_empty() {
        return false;
    }
    let Some(signature) = header.map(str::trim) else {
        return false;
    };
    if signature.is_empty() || signature.eq_ignore_ascii_case(NO_SECRET) {
        return false;
    }
    hmac_sha256_hex_matches(secret.as_bytes(), body, signature)
}

/// Parses a verified delivery into at most one booking event. Triggers that
/// do not change a booking's state for the customer (requests, payments,
/// meeting starts, host no-shows, forms, recordings) yield none.
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let root: Value = from_json(body)?;
    let root = Node::root(&root)?;
    let trigger = root.str("triggerEvent")?;
    let status = match trigger {
        "BOOKING_CREATED" => BookingStatus::Created,
        "BOOKING_RESCHEDULED" => BookingStatus::Rescheduled,
        "BOOKING_CANCELLED" => BookingStatus::Cancelled,
        "MEETING_ENDED" => BookingStatus::Completed,
        "BOOKING_NO_SHOW_UPDATED" | "AFTER_GUESTS_CAL_VIDEO_NO_SHOW" => BookingStatus::NoShow,
        _ => return Ok(Vec::new()),
    };

    // Wrapped, or the legacy flat booking row.
    let wrapped = root.get("payload").is_some();
    let booking = if wrapped {
        root.obj("payload")?
    } else {
        root.clone()
    };
    let Some(attendee) = attendee(&booking, trigger)? else {
        return Ok(Vec::new());
    };

    let booking_id = match booking.opt_str("uid") {
        Some(uid) => uid,
        // No-show payloads name the booking `bookingUid`.
        None => booking
            .opt_str("bookingUid")
            .ok_or_else(|| ParseError::new(booking.path("uid"), "missing booking uid"))?,
    };
    let starts_at = booking.opt_time("startTime")?;
    let ends_at = booking.opt_time("endTime")?;
    let created_at = if wrapped {
        root.opt_time("createdAt")?
    } else {
        None
    };
    // Meeting triggers are fired by a cron at the booking's end time.
    let at = created_at
        .or(ends_at.filter(|_| status == BookingStatus::Completed))
        .unwrap_or(ctx.received_at);

    let (customer, linked_identities) = identities(&booking, &attendee, ctx)?;
    let replaces_booking_id = match status {
        BookingStatus::Rescheduled => booking.opt_str("rescheduleUid").map(str::to_string),
        _ => None,
    };
    Ok(vec![CanonicalEvent::Booking(BookingUpdate {
        provider: Provider::Calcom,
        booking_id: booking_id.to_string(),
        customer,
        linked_identities,
        customer_name: attendee.opt_str("name").map(str::to_string),
        status,
        service: service(&booking),
        starts_at,
        ends_at,
        at,
        replaces_booking_id,
    })])
}

/// The attendee the event is about: the first one, except for no-shows,
/// which concern the attendees marked absent. `None` when no attendee is
/// concerned (every attendee unmarked as a no-show).
fn attendee<'a>(booking: &Node<'a>, trigger: &str) -> Result<Option<Node<'a>>, ParseError> {
    match trigger {
        "BOOKING_NO_SHOW_UPDATED" => {
            let attendees = booking.array("attendees")?;
            Ok(attendees
                .into_iter()
                .find(|a| a.get("noShow") == Some(&Value::Bool(true))))
        }
        // `guests` lists the attendees who did not join, when Cal.com knows.
        "AFTER_GUESTS_CAL_VIDEO_NO_SHOW" => {
            let guests = booking.array("guests")?;
            match guests.into_iter().next() {
                Some(guest) => Ok(Some(guest)),
                None => first_attendee(booking).map(Some),
            }
        }
        _ => first_attendee(booking).map(Some),
    }
}

/// `attendees[0]`, or an empty stand-in so a missing attendee is reported as
/// a missing e-mail address at the path it would have had.
fn first_attendee<'a>(booking: &Node<'a>) -> Result<Node<'a>, ParseError> {
    let path = format!("{}[0]", booking.path("attendees"));
    Ok(booking
        .array("attendees")?
        .into_iter()
        .next()
        .unwrap_or_else(|| Node::empty(path)))
}

/// The attendee's e-mail address as the customer and phone number linked,
/// or the phone alone. Values that do not parse are skipped; with nothing
/// left the delivery is an error, as a booking must belong to someone.
fn identities(
    booking: &Node,
    attendee: &Node,
    ctx: &ParseContext,
) -> Result<(Identity, Vec<Identity>), ParseError> {
    let email = attendee.opt_str("email").map(Identity::email);
    // The booking form's phone field belongs to the booker, `attendees[0]`.
    let form_phone = || {
        if attendee.location() != format!("{}[0]", booking.path("attendees")) {
            return None;
        }
        booking
            .child("responses")?
            .child("attendeePhoneNumber")?
            .opt_str("value")
    };
    let phone = attendee
        .opt_str("phoneNumber")
        .or_else(form_phone)
        .and_then(|raw| Identity::phone(raw, ctx.default_region).ok());
    match (email, phone) {
        (Some(Ok(email)), phone) => Ok((email, phone.into_iter().collect())),
        (_, Some(phone)) => Ok((phone, Vec::new())),
        (Some(Err(e)), None) => Err(ParseError::new(attendee.path("email"), e.to_string())),
        (None, None) => Err(ParseError::new(
            attendee.path("email"),
            "attendee has neither an e-mail address nor a phone number",
        )),
    }
}

/// The event type booked: its slug, else its title.
fn service(booking: &Node) -> Option<String> {
    let event_type = booking.child("eventType");
    booking
        .opt_str("type")
        .or_else(|| event_type.as_ref()?.opt_str("slug"))
        .or_else(|| event_type.as_ref()?.opt_str("title"))
        .or_else(|| booking.opt_str("eventTitle"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::hmac_sha256_hex;
    use chrono::{DateTime, Utc};

    const CREATED: &[u8] = include_bytes!("../../../tests/fixtures/calcom/booking_created.json");
    const CANCELLED: &[u8] =
        include_bytes!("../../../tests/fixtures/calcom/booking_cancelled.json");
    const RESCHEDULED: &[u8] =
        include_bytes!("../../../tests/fixtures/calcom/booking_rescheduled.json");
    const ENDED_FLAT: &[u8] = include_bytes!("../../../tests/fixtures/calcom/meeting_ended.json");
    const ENDED_WRAPPED: &[u8] =
        include_bytes!("../../../tests/fixtures/calcom/meeting_ended_wrapped.json");

    const SECRET: &str = "test_secret";
    /// From the README and signatures.json.
    const SIGNED: [(&[u8], &str); 5] = [
        (
            CREATED,
            "8cfb059e1e45b1657b5f93e371ded1f47102e3da70504f174c8b15c152579767",
        ),
        (
            CANCELLED,
            "817a5e2c17ef58e35bcaf124ee0a8c330bce9049f430402d2791cb29d549ee6a",
        ),
        (
            RESCHEDULED,
            "4e8fca125926a4e7a4913b8c888aa5fc0772af9c4fa7437cdc96172e163d42b7",
        ),
        (
            ENDED_FLAT,
            "2cf3c4d1e5dc294c8efdf2dfc898f469836fbadfff8d39d6dbf927c797850177",
        ),
        (
            ENDED_WRAPPED,
            "ac2a467858c87960a1692b3c0fe72bba459dd8e5879c7389025a4a7f5b9bc309",
        ),
    ];

    const FIRST_UID: &str = "m7QKx2VbT9sLw4RzH1cYpA";
    const NEW_UID: &str = "Zr4vN8pQw2KdY6tB3sHjLm";
    const EMAIL: &str = "maya.lopez@example.com";
    const PHONE: &str = "+447700900123";
    const SERVICE: &str = "balayage-shoulder-length";

    fn time(iso: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(iso)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn received_at() -> DateTime<Utc> {
        time("2026-10-30T12:00:00Z")
    }

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: received_at(),
            default_region: Some("GB"),
        }
    }

    fn booking(body: &[u8]) -> BookingUpdate {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Booking(b)] = events.as_slice() else {
            panic!("expected one booking, got {events:?}");
        };
        b.clone()
    }

    fn nothing(body: &[u8]) {
        let events = parse(body, &ctx()).unwrap();
        assert!(events.is_empty(), "expected no events, got {events:?}");
    }

    fn error(body: &[u8]) -> ParseError {
        parse(body, &ctx()).unwrap_err()
    }

    /// A body with one JSON pointer changed (`None` removes the field).
    fn edit(body: &[u8], pointer: &str, value: Option<Value>) -> Vec<u8> {
        let mut json: Value = serde_json::from_slice(body).unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = json.pointer_mut(parent).unwrap();
        match (parent, value) {
            (Value::Array(items), None) => {
                items.remove(key.parse::<usize>().unwrap());
            }
            (Value::Array(items), Some(value)) => {
                items[key.parse::<usize>().unwrap()] = value;
            }
            (Value::Object(map), Some(value)) => {
                map.insert(key.to_string(), value);
            }
            (Value::Object(map), None) => {
                map.remove(key);
            }
            (other, _) => panic!("cannot edit {other}"),
        }
        serde_json::to_vec(&json).unwrap()
    }

    fn email() -> Identity {
        Identity::email(EMAIL).unwrap()
    }

    fn phone() -> Identity {
        Identity::phone(PHONE, None).unwrap()
    }

    #[test]
    fn fixtures_verify() {
        for (body, signature) in SIGNED {
            assert!(signature_is_valid(SECRET, body, Some(signature)));
            assert_eq!(hmac_sha256_hex(SECRET.as_bytes(), body), signature);
            assert!(!signature_is_valid("other", body, Some(signature)));
            let mut newline = body.to_vec();
            newline.push(b'\n');
            assert!(!signature_is_valid(SECRET, &newline, Some(signature)));
            // Only the raw bytes verify, not a serde round trip.
            let json: Value = serde_json::from_slice(body).unwrap();
            let reserialized = serde_json::to_vec(&json).unwrap();
            assert!(!signature_is_valid(SECRET, &reserialized, Some(signature)));
        }
    }

    #[test]
    fn unsigned_or_prefixed_signatures_are_rejected() {
        let (body, signature) = SIGNED[0];
        assert!(!signature_is_valid(
            SECRET,
            body,
            Some("no-secret-provided")
        ));
        assert!(!signature_is_valid("", body, Some("no-secret-provided")));
        assert!(!signature_is_valid(SECRET, body, None));
        assert!(!signature_is_valid(SECRET, body, Some("")));
        // Cal.com sends no `sha256=` prefix (unlike Meta).
        let prefixed = format!("sha256={signature}");
        assert!(!signature_is_valid(SECRET, body, Some(&prefixed)));
        assert!(!signature_is_valid(SECRET, body, Some(&signature[..32])));
        let padded = format!(" {signature} ");
        assert!(signature_is_valid(SECRET, body, Some(&padded)));
        let unkeyed = hmac_sha256_hex(b"", body);
        assert!(!signature_is_valid("", body, Some(&unkeyed)));
    }

    #[test]
    fn booking_created() {
        let b = booking(CREATED);
        assert_eq!(b.provider, Provider::Calcom);
        assert_eq!(b.booking_id, FIRST_UID);
        assert_eq!(b.status, BookingStatus::Created);
        assert_eq!(b.customer, email());
        assert_eq!(b.linked_identities, vec![phone()]);
        assert_eq!(b.customer_name.as_deref(), Some("Maya López"));
        assert_eq!(b.service.as_deref(), Some(SERVICE));
        assert_eq!(b.starts_at, Some(time("2026-10-24T09:00:00Z")));
        assert_eq!(b.ends_at, Some(time("2026-10-24T11:30:00Z")));
        assert_eq!(b.at, time("2026-10-21T08:20:41.237Z"));
        assert_eq!(b.replaces_booking_id, None);
    }

    #[test]
    fn booking_rescheduled_is_a_new_booking_replacing_the_old() {
        let b = booking(RESCHEDULED);
        assert_eq!(b.booking_id, NEW_UID);
        assert_eq!(b.status, BookingStatus::Rescheduled);
        assert_eq!(b.replaces_booking_id.as_deref(), Some(FIRST_UID));
        assert_eq!(b.starts_at, Some(time("2026-10-24T13:00:00Z")));
        assert_eq!(b.ends_at, Some(time("2026-10-24T15:30:00Z")));
        assert_eq!(b.at, time("2026-10-22T16:05:33.018Z"));
        assert_eq!(b.customer, email());
        assert_eq!(b.service.as_deref(), Some(SERVICE));
    }

    #[test]
    fn cancellation_of_a_booking_never_seen_is_parsed() {
        let b = booking(CANCELLED);
        assert_eq!(b.booking_id, "Hq3WnB7tY1cXs9LrK2vDpE");
        assert_eq!(b.status, BookingStatus::Cancelled);
        assert_eq!(b.at, time("2026-10-21T08:31:12.904Z"));
        assert_eq!(b.customer, email());
        assert_eq!(b.linked_identities, vec![phone()]);
        assert_eq!(b.replaces_booking_id, None);
    }

    #[test]
    fn both_meeting_ended_shapes_complete_the_same_booking() {
        let flat = booking(ENDED_FLAT);
        let wrapped = booking(ENDED_WRAPPED);
        for b in [&flat, &wrapped] {
            assert_eq!(b.booking_id, NEW_UID);
            assert_eq!(b.status, BookingStatus::Completed);
            assert_eq!(b.customer, email());
            assert_eq!(b.linked_identities, vec![phone()]);
            assert_eq!(b.customer_name.as_deref(), Some("Maya López"));
            assert_eq!(b.starts_at, Some(time("2026-10-24T13:00:00Z")));
            assert_eq!(b.ends_at, Some(time("2026-10-24T15:30:00Z")));
            // Fired at the end time; the flat row's createdAt is the booking's.
            assert_eq!(b.at, time("2026-10-24T15:30:00Z"));
            assert_eq!(b.replaces_booking_id, None);
        }
        assert_eq!(wrapped.service.as_deref(), Some(SERVICE));
        // The raw row has no event-type slug unless the build includes eventType.
        assert_eq!(flat.service, None);
        let with_type = edit(
            ENDED_FLAT,
            "/eventType",
            Some(serde_json::json!({"slug": SERVICE, "title": "Balayage"})),
        );
        assert_eq!(booking(&with_type).service.as_deref(), Some(SERVICE));
        // An envelope createdAt, when a build sends one, is the event time.
        let stamped = edit(
            ENDED_WRAPPED,
            "/createdAt",
            Some("2026-10-24T15:30:02.5Z".into()),
        );
        assert_eq!(booking(&stamped).at, time("2026-10-24T15:30:02.500Z"));
    }

    #[test]
    fn time_falls_back_to_receipt() {
        let body = edit(CREATED, "/createdAt", None);
        assert_eq!(booking(&body).at, received_at());
    }

    #[test]
    fn no_show_updates_concern_marked_attendees() {
        let body = br#"{"triggerEvent":"BOOKING_NO_SHOW_UPDATED","createdAt":"2026-10-24T16:02:00.000Z","payload":{"message":"x_marked_as_no_show","bookingUid":"Zr4vN8pQw2KdY6tB3sHjLm","bookingId":4830,"attendees":[{"email":"friend@example.com","noShow":false},{"email":"Maya.Lopez@example.com","noShow":true}]}}"#;
        let b = booking(body);
        assert_eq!(b.booking_id, NEW_UID);
        assert_eq!(b.status, BookingStatus::NoShow);
        assert_eq!(b.customer, email());
        assert!(b.linked_identities.is_empty());
        assert_eq!(b.customer_name, None);
        assert_eq!(b.at, time("2026-10-24T16:02:00Z"));
        // Unmarking is not a no-show.
        let unmarked = edit(body, "/payload/attendees/1/noShow", Some(false.into()));
        nothing(&unmarked);
    }

    #[test]
    fn guest_no_show_from_cal_video() {
        let body = r#"{"triggerEvent":"AFTER_GUESTS_CAL_VIDEO_NO_SHOW","createdAt":"2026-10-24T13:15:00.000Z","payload":{"title":"Balayage","bookingId":4830,"bookingUid":"Zr4vN8pQw2KdY6tB3sHjLm","startTime":"2026-10-24T13:00:00.000Z","endTime":"2026-10-24T15:30:00.000Z","attendees":[{"email":"maya.lopez@example.com","name":"Maya López","phoneNumber":"07700 900123"}],"participants":[],"eventType":{"id":1207,"slug":"balayage-shoulder-length","title":"Balayage (shoulder length)"},"message":"Guest didn't join the call"}}"#;
        let b = booking(body.as_bytes());
        assert_eq!(b.booking_id, NEW_UID);
        assert_eq!(b.status, BookingStatus::NoShow);
        assert_eq!(b.customer, email());
        // A national number read with the business's region.
        assert_eq!(b.linked_identities, vec![phone()]);
        assert_eq!(b.service.as_deref(), Some(SERVICE));
        assert_eq!(b.starts_at, Some(time("2026-10-24T13:00:00Z")));
        assert_eq!(b.at, time("2026-10-24T13:15:00Z"));
        // The host missing the call says nothing about the customer.
        nothing(body.replace("AFTER_GUESTS", "AFTER_HOSTS").as_bytes());
    }

    #[test]
    fn other_triggers_yield_nothing() {
        for trigger in [
            "BOOKING_REQUESTED",
            "BOOKING_PAYMENT_INITIATED",
            "BOOKING_PAID",
            "BOOKING_REJECTED",
            "MEETING_STARTED",
            "FORM_SUBMITTED",
            "SOMETHING_NEW",
        ] {
            nothing(&edit(CREATED, "/triggerEvent", Some(trigger.into())));
        }
    }

    #[test]
    fn phone_only_or_bad_details() {
        // No e-mail: the attendee's phone is the customer.
        let body = edit(CREATED, "/payload/attendees/0/email", None);
        let b = booking(&body);
        assert_eq!(b.customer, phone());
        assert!(b.linked_identities.is_empty());
        // The booking form's phone answer when the attendee has none.
        let body = edit(&body, "/payload/attendees/0/phoneNumber", Some(Value::Null));
        assert_eq!(booking(&body).customer, phone());
        // A bad e-mail address is skipped when a phone remains.
        let body = edit(CREATED, "/payload/attendees/0/email", Some("maya".into()));
        assert_eq!(booking(&body).customer, phone());
        // A bad phone number is skipped.
        let body = edit(
            CREATED,
            "/payload/attendees/0/phoneNumber",
            Some("call me".into()),
        );
        let body = edit(
            &body,
            "/payload/responses/attendeePhoneNumber",
            Some(Value::Null),
        );
        let b = booking(&body);
        assert_eq!(b.customer, email());
        assert!(b.linked_identities.is_empty());
    }

    #[test]
    fn malformed_deliveries_name_the_field() {
        let no_email = edit(CREATED, "/payload/attendees/0/email", None);
        let no_contact = edit(&no_email, "/payload/attendees/0/phoneNumber", None);
        let no_contact = edit(&no_contact, "/payload/responses", None);
        let bad_email = edit(
            &no_contact,
            "/payload/attendees/0/email",
            Some("maya".into()),
        );
        let no_attendees = edit(CREATED, "/payload/attendees/0", None);
        let no_attendees = edit(&no_attendees, "/payload/responses", None);
        let flat_no_attendees = edit(ENDED_FLAT, "/attendees/0", None);
        let flat_no_attendees = edit(&flat_no_attendees, "/responses", None);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (edit(CREATED, "/triggerEvent", None), "triggerEvent"),
            (
                edit(CREATED, "/triggerEvent", Some(7.into())),
                "triggerEvent",
            ),
            (edit(CREATED, "/payload", Some("x".into())), "payload"),
            (edit(CREATED, "/payload/uid", None), "payload.uid"),
            (
                edit(CANCELLED, "/payload/uid", Some("".into())),
                "payload.uid",
            ),
            (edit(ENDED_FLAT, "/uid", None), "uid"),
            (no_contact, "payload.attendees[0].email"),
            (bad_email, "payload.attendees[0].email"),
            (no_attendees, "payload.attendees[0].email"),
            (flat_no_attendees, "attendees[0].email"),
            (
                edit(CREATED, "/payload/attendees", Some("maya".into())),
                "payload.attendees",
            ),
            (
                edit(CREATED, "/payload/attendees/0", Some("maya".into())),
                "payload.attendees[0]",
            ),
            (
                edit(CREATED, "/payload/startTime", Some("Saturday 10am".into())),
                "payload.startTime",
            ),
            (
                edit(ENDED_FLAT, "/endTime", Some(1_792_856_200.into())),
                "endTime",
            ),
            (
                edit(CREATED, "/createdAt", Some("yesterday".into())),
                "createdAt",
            ),
        ];
        for (body, field) in cases {
            let err = error(&body);
            assert_eq!(err.field, field, "{err}");
        }
        assert_eq!(error(b"[]").field, "body");
        // A custom form-encoded payload template is not ours to read.
        assert!(parse(b"triggerEvent=BOOKING_CREATED", &ctx()).is_err());
    }
}
