//! WhatsApp Cloud API webhooks: `messages` and `smb_message_echoes` changes
//! carrying messages and statuses (signature and handshake: `super::meta`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::provider::Scoped;
use super::{CanonicalEvent, IncomingMessage, ParseContext, ParseError, StatusUpdate, from_json};
use crate::identity::{Identity, IdentityKind};
use crate::model::{Attachment, Author, Channel, DeliveryStatus, Message, Provider};

#[derive(Deserialize)]
struct Webhook {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    value: ChangeValue,
}

#[derive(Deserialize)]
struct ChangeValue {
    #[serde(default)]
    contacts: Vec<WaContact>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    message_echoes: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
}

#[derive(Deserialize)]
struct WaContact {
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    wa_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    id: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    from_user_id: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    text: Option<Text>,
    #[serde(default)]
    image: Option<Media>,
    #[serde(default)]
    audio: Option<Media>,
    #[serde(default)]
    video: Option<Media>,
    #[serde(default)]
    document: Option<Media>,
    #[serde(default)]
    sticker: Option<Media>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contacts: Option<Vec<SharedContact>>,
    #[serde(default)]
    interactive: Option<Interactive>,
    #[serde(default)]
    button: Option<Button>,
    #[serde(default)]
    reaction: Option<Reaction>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct SharedContact {
    #[serde(default)]
    name: Option<SharedContactName>,
}

#[derive(Deserialize)]
struct SharedContactName {
    #[serde(default)]
    formatted_name: Option<String>,
}

#[derive(Deserialize)]
struct Interactive {
    #[serde(default)]
    button_reply: Option<Reply>,
    #[serde(default)]
    list_reply: Option<Reply>,
}

#[derive(Deserialize)]
struct Reply {
    title: String,
}

#[derive(Deserialize)]
struct Button {
    text: String,
}

#[derive(Deserialize)]
struct Reaction {
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WaStatus {
    id: String,
    status: String,
    timestamp: String,
    #[serde(default)]
    recipient_id: Option<String>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct WaError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// The delivery with only the changes for the connection's phone number
/// (`value.metadata.phone_number_id`): one app receives every number's
/// events, and Meta may batch several numbers' changes into one delivery.
/// A change that names no phone number cannot be shown to be ours.
pub fn scope(body: &[u8], phone_number_id: &str) -> Scoped {
    let Ok(mut hook) = serde_json::from_slice::<Value>(body) else {
        return Scoped::Whole;
    };
    let Some(entries) = hook.get_mut("entry").and_then(Value::as_array_mut) else {
        return Scoped::Whole;
    };
    let mut left_out = false;
    for entry in entries {
        let Some(changes) = entry.get_mut("changes").and_then(Value::as_array_mut) else {
            continue;
        };
        let before = changes.len();
        changes.retain(|change| {
            super::meta::id_text(change.pointer("/value/metadata/phone_number_id")).as_deref()
                == Some(phone_number_id)
        });
        left_out |= changes.len() != before;
    }
    if !left_out {
        return Scoped::Whole;
    }
    // A Value always serializes; an empty body would be refused, never widened.
    Scoped::Part(serde_json::to_vec(&hook).unwrap_or_default())
}

/// Parses a verified delivery into canonical events, in payload order.
pub fn parse(body: &[u8], _ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let hook: Webhook = from_json(body)?;
    if hook.object != "whatsapp_business_account" {
        return Err(ParseError::new(
            "object",
            format!(
                "expected 'whatsapp_business_account', got '{}'",
                hook.object
            ),
        ));
    }
    let mut events = Vec::new();
    for (e, entry) in hook.entry.iter().enumerate() {
        for (c, change) in entry.changes.iter().enumerate() {
            let at = format!("entry[{e}].changes[{c}].value");
            let value = &change.value;
            match change.field.as_str() {
                "messages" => {
                    for (i, m) in value.messages.iter().enumerate() {
                        let path = format!("{at}.messages[{i}]");
                        events.push(inbound(m, &value.contacts, &path)?);
                    }
                    for (i, s) in value.statuses.iter().enumerate() {
                        events.push(status(s, &format!("{at}.statuses[{i}]"))?);
                    }
                }
                "smb_message_echoes" => {
                    for (i, m) in value.message_echoes.iter().enumerate() {
                        events.push(echo(m, &format!("{at}.message_echoes[{i}]"))?);
                    }
                }
                // Other subscribed fields (account updates, templates) carry no
                // customer interaction.
                _ => {}
            }
        }
    }
    Ok(events)
}

fn inbound(
    m: &WaMessage,
    contacts: &[WaContact],
    path: &str,
) -> Result<CanonicalEvent, ParseError> {
    let customer = match (&m.from, &m.from_user_id) {
        (Some(from), _) => Identity::whatsapp_id(from)
            .map_err(|e| ParseError::new(format!("{path}.from"), e.to_string()))?,
        (None, Some(user)) => Identity::opaque(IdentityKind::WhatsappUser, user)
            .map_err(|e| ParseError::new(format!("{path}.from_user_id"), e.to_string()))?,
        (None, None) => {
            return Err(ParseError::new(
                format!("{path}.from"),
                "missing sender (neither from nor from_user_id)",
            ));
        }
    };
    let customer_name = contacts
        .iter()
        .find(|c| {
            (m.from.is_some() && c.wa_id == m.from)
                || (m.from_user_id.is_some() && c.user_id == m.from_user_id)
        })
        .and_then(|c| c.profile.as_ref()?.name.clone());
    message_event(m, path, customer, customer_name, Message::inbound)
}

/// A message staff sent from the WhatsApp Business app on a coexistence number.
fn echo(m: &WaMessage, path: &str) -> Result<CanonicalEvent, ParseError> {
    let to =
        m.to.as_deref()
            .ok_or_else(|| ParseError::new(format!("{path}.to"), "missing recipient"))?;
    let customer = Identity::whatsapp_id(to)
        .map_err(|e| ParseError::new(format!("{path}.to"), e.to_string()))?;
    // Staff typed it in the app; which staff member is not reported.
    let staff =
        |body, attachments| Message::outbound(Author::Human { user_id: None }, body, attachments);
    message_event(m, path, customer, None, staff)
}

/// `message` makes the message from the content: inbound or outbound.
fn message_event(
    m: &WaMessage,
    path: &str,
    customer: Identity,
    customer_name: Option<String>,
    message: impl FnOnce(Option<String>, Vec<Attachment>) -> Message,
) -> Result<CanonicalEvent, ParseError> {
    let (body, attachments) = content(m);
    Ok(CanonicalEvent::Message(IncomingMessage {
        provider: Provider::Whatsapp,
        provider_message_id: m.id.clone(),
        channel: Channel::Whatsapp,
        customer,
        customer_name,
        linked_identities: Vec::new(),
        occurred_at: timestamp(&m.timestamp, &format!("{path}.timestamp"))?,
        message: message(body, attachments),
    }))
}

fn status(s: &WaStatus, path: &str) -> Result<CanonicalEvent, ParseError> {
    let status = match s.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => {
            return Err(ParseError::new(
                format!("{path}.status"),
                format!("unknown status '{other}'"),
            ));
        }
    };
    let customer = s
        .recipient_id
        .as_deref()
        .and_then(|r| Identity::whatsapp_id(r).ok());
    let error = s.errors.first().map(|e| {
        let mut text = String::new();
        if let Some(code) = e.code {
            text.push_str(&format!("{code}: "));
        }
        text.push_str(e.title.as_deref().unwrap_or("error"));
        if let Some(details) = e.error_data.as_ref().and_then(|d| d.details.as_deref()) {
            text.push_str(&format!(" ({details})"));
        }
        text
    });
    Ok(CanonicalEvent::Status(StatusUpdate {
        provider: Provider::Whatsapp,
        provider_message_id: s.id.clone(),
        customer,
        status,
        at: timestamp(&s.timestamp, &format!("{path}.timestamp"))?,
        error,
    }))
}

fn content(m: &WaMessage) -> (Option<String>, Vec<Attachment>) {
    let media = [
        ("image", &m.image),
        ("audio", &m.audio),
        ("video", &m.video),
        ("document", &m.document),
        ("sticker", &m.sticker),
    ];
    if let Some((kind, Some(media))) = media.into_iter().find(|(k, _)| *k == m.kind) {
        let attachment = Attachment {
            kind: kind.to_string(),
            media_id: media.id.clone(),
            mime_type: media.mime_type.clone(),
            caption: media.caption.clone(),
            filename: media.filename.clone(),
            url: None,
        };
        return (media.caption.clone(), vec![attachment]);
    }
    let attachment_only = |kind: &str| Attachment {
        kind: kind.to_string(),
        ..Attachment::default()
    };
    match m.kind.as_str() {
        "text" => (m.text.as_ref().map(|t| t.body.clone()), vec![]),
        "location" => match &m.location {
            Some(l) => {
                let place = [l.name.as_deref(), l.address.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                let coords = format!("{:.6},{:.6}", l.latitude, l.longitude);
                let body = if place.is_empty() {
                    coords.clone()
                } else {
                    format!("{place} ({coords})")
                };
                let attachment = Attachment {
                    url: Some(format!("geo:{coords}")),
                    ..attachment_only("location")
                };
                (Some(body), vec![attachment])
            }
            None => (None, vec![attachment_only("location")]),
        },
        "contacts" => {
            let names = m
                .contacts
                .iter()
                .flatten()
                .filter_map(|c| c.name.as_ref()?.formatted_name.clone())
                .collect::<Vec<_>>();
            (
                (!names.is_empty()).then(|| names.join(", ")),
                vec![attachment_only("contacts")],
            )
        }
        "interactive" => {
            let reply = m.interactive.as_ref().and_then(|i| {
                i.button_reply
                    .as_ref()
                    .or(i.list_reply.as_ref())
                    .map(|r| r.title.clone())
            });
            (reply, vec![])
        }
        "button" => (m.button.as_ref().map(|b| b.text.clone()), vec![]),
        "reaction" => (
            m.reaction.as_ref().and_then(|r| r.emoji.clone()),
            vec![attachment_only("reaction")],
        ),
        other => (None, vec![attachment_only(other)]),
    }
}

fn timestamp(raw: &str, field: &str) -> Result<DateTime<Utc>, ParseError> {
    raw.parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| ParseError::new(field, format!("'{raw}' is not unix seconds")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Direction;

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: chrono::Utc::now(),
            default_region: None,
        }
    }

    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/whatsapp/text_message.json");
    const IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/whatsapp/image_message.json");
    const BATCH: &[u8] = include_bytes!("../../../tests/fixtures/whatsapp/statuses_batch.json");
    const FAILED: &[u8] = include_bytes!("../../../tests/fixtures/whatsapp/status_failed.json");
    const BSUID: &[u8] =
        include_bytes!("../../../tests/fixtures/whatsapp/text_message_bsuid_only.json");

    #[test]
    fn text_message_becomes_an_inbound_customer_message() {
        let events = parse(TEXT, &ctx()).unwrap();
        let [CanonicalEvent::Message(m)] = events.as_slice() else {
            panic!("expected one message, got {events:?}");
        };
        assert_eq!(m.customer.value, "+447700900123");
        assert_eq!(m.customer_name.as_deref(), Some("Maya López"));
        assert_eq!(m.occurred_at.timestamp(), 1_792_570_441);
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        assert!(
            m.message
                .body
                .as_deref()
                .unwrap()
                .contains("balayage for Saturday")
        );
        assert!(m.message.body.as_deref().unwrap().contains('😊'));
    }

    #[test]
    fn image_keeps_media_id_caption_and_mime_type() {
        let events = parse(IMAGE, &ctx()).unwrap();
        let CanonicalEvent::Message(m) = &events[0] else {
            panic!("not a message")
        };
        let a = &m.message.attachments[0];
        assert_eq!(a.kind, "image");
        assert_eq!(a.media_id.as_deref(), Some("1473920586214735"));
        assert_eq!(a.mime_type.as_deref(), Some("image/jpeg"));
        assert!(
            m.message
                .body
                .as_deref()
                .unwrap()
                .starts_with("This is the look")
        );
    }

    #[test]
    fn every_status_in_a_batch_is_read() {
        let events = parse(BATCH, &ctx()).unwrap();
        let statuses: Vec<_> = events
            .iter()
            .map(|e| match e {
                CanonicalEvent::Status(s) => s.status,
                other => panic!("only statuses in this fixture, got {other:?}"),
            })
            .collect();
        assert_eq!(statuses, vec![DeliveryStatus::Sent, DeliveryStatus::Read]);
    }

    #[test]
    fn failed_status_carries_the_error() {
        let events = parse(FAILED, &ctx()).unwrap();
        let CanonicalEvent::Status(s) = &events[0] else {
            panic!("not a status")
        };
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert!(
            s.error
                .as_deref()
                .unwrap()
                .starts_with("131047: Re-engagement message")
        );
    }

    #[test]
    fn username_only_sender_gets_a_business_scoped_identity() {
        let events = parse(BSUID, &ctx()).unwrap();
        let CanonicalEvent::Message(m) = &events[0] else {
            panic!("not a message")
        };
        assert_eq!(m.customer.kind, IdentityKind::WhatsappUser);
        assert_eq!(m.customer.value, "GB.4827365019283746");
        assert_eq!(m.customer_name.as_deref(), Some("Maya López"));
    }

    fn single(message: serde_json::Value) -> IncomingMessage {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "changes": [{ "field": "messages", "value": { "messages": [message] } }] }]
        });
        match parse(&serde_json::to_vec(&body).unwrap(), &ctx())
            .unwrap()
            .remove(0)
        {
            CanonicalEvent::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    #[test]
    fn every_message_type_keeps_what_staff_need() {
        let base = |kind: &str, content: serde_json::Value| {
            let mut m = serde_json::json!({"from": "447700900123", "id": format!("w.{kind}"), "timestamp": "1792570441", "type": kind});
            m[kind] = content;
            single(m)
        };
        for kind in ["audio", "video", "document", "sticker"] {
            let m = base(
                kind,
                serde_json::json!({"id": "media-1", "mime_type": "x/y", "filename": "f.pdf"}),
            );
            assert_eq!(m.message.attachments[0].kind, kind);
            assert_eq!(
                m.message.attachments[0].media_id.as_deref(),
                Some("media-1")
            );
        }
        let location = base(
            "location",
            serde_json::json!({"latitude": 51.5, "longitude": -0.12, "name": "Salon", "address": "1 High St"}),
        );
        assert_eq!(
            location.message.body.as_deref(),
            Some("Salon, 1 High St (51.500000,-0.120000)")
        );
        let contacts = base(
            "contacts",
            serde_json::json!([{"name": {"formatted_name": "Ana Silva"}}]),
        );
        assert_eq!(contacts.message.body.as_deref(), Some("Ana Silva"));
        assert_eq!(contacts.message.attachments[0].kind, "contacts");
        let button = base(
            "interactive",
            serde_json::json!({"type": "button_reply", "button_reply": {"id": "b1", "title": "Saturday 10:00"}}),
        );
        assert_eq!(button.message.body.as_deref(), Some("Saturday 10:00"));
        let list = base(
            "interactive",
            serde_json::json!({"type": "list_reply", "list_reply": {"id": "l1", "title": "Balayage"}}),
        );
        assert_eq!(list.message.body.as_deref(), Some("Balayage"));
        let template_button = base(
            "button",
            serde_json::json!({"text": "Confirm", "payload": "ok"}),
        );
        assert_eq!(template_button.message.body.as_deref(), Some("Confirm"));
        let reaction = base(
            "reaction",
            serde_json::json!({"message_id": "w.1", "emoji": "❤️"}),
        );
        assert_eq!(reaction.message.body.as_deref(), Some("❤️"));
        assert_eq!(reaction.message.attachments[0].kind, "reaction");
        let unknown = base("order", serde_json::json!({}));
        assert_eq!(unknown.message.attachments[0].kind, "order");
    }

    #[test]
    fn scope_keeps_only_the_connections_phone_number() {
        let change = |number: serde_json::Value, id: &str| {
            serde_json::json!({ "field": "messages", "value": {
                "metadata": { "phone_number_id": number },
                "messages": [{ "from": "447700900123", "id": id, "timestamp": "1792570441", "type": "text", "text": { "body": id } }]
            } })
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [
                { "id": "1", "changes": [change("111".into(), "ours"), change("222".into(), "theirs")] },
                { "id": "2", "changes": [change(111.into(), "ours-too"), { "field": "messages", "value": {} }] }
            ]
        }))
        .unwrap();
        let Scoped::Part(part) = scope(&body, "111") else {
            panic!("other numbers' changes are left out");
        };
        let ids: Vec<String> = parse(&part, &ctx())
            .unwrap()
            .into_iter()
            .map(|e| match e {
                CanonicalEvent::Message(m) => m.provider_message_id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["ours", "ours-too"]);
        assert_eq!(scope(TEXT, "110923456789012"), Scoped::Whole);
        let Scoped::Part(none) = scope(TEXT, "999") else {
            panic!("another number's delivery is left out")
        };
        assert_eq!(parse(&none, &ctx()).unwrap(), vec![]);
        // Malformed bodies are the parser's to report.
        assert_eq!(scope(b"not json", "111"), Scoped::Whole);
        assert_eq!(scope(br#"{"object":"x"}"#, "111"), Scoped::Whole);
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        let err = parse(b"{\"object\":\"page\",\"entry\":[]}", &ctx()).unwrap_err();
        assert_eq!(err.field, "object");
        let err = parse(b"{\"object\":\"whatsapp_business_account\"}", &ctx()).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.detail.contains("entry"), "{err}");
        let bad_ts = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"447700900123","id":"w1","timestamp":"soon","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let err = parse(bad_ts, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].changes[0].value.messages[0].timestamp");
        assert!(parse(b"not json", &ctx()).is_err());
    }
}
