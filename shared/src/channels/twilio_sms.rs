//! Twilio Programmable Messaging webhooks: inbound messages and outbound
//! status callbacks, as `application/x-www-form-urlencoded` bodies (signature:
//! `super::twilio_signature`).
//!
//! The payloads carry no event time, so every event is dated when the
//! webhook reached us (`RawDlrDoneDate` is carrier-local without a timezone).

use super::attachment::kind_for_mime;
use super::form::Form;
use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, StatusUpdate};
use crate::identity::Identity;
use crate::model::{Attachment, Channel, DeliveryStatus, Message, Provider};

/// Twilio's WhatsApp senders are addresses like `whatsapp:+447700900123`.
const WHATSAPP_PREFIX: &str = "whatsapp:";

/// Parses a verified delivery into canonical events (none for in-flight
/// statuses).
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let form = Form::new(body);
    // `SmsStatus` is the legacy alias; status callbacks carry both.
    let status = match (form.get("MessageStatus"), form.get("SmsStatus")) {
        (Some(s), _) => Some(("MessageStatus", s)),
        (None, Some(s)) => Some(("SmsStatus", s)),
        (None, None) => None,
    };
    let has_content = form.get("Body").is_some() || form.get("NumMedia").is_some();
    match status {
        Some((field, s)) if s != "received" => {
            Ok(status_update(&form, field, s, ctx)?.into_iter().collect())
        }
        _ if has_content => Ok(vec![inbound(&form, ctx)?]),
        // A `received` callback without content: the message itself arrives
        // on the incoming-message webhook.
        Some(_) => Ok(Vec::new()),
        None => Err(ParseError::new(
            "body",
            "neither an inbound message (Body, NumMedia) nor a status callback (MessageStatus)",
        )),
    }
}

fn inbound(form: &Form, ctx: &ParseContext) -> Result<CanonicalEvent, ParseError> {
    let provider_message_id = message_sid(form)?;
    let from = form
        .non_empty("From")
        .ok_or_else(|| ParseError::new("From", "missing sender"))?;
    let (channel, number) = match from.strip_prefix(WHATSAPP_PREFIX) {
        Some(number) => (Channel::Whatsapp, number),
        None => (Channel::Sms, from),
    };
    let customer = Identity::phone(number, ctx.default_region)
        .map_err(|e| ParseError::new("From", e.to_string()))?;
    let body = form
        .get("Body")
        .filter(|b| !b.is_empty())
        .map(str::to_string);
    Ok(CanonicalEvent::Message(IncomingMessage {
        provider: Provider::TwilioSms,
        provider_message_id,
        channel,
        customer,
        // Only Twilio's WhatsApp senders have a profile name.
        customer_name: form.non_empty("ProfileName").map(str::to_string),
        linked_identities: Vec::new(),
        occurred_at: ctx.received_at,
        message: Message::inbound(body, attachments(form)?),
    }))
}

/// `MediaUrl{N}` / `MediaContentType{N}` for N in `0..NumMedia`.
fn attachments(form: &Form) -> Result<Vec<Attachment>, ParseError> {
    let count = match form.non_empty("NumMedia") {
        None => 0,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map_err(|_| ParseError::new("NumMedia", format!("'{raw}' is not a media count")))?,
    };
    // A missing URL ends the loop with an error, so a huge NumMedia costs
    // nothing.
    let mut attachments = Vec::new();
    for n in 0..count {
        let url_field = format!("MediaUrl{n}");
        let url = form.non_empty(&url_field).ok_or_else(|| {
            ParseError::new(url_field.as_str(), format!("missing (NumMedia is {count})"))
        })?;
        let mime_type = form.non_empty(&format!("MediaContentType{n}"));
        attachments.push(Attachment {
            kind: kind_for_mime(mime_type).to_string(),
            url: Some(url.to_string()),
            mime_type: mime_type.map(str::to_string),
            ..Attachment::default()
        });
    }
    Ok(attachments)
}

/// A delivery receipt, or `None` for statuses the timeline does not show.
fn status_update(
    form: &Form,
    field: &str,
    status: &str,
    ctx: &ParseContext,
) -> Result<Option<CanonicalEvent>, ParseError> {
    let (status, error) = match status {
        "sent" => (DeliveryStatus::Sent, None),
        "delivered" => (DeliveryStatus::Delivered, None),
        "read" => (DeliveryStatus::Read, None),
        "undelivered" | "failed" => (DeliveryStatus::Failed, Some(error_text(form, status))),
        "canceled" => (DeliveryStatus::Failed, Some("canceled".to_string())),
        // Still in flight (or reported for an inbound message); the outcome
        // follows in a later callback. `partially_delivered` is not final
        // either, and claiming "delivered" for it would overstate.
        "queued"
        | "accepted"
        | "sending"
        | "scheduled"
        | "receiving"
        | "received"
        | "partially_delivered" => return Ok(None),
        other => {
            return Err(ParseError::new(field, format!("unknown status '{other}'")));
        }
    };
    let customer = form
        .non_empty("To")
        .map(|to| to.strip_prefix(WHATSAPP_PREFIX).unwrap_or(to))
        .and_then(|to| Identity::phone(to, ctx.default_region).ok());
    Ok(Some(CanonicalEvent::Status(StatusUpdate {
        provider: Provider::TwilioSms,
        provider_message_id: message_sid(form)?,
        customer,
        status,
        at: ctx.received_at,
        error,
    })))
}

/// `30005: Unknown destination handset`, `30005`, the message alone, or the
/// status when Twilio gave no reason.
fn error_text(form: &Form, status: &str) -> String {
    let code = form.non_empty("ErrorCode").map(str::trim);
    let message = form.non_empty("ErrorMessage").map(str::trim);
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(text), None) | (None, Some(text)) => text.to_string(),
        (None, None) => status.to_string(),
    }
}

/// `MessageSid`, or its legacy aliases.
fn message_sid(form: &Form) -> Result<String, ParseError> {
    let sid = ["MessageSid", "SmsMessageSid", "SmsSid"]
        .into_iter()
        .find_map(|name| form.non_empty(name))
        .ok_or_else(|| ParseError::new("MessageSid", "missing"))?;
    Ok(sid.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;
    use crate::model::{Author, Direction};

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: chrono::Utc::now(),
            default_region: None,
        }
    }

    const INBOUND: &[u8] = include_bytes!("../../../tests/fixtures/twilio_sms/inbound.form");
    const SENT: &[u8] = include_bytes!("../../../tests/fixtures/twilio_sms/status_sent.form");
    const DELIVERED: &[u8] =
        include_bytes!("../../../tests/fixtures/twilio_sms/status_delivered.form");
    const UNDELIVERED: &[u8] =
        include_bytes!("../../../tests/fixtures/twilio_sms/status_undelivered.form");

    fn one_message(body: &[u8]) -> IncomingMessage {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Message(m)] = events.as_slice() else {
            panic!("expected one message, got {events:?}");
        };
        m.clone()
    }

    fn one_status(body: &[u8]) -> StatusUpdate {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Status(s)] = events.as_slice() else {
            panic!("expected one status, got {events:?}");
        };
        s.clone()
    }

    #[test]
    fn inbound_sms_becomes_an_inbound_customer_message() {
        let ctx = ctx();
        let events = parse(INBOUND, &ctx).unwrap();
        let [CanonicalEvent::Message(m)] = events.as_slice() else {
            panic!("expected one message, got {events:?}");
        };
        assert_eq!(m.provider, Provider::TwilioSms);
        assert_eq!(m.provider_message_id, "SMe0df2c888ba1a8f49559fda7c2d09a61");
        assert_eq!(m.channel, Channel::Sms);
        assert_eq!(m.customer.kind, IdentityKind::Phone);
        assert_eq!(m.customer.value, "+447700900123");
        assert_eq!(m.customer_name, None);
        assert!(m.linked_identities.is_empty());
        assert_eq!(m.occurred_at, ctx.received_at);
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        assert_eq!(
            m.message.body.as_deref(),
            Some("C - see you tomorrow! Is there parking nearby? 🚗")
        );
        assert!(m.message.attachments.is_empty());
        assert_eq!(m.message.status, None);
        assert!(!m.message.deleted);
        assert_eq!(m.message.source, None);
    }

    #[test]
    fn media_items_become_attachments() {
        let body = b"MessageSid=MM1234&From=%2B447700900123&To=%2B447700900200&Body=\
&NumMedia=2&SmsStatus=received\
&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FMessages%2FMM1234%2FMedia%2FME0\
&MediaContentType0=image%2Fjpeg\
&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FMessages%2FMM1234%2FMedia%2FME1\
&MediaContentType1=application%2Fpdf";
        let m = one_message(body);
        assert_eq!(m.message.body, None, "an empty Body is no body");
        let a = &m.message.attachments;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].kind, "image");
        assert_eq!(a[0].mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(
            a[0].url.as_deref(),
            Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1234/Media/ME0")
        );
        assert_eq!(a[1].kind, "file");
        assert_eq!(a[1].mime_type.as_deref(), Some("application/pdf"));
        assert!(a[1].url.as_deref().unwrap().ends_with("/Media/ME1"));

        let kinds = |mime: &str| {
            let body = format!(
                "MessageSid=MM1&From=%2B447700900123&NumMedia=1&MediaUrl0=https%3A%2F%2Fm\
&MediaContentType0={mime}"
            );
            one_message(body.as_bytes()).message.attachments[0]
                .kind
                .clone()
        };
        assert_eq!(kinds("video%2Fmp4"), "video");
        assert_eq!(kinds("audio%2Fogg"), "audio");
        assert_eq!(kinds("text%2Fvcard"), "file");
    }

    #[test]
    fn twilio_whatsapp_sender_loses_its_prefix() {
        let body = b"MessageSid=SM1&From=whatsapp%3A%2B447700900123&To=whatsapp%3A%2B447700900200\
&Body=Hi&NumMedia=0&ProfileName=Maya+L%C3%B3pez&SmsStatus=received";
        let m = one_message(body);
        assert_eq!(m.customer.value, "+447700900123");
        assert_eq!(m.channel, Channel::Whatsapp);
        assert_eq!(m.customer_name.as_deref(), Some("Maya López"));
        assert_eq!(m.message.body.as_deref(), Some("Hi"));
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        let body = b"MessageSid=SM1&From=07700+900123&Body=Hi";
        let ctx = ParseContext {
            received_at: chrono::Utc::now(),
            default_region: Some("GB"),
        };
        let events = parse(body, &ctx).unwrap();
        let CanonicalEvent::Message(m) = &events[0] else {
            panic!("not a message")
        };
        assert_eq!(m.customer.value, "+447700900123");
    }

    #[test]
    fn legacy_sid_aliases_are_accepted() {
        let m = one_message(b"SmsSid=SM9&From=%2B447700900123&Body=Hi");
        assert_eq!(m.provider_message_id, "SM9");
        let m = one_message(b"SmsMessageSid=SM8&SmsSid=SM9&From=%2B447700900123&Body=Hi");
        assert_eq!(m.provider_message_id, "SM8");
    }

    #[test]
    fn status_callbacks_become_status_updates() {
        let ctx = ctx();
        let events = parse(SENT, &ctx).unwrap();
        let [CanonicalEvent::Status(s)] = events.as_slice() else {
            panic!("expected one status, got {events:?}");
        };
        assert_eq!(s.provider, Provider::TwilioSms);
        assert_eq!(s.provider_message_id, "SM51d06c41cfa55d29e8c2359610032c44");
        assert_eq!(s.status, DeliveryStatus::Sent);
        assert_eq!(s.customer.as_ref().unwrap().value, "+447700900123");
        assert_eq!(s.at, ctx.received_at);
        assert_eq!(s.error, None);

        let s = one_status(DELIVERED);
        assert_eq!(s.status, DeliveryStatus::Delivered);
        assert_eq!(s.provider_message_id, "SM51d06c41cfa55d29e8c2359610032c44");
        assert_eq!(s.error, None);
    }

    #[test]
    fn undelivered_is_a_failure_with_the_error_code() {
        let s = one_status(UNDELIVERED);
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert_eq!(s.provider_message_id, "SMb81fbfe8ad71d433290b5d0092689371");
        assert_eq!(s.customer.as_ref().unwrap().value, "+447700900124");
        assert!(s.error.as_deref().unwrap().contains("30005"));

        let s = one_status(
            b"MessageSid=SM1&MessageStatus=failed&To=%2B447700900124&ErrorCode=30008\
&ErrorMessage=Unknown+error",
        );
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert_eq!(s.error.as_deref(), Some("30008: Unknown error"));

        let s = one_status(b"MessageSid=SM1&MessageStatus=failed&To=%2B447700900124");
        assert_eq!(s.error.as_deref(), Some("failed"));

        let s = one_status(b"MessageSid=SM1&MessageStatus=canceled&To=%2B447700900124");
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert_eq!(s.error.as_deref(), Some("canceled"));
    }

    #[test]
    fn read_and_whatsapp_recipients() {
        let s = one_status(b"MessageSid=SM1&MessageStatus=read&To=whatsapp%3A%2B447700900124");
        assert_eq!(s.status, DeliveryStatus::Read);
        assert_eq!(s.customer.unwrap().value, "+447700900124");
        // An unparseable recipient only loses the customer link.
        let s = one_status(b"MessageSid=SM1&MessageStatus=sent&To=nobody");
        assert_eq!(s.customer, None);
    }

    #[test]
    fn in_flight_statuses_produce_no_event() {
        for status in ["queued", "accepted", "sending", "scheduled", "receiving"] {
            let body = format!(
                "SmsSid=SM1&SmsStatus={status}&MessageStatus={status}&To=%2B447700900123\
&MessageSid=SM1&From=%2B447700900200"
            );
            assert_eq!(parse(body.as_bytes(), &ctx()).unwrap(), vec![], "{status}");
        }
        // A `received` callback without content.
        let body = b"MessageSid=SM1&MessageStatus=received&From=%2B447700900123";
        assert_eq!(parse(body, &ctx()).unwrap(), vec![]);
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        let err = parse(b"From=%2B447700900123&Body=Hi&NumMedia=0", &ctx()).unwrap_err();
        assert_eq!(err.field, "MessageSid");
        let err = parse(b"MessageSid=&From=%2B447700900123&Body=Hi", &ctx()).unwrap_err();
        assert_eq!(err.field, "MessageSid");
        let err = parse(b"MessageSid=SM1&From=not-a-number&Body=Hi", &ctx()).unwrap_err();
        assert_eq!(err.field, "From");
        let err = parse(b"MessageSid=SM1&Body=Hi", &ctx()).unwrap_err();
        assert_eq!(err.field, "From");
        let err = parse(b"MessageSid=SM1&From=%2B447700900123&NumMedia=two", &ctx()).unwrap_err();
        assert_eq!(err.field, "NumMedia");
        let err = parse(
            b"MessageSid=SM1&From=%2B447700900123&NumMedia=99999999&MediaUrl0=https%3A%2F%2Fm",
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(err.field, "MediaUrl1");
        let err = parse(b"MessageSid=SM1&MessageStatus=exploded", &ctx()).unwrap_err();
        assert_eq!(err.field, "MessageStatus");
        assert!(err.detail.contains("exploded"), "{err}");
        let err = parse(b"MessageSid=SM1&MessageStatus=delivered", &ctx()).map(|_| ());
        assert_eq!(err, Ok(()), "a receipt without To is still a receipt");
        let err = parse(b"MessageStatus=delivered&To=%2B447700900123", &ctx()).unwrap_err();
        assert_eq!(err.field, "MessageSid");
        // Checked where every adapter's ids are (`channels::parse`).
        let err = crate::channels::parse(
            Provider::TwilioSms,
            b"MessageSid=SM%231&MessageStatus=sent",
            &ctx(),
        )
        .unwrap_err();
        assert_eq!(err.field, "events[0].provider_message_id");
        let err = parse(b"", &ctx()).unwrap_err();
        assert_eq!(err.field, "body");
        let err = parse(b"{\"MessageSid\":\"SM1\"}", &ctx()).unwrap_err();
        assert_eq!(err.field, "body");
        let err = parse(&[0xff, 0xfe, b'=', 0x80], &ctx()).unwrap_err();
        assert_eq!(err.field, "body");
    }
}
