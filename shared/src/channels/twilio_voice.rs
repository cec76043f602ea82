//! Twilio Programmable Voice call status callbacks, as
//! `application/x-www-form-urlencoded` bodies (signature: the same
//! `super::twilio_signature` check as messaging, over the status callback URL).
//!
//! Each callback is one report about one call, so a delivery becomes one
//! [`CallUpdate`]; the reports of a call converge downstream by `CallSid`,
//! ordered by `SequenceNumber`.
//!
//! * The customer is the party that is not the business: `From` on inbound
//!   calls, `To` on outbound ones (`outbound-api`, `outbound-dial`). Nothing in
//!   the payload says which number is the business's, so for a `<Dial>` child
//!   leg (`outbound-dial`, with `ParentCallSid`) `To` is whoever was dialled,
//!   which is the customer only when the business dials out to one.
//! * A withheld caller ID arrives as a keypad sentinel (`+266696687` spells
//!   ANONYMOUS) or a word (`Anonymous`). Such a call has no customer to put it
//!   on, and taking the sentinel for a phone number would merge every withheld
//!   caller into one contact, so the delivery yields no event.
//! * `Timestamp` (RFC 2822) dates the report; without a readable one, the
//!   time the webhook reached us does.
//! * `CallDuration` is the call's length in seconds (final states only).
//!   `Duration` is *billed minutes*, rounded up, and is not used.

use chrono::{DateTime, Utc};

use super::form::Form;
use super::{CallStatus, CallUpdate, CanonicalEvent, ParseContext, ParseError};
use crate::identity::Identity;
use crate::model::{Direction, Provider};

/// What carriers and Twilio put in `From` when the caller withheld their
/// number: keypad spellings of ANONYMOUS, RESTRICTED, UNAVAILABLE, BLOCKED and
/// UNKNOWN, and the words themselves.
const WITHHELD_CALLER_IDS: &[&str] = &[
    "+266696687",
    "266696687",
    "+7378742833",
    "7378742833",
    "+86282452253",
    "86282452253",
    "+2562533",
    "2562533",
    "+8656696",
    "8656696",
    "anonymous",
    "restricted",
    "unavailable",
    "blocked",
    "unknown",
    "private",
    "withheld",
];

/// Parses a verified status callback into one call update (none when the
/// caller withheld their number).
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let form = Form::new(body);
    if form.is_empty() {
        return Err(ParseError::new(
            "body",
            "not a form-encoded status callback",
        ));
    }
    let call_id = call_sid(&form)?;
    let status = call_status(&form)?;
    let direction = direction(&form)?;
    let customer_field = match direction {
        Direction::Inbound => "From",
        Direction::Outbound => "To",
    };
    let number = form
        .non_empty(customer_field)
        .ok_or_else(|| ParseError::new(customer_field, "missing the customer's number"))?;
    if is_withheld(number) {
        return Ok(Vec::new());
    }
    let customer = Identity::phone(number, ctx.default_region)
        .map_err(|e| ParseError::new(customer_field, e.to_string()))?;
    Ok(vec![CanonicalEvent::Call(CallUpdate {
        provider: Provider::TwilioVoice,
        call_id,
        customer,
        direction,
        status,
        sequence: form.number("SequenceNumber")?,
        at: form
            .non_empty("Timestamp")
            .and_then(timestamp)
            .unwrap_or(ctx.received_at),
        duration_secs: form.number("CallDuration")?,
        recording_url: form.trimmed("RecordingUrl").map(str::to_string),
    })])
}

fn call_sid(form: &Form) -> Result<String, ParseError> {
    let sid = form
        .non_empty("CallSid")
        .ok_or_else(|| ParseError::new("CallSid", "missing"))?;
    Ok(sid.to_string())
}

fn call_status(form: &Form) -> Result<CallStatus, ParseError> {
    let raw = form
        .non_empty("CallStatus")
        .ok_or_else(|| ParseError::new("CallStatus", "missing"))?;
    Ok(match raw.to_ascii_lowercase().as_str() {
        "queued" | "initiated" => CallStatus::Queued,
        "ringing" => CallStatus::Ringing,
        // `answered` is the progress event's name; the status says `in-progress`.
        "in-progress" | "answered" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => {
            return Err(ParseError::new(
                "CallStatus",
                format!("unknown status '{raw}'"),
            ));
        }
    })
}

/// `inbound`, or `outbound-api` / `outbound-dial` (any `outbound*`).
fn direction(form: &Form) -> Result<Direction, ParseError> {
    let raw = form
        .non_empty("Direction")
        .ok_or_else(|| ParseError::new("Direction", "missing"))?;
    let lower = raw.to_ascii_lowercase();
    if lower == "inbound" {
        Ok(Direction::Inbound)
    } else if lower.starts_with("outbound") {
        Ok(Direction::Outbound)
    } else {
        Err(ParseError::new(
            "Direction",
            format!("unknown direction '{raw}'"),
        ))
    }
}

fn is_withheld(number: &str) -> bool {
    WITHHELD_CALLER_IDS
        .iter()
        .any(|sentinel| number.eq_ignore_ascii_case(sentinel))
}

/// `Sat, 24 Oct 2026 12:48:52 +0000`.
fn timestamp(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::twilio_signature::signature_is_valid;
    use crate::identity::IdentityKind;
    use chrono::TimeZone;

    const COMPLETED: &[u8] = include_bytes!("../../../tests/fixtures/twilio_voice/completed.form");
    const NO_ANSWER: &[u8] =
        include_bytes!("../../../tests/fixtures/twilio_voice/no_answer_outbound.form");

    const TOKEN: &str = "test_secret";
    const COMPLETED_URL: &str = "https://api.lumierehair.example/webhooks/twilio/voice/status";
    const COMPLETED_SIG: &str = "6rOUxW01pqN1FixZ1t2Rq1oAUiM=";
    const NO_ANSWER_URL: &str =
        "https://api.lumierehair.example/webhooks/twilio/voice/status?attempt=1";
    const NO_ANSWER_SIG: &str = "w9x6XzvoZhR2F4u1T2B/D/uLyNc=";

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: Utc.with_ymd_and_hms(2026, 10, 24, 13, 0, 0).unwrap(),
            default_region: None,
        }
    }

    fn one_call(body: &[u8]) -> CallUpdate {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Call(c)] = events.as_slice() else {
            panic!("expected one call update, got {events:?}");
        };
        c.clone()
    }

    fn err(body: &[u8]) -> ParseError {
        parse(body, &ctx()).unwrap_err()
    }

    #[test]
    fn completed_inbound_call() {
        let c = one_call(COMPLETED);
        assert_eq!(c.provider, Provider::TwilioVoice);
        assert_eq!(c.call_id, "CA6b845fb95f11bfd40dac28386896bd3e");
        assert_eq!(c.direction, Direction::Inbound);
        assert_eq!(c.customer.kind, IdentityKind::Phone);
        assert_eq!(
            c.customer.value, "+447700900123",
            "the caller, not the salon"
        );
        assert_eq!(c.status, CallStatus::Completed);
        assert_eq!(c.sequence, Some(0));
        assert_eq!(
            c.at,
            Utc.with_ymd_and_hms(2026, 10, 24, 12, 48, 52).unwrap()
        );
        assert_eq!(
            c.duration_secs,
            Some(47),
            "CallDuration, not billed Duration=1"
        );
        assert_eq!(c.recording_url, None);
    }

    #[test]
    fn unanswered_outbound_call_is_about_the_callee() {
        let c = one_call(NO_ANSWER);
        assert_eq!(c.call_id, "CA2da9b28d3d10339a1d6a9d67f165c97e");
        assert_eq!(c.direction, Direction::Outbound);
        assert_eq!(c.customer.value, "+447700900123", "Maya, not the salon");
        assert_eq!(c.status, CallStatus::NoAnswer);
        assert!(c.status.is_final());
        assert_eq!(c.sequence, Some(2));
        assert_eq!(
            c.at,
            Utc.with_ymd_and_hms(2026, 10, 24, 12, 41, 29).unwrap()
        );
        assert_eq!(c.duration_secs, Some(0));
        assert_eq!(c.recording_url, None);
    }

    #[test]
    fn fixture_signatures_verify_with_their_urls() {
        let valid =
            |url: &str, body: &[u8], sig: &str| signature_is_valid(TOKEN, url, body, Some(sig));
        assert!(valid(COMPLETED_URL, COMPLETED, COMPLETED_SIG));
        assert!(valid(NO_ANSWER_URL, NO_ANSWER, NO_ANSWER_SIG));
        // The manifest's negative vector: a case-insensitive parameter sort.
        assert!(!valid(
            COMPLETED_URL,
            COMPLETED,
            "g6PNjLVM8qdBHimbZQfLJmmSnGU="
        ));
        // Each signature is bound to its URL (query string included) and body.
        assert!(!valid(NO_ANSWER_URL, COMPLETED, COMPLETED_SIG));
        assert!(!valid(COMPLETED_URL, NO_ANSWER, NO_ANSWER_SIG));
        assert!(!signature_is_valid(
            "wrong",
            COMPLETED_URL,
            COMPLETED,
            Some(COMPLETED_SIG)
        ));
        assert!(!signature_is_valid(TOKEN, COMPLETED_URL, COMPLETED, None));
    }

    #[test]
    fn in_flight_reports() {
        let ringing = one_call(
            b"CallSid=CA1&CallStatus=ringing&Direction=outbound-api&From=%2B447700900200\
&To=%2B447700900123&SequenceNumber=1&Timestamp=Sat%2C+24+Oct+2026+12%3A41%3A05+%2B0000\
&CallbackSource=call-progress-events",
        );
        assert_eq!(ringing.status, CallStatus::Ringing);
        assert!(!ringing.status.is_final());
        assert_eq!(ringing.customer.value, "+447700900123");
        assert_eq!(ringing.sequence, Some(1));
        assert_eq!(
            ringing.duration_secs, None,
            "no CallDuration before the end"
        );
        assert_eq!(
            ringing.at,
            Utc.with_ymd_and_hms(2026, 10, 24, 12, 41, 5).unwrap()
        );

        let answered = one_call(
            b"CallSid=CA1&CallStatus=in-progress&Direction=outbound-dial&From=%2B447700900200\
&To=%2B447700900123&SequenceNumber=2&ParentCallSid=CA0",
        );
        assert_eq!(answered.status, CallStatus::InProgress);
        assert_eq!(answered.direction, Direction::Outbound);
        assert_eq!(answered.at, ctx().received_at, "no Timestamp: received_at");

        let statuses = [
            ("queued", CallStatus::Queued),
            ("initiated", CallStatus::Queued),
            ("answered", CallStatus::InProgress),
            ("busy", CallStatus::Busy),
            ("failed", CallStatus::Failed),
            ("canceled", CallStatus::Canceled),
            ("Completed", CallStatus::Completed),
        ];
        for (raw, want) in statuses {
            let body =
                format!("CallSid=CA1&CallStatus={raw}&Direction=inbound&From=%2B447700900123");
            assert_eq!(one_call(body.as_bytes()).status, want, "{raw}");
        }
    }

    #[test]
    fn recording_and_national_numbers() {
        let body = b"CallSid=CA1&CallStatus=completed&Direction=inbound&From=07700+900123\
&CallDuration=125&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FRecordings%2FRE1";
        let ctx = ParseContext {
            default_region: Some("GB"),
            ..ctx()
        };
        let events = parse(body, &ctx).unwrap();
        let [CanonicalEvent::Call(c)] = events.as_slice() else {
            panic!("expected one call update, got {events:?}");
        };
        assert_eq!(c.customer.value, "+447700900123");
        assert_eq!(c.duration_secs, Some(125));
        assert_eq!(c.sequence, None);
        assert_eq!(
            c.recording_url.as_deref(),
            Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
        );
    }

    #[test]
    fn unreadable_timestamp_falls_back_to_received_at() {
        let c = one_call(
            b"CallSid=CA1&CallStatus=ringing&Direction=inbound&From=%2B447700900123\
&Timestamp=yesterday",
        );
        assert_eq!(c.at, ctx().received_at);
    }

    #[test]
    fn withheld_caller_ids_yield_no_event() {
        for from in ["%2B266696687", "Anonymous", "%2B7378742833", "restricted"] {
            let body = format!("CallSid=CA1&CallStatus=ringing&Direction=inbound&From={from}");
            assert_eq!(parse(body.as_bytes(), &ctx()), Ok(vec![]), "{from}");
        }
    }

    #[test]
    fn malformed_callbacks_name_the_field() {
        let ok = "CallSid=CA1&CallStatus=completed&Direction=inbound&From=%2B447700900123";
        let without = |name: &str| {
            ok.split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert!(parse(ok.as_bytes(), &ctx()).is_ok());
        for name in ["CallSid", "CallStatus", "Direction", "From"] {
            assert_eq!(err(without(name).as_bytes()).field, name);
        }
        assert_eq!(err(b"CallSid=&CallStatus=completed").field, "CallSid");
        // Checked where every adapter's ids are (`channels::parse`).
        let hash = ok.replace("CallSid=CA1", "CallSid=CA%231");
        assert_eq!(
            crate::channels::parse(Provider::TwilioVoice, hash.as_bytes(), &ctx())
                .unwrap_err()
                .field,
            "events[0].call_id"
        );
        let e = err(b"CallSid=CA1&CallStatus=exploded&Direction=inbound&From=%2B447700900123");
        assert_eq!(e.field, "CallStatus");
        assert!(e.detail.contains("exploded"), "{e}");
        let e = err(b"CallSid=CA1&CallStatus=completed&Direction=sideways&From=%2B447700900123");
        assert_eq!(e.field, "Direction");
        // Outbound calls need the callee.
        let e =
            err(b"CallSid=CA1&CallStatus=completed&Direction=outbound-api&From=%2B447700900200");
        assert_eq!(e.field, "To");
        let e = err(b"CallSid=CA1&CallStatus=completed&Direction=outbound-api&To=client%3Aalice");
        assert_eq!(e.field, "To");
        let e = err(b"CallSid=CA1&CallStatus=completed&Direction=inbound&From=not-a-number");
        assert_eq!(e.field, "From");
        let e = err(format!("{ok}&SequenceNumber=two").as_bytes());
        assert_eq!(e.field, "SequenceNumber");
        let e = err(format!("{ok}&SequenceNumber=-1").as_bytes());
        assert_eq!(e.field, "SequenceNumber");
        let e = err(format!("{ok}&CallDuration=4.5").as_bytes());
        assert_eq!(e.field, "CallDuration");
        assert_eq!(err(b"").field, "body");
        assert_eq!(err(b"{\"CallSid\":\"CA1\"}").field, "CallSid");
        assert_eq!(err(&[0xff, 0xfe, b'=', 0x80]).field, "CallSid");
    }
}
