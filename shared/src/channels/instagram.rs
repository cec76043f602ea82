//! Instagram Messaging webhooks (Messenger-style `entry[].messaging[]`):
//! customer messages, business echoes, read receipts and unsends
//! (signature and handshake: `super::meta`).
//!
//! The event kind is decided by which key a messaging item carries:
//! `message` (inbound; `is_echo` outbound; `is_deleted` an unsend), `read`,
//! `postback`. Reactions, standalone referrals and other kinds carry no
//! timeline message and are skipped. Meta's dashboard "Test" button sends a
//! Page-style `entry[].changes[]` with `field: "messages"` whose `value` is a
//! messaging item; it is read the same way.
//!
//! Informational parts (attachment payloads, story replies, referrals) are
//! read leniently: a surprise there must not make Meta retry the delivery.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::provider::Scoped;
use super::{
    CanonicalEvent, Deletion, IncomingMessage, ParseContext, ParseError, StatusUpdate, from_json,
};
use crate::identity::{Identity, IdentityKind};
use crate::model::{Attachment, Author, Channel, DeliveryStatus, Message, Provider, TouchSource};

/// Unix timestamps below this are seconds, at or above it milliseconds
/// (10^12 ms is September 2001; 10^12 s is far in the future).
const MILLIS_THRESHOLD: i64 = 1_000_000_000_000;

#[derive(Deserialize)]
struct Webhook {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    messaging: Vec<Messaging>,
    /// Items for a conversation another app controls (handover protocol):
    /// still real interactions.
    #[serde(default)]
    standby: Vec<Messaging>,
    /// Meta's dashboard "Test" shape.
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct Messaging {
    #[serde(default)]
    sender: Option<Party>,
    #[serde(default)]
    recipient: Option<Party>,
    /// Milliseconds (seconds in some examples; a numeric string in the
    /// dashboard test), checked only when the item yields an event.
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    message: Option<IgMessage>,
    #[serde(default)]
    read: Option<Read>,
    #[serde(default)]
    postback: Option<Postback>,
    #[serde(default)]
    referral: Option<Value>,
}

#[derive(Deserialize)]
struct Party {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct IgMessage {
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    attachments: Option<Vec<IgAttachment>>,
    #[serde(default)]
    is_echo: Option<bool>,
    #[serde(default)]
    is_deleted: Option<bool>,
    /// A GIF or sticker Meta does not deliver.
    #[serde(default)]
    is_unsupported: Option<bool>,
    /// `{"story": {"url", "id"}}` for a story reply, `{"mid"}` for a reply
    /// to a message.
    #[serde(default)]
    reply_to: Option<Value>,
    #[serde(default)]
    referral: Option<Value>,
}

#[derive(Deserialize)]
struct IgAttachment {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    payload: Option<Value>,
}

#[derive(Deserialize)]
struct Read {
    #[serde(default)]
    mid: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    #[serde(default)]
    mid: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// Parses a verified delivery into canonical events, in payload order.
pub fn parse(body: &[u8], _ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let hook: Webhook = from_json(body)?;
    if hook.object != "instagram" {
        return Err(ParseError::new(
            "object",
            format!("expected 'instagram', got '{}'", hook.object),
        ));
    }
    let mut events = Vec::new();
    for (e, entry) in hook.entry.iter().enumerate() {
        for (i, item) in entry.messaging.iter().enumerate() {
            events.extend(event(item, &format!("entry[{e}].messaging[{i}]"))?);
        }
        for (i, item) in entry.standby.iter().enumerate() {
            events.extend(event(item, &format!("entry[{e}].standby[{i}]"))?);
        }
        for (c, change) in entry.changes.iter().enumerate() {
            // Other fields (comments, mentions) are not direct messages.
            if change.field != "messages" || !change.value.is_object() {
                continue;
            }
            let path = format!("entry[{e}].changes[{c}].value");
            let item = messaging_from_value(&change.value, &path)?;
            events.extend(event(&item, &path)?);
        }
    }
    Ok(events)
}

/// The delivery with only the entries for the connection's Instagram
/// account (`entry[].id`): one app receives every account's events, and Meta
/// may batch several accounts' entries into one delivery.
pub fn scope(body: &[u8], account_id: &str) -> Scoped {
    let Ok(mut hook) = serde_json::from_slice::<Value>(body) else {
        return Scoped::Whole;
    };
    let Some(entries) = hook.get_mut("entry").and_then(Value::as_array_mut) else {
        return Scoped::Whole;
    };
    let before = entries.len();
    entries.retain(|entry| super::meta::id_text(entry.get("id")).as_deref() == Some(account_id));
    if entries.len() == before {
        return Scoped::Whole;
    }
    // A Value always serializes; an empty body would be refused, never widened.
    Scoped::Part(serde_json::to_vec(&hook).unwrap_or_default())
}

/// Reads a change's `value` as a messaging item, naming the field on failure.
fn messaging_from_value(value: &Value, path: &str) -> Result<Messaging, ParseError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let field = if inner == "." {
            path.to_string()
        } else {
            format!("{path}.{inner}")
        };
        ParseError::new(field, e.into_inner().to_string())
    })
}

/// The event one messaging item stands for, if any.
fn event(item: &Messaging, path: &str) -> Result<Option<CanonicalEvent>, ParseError> {
    if let Some(m) = &item.message {
        return message(item, m, path).map(Some);
    }
    if let Some(read) = &item.read {
        return read_receipt(item, read, path).map(Some);
    }
    if let Some(postback) = &item.postback {
        return postback_message(item, postback, path);
    }
    // Reactions, standalone referrals (no message to attach them to),
    // opt-ins and kinds Meta adds later.
    Ok(None)
}

fn message(item: &Messaging, m: &IgMessage, path: &str) -> Result<CanonicalEvent, ParseError> {
    let mid = non_empty(m.mid.as_deref())
        .ok_or_else(|| ParseError::new(format!("{path}.message.mid"), "missing message id"))?;
    let at = timestamp(item.timestamp.as_ref(), &format!("{path}.timestamp"))?;
    if m.is_deleted == Some(true) {
        // The customer unsent it: no content, whether or not we stored it.
        return Ok(CanonicalEvent::Deletion(Deletion {
            provider: Provider::Instagram,
            provider_message_id: mid.to_string(),
            at,
        }));
    }
    let (body, attachments) = content(m);
    if m.is_echo == Some(true) {
        // Sent by the business (IG app or an API call): sender and recipient
        // are swapped. Which staff member is not reported.
        let customer = party(item.recipient.as_ref(), &format!("{path}.recipient"))?;
        let author = Author::Human { user_id: None };
        return Ok(message_event(
            mid,
            customer,
            at,
            Message::outbound(author, body, attachments),
        ));
    }
    let customer = party(item.sender.as_ref(), &format!("{path}.sender"))?;
    let source = touch_source(item, m, &attachments);
    Ok(message_event(
        mid,
        customer,
        at,
        Message::inbound(body, attachments).with_source(source),
    ))
}

fn read_receipt(item: &Messaging, read: &Read, path: &str) -> Result<CanonicalEvent, ParseError> {
    let mid = non_empty(read.mid.as_deref())
        .ok_or_else(|| ParseError::new(format!("{path}.read.mid"), "missing message id"))?;
    let at = timestamp(item.timestamp.as_ref(), &format!("{path}.timestamp"))?;
    // The reader is the customer; the receipt is useful even without them.
    let customer = item
        .sender
        .as_ref()
        .and_then(|s| s.id.as_deref())
        .and_then(|id| Identity::opaque(IdentityKind::InstagramId, id).ok());
    Ok(CanonicalEvent::Status(StatusUpdate {
        provider: Provider::Instagram,
        provider_message_id: mid.to_string(),
        customer,
        status: DeliveryStatus::Read,
        at,
        error: None,
    }))
}

/// An icebreaker or button tap: the button's title is what the customer
/// "said". Without a `mid` (Graph API before v11) it cannot be deduplicated,
/// so it is skipped.
fn postback_message(
    item: &Messaging,
    postback: &Postback,
    path: &str,
) -> Result<Option<CanonicalEvent>, ParseError> {
    let Some(mid) = non_empty(postback.mid.as_deref()) else {
        return Ok(None);
    };
    let at = timestamp(item.timestamp.as_ref(), &format!("{path}.timestamp"))?;
    let customer = party(item.sender.as_ref(), &format!("{path}.sender"))?;
    let body = non_empty(postback.title.as_deref()).map(str::to_string);
    let source = item.referral.as_ref().and_then(referral_source);
    Ok(Some(message_event(
        mid,
        customer,
        at,
        Message::inbound(body, Vec::new()).with_source(source),
    )))
}

fn message_event(
    mid: &str,
    customer: Identity,
    at: DateTime<Utc>,
    message: Message,
) -> CanonicalEvent {
    CanonicalEvent::Message(IncomingMessage {
        provider: Provider::Instagram,
        provider_message_id: mid.to_string(),
        channel: Channel::Instagram,
        customer,
        // Messaging webhooks carry no profile; names need a Graph API call.
        customer_name: None,
        linked_identities: Vec::new(),
        occurred_at: at,
        message,
    })
}

/// The customer's Instagram-scoped id (IGSID) from `sender` or `recipient`.
fn party(party: Option<&Party>, path: &str) -> Result<Identity, ParseError> {
    let field = format!("{path}.id");
    let id = party
        .and_then(|p| p.id.as_deref())
        .ok_or_else(|| ParseError::new(&field, "missing Instagram id"))?;
    Identity::opaque(IdentityKind::InstagramId, id)
        .map_err(|e| ParseError::new(field, e.to_string()))
}

fn content(m: &IgMessage) -> (Option<String>, Vec<Attachment>) {
    let body = non_empty(m.text.as_deref()).map(str::to_string);
    let mut attachments: Vec<Attachment> = m
        .attachments
        .iter()
        .flatten()
        .map(|a| {
            let payload = a.payload.as_ref();
            Attachment {
                kind: non_empty(a.kind.as_deref())
                    .unwrap_or("unknown")
                    .to_string(),
                // Signed CDN URLs that expire: fetch promptly.
                url: payload.and_then(|p| text(p, "url")),
                media_id: payload.and_then(|p| text(p, "reel_video_id")),
                // Shared posts and reels carry their caption as `title`.
                caption: payload.and_then(|p| text(p, "title")),
                ..Attachment::default()
            }
        })
        .collect();
    if m.is_unsupported == Some(true) && attachments.is_empty() {
        attachments.push(Attachment {
            kind: "unsupported".to_string(),
            ..Attachment::default()
        });
    }
    (body, attachments)
}

/// Where an inbound message came from: an ad or link referral first (the
/// most specific attribution), then a story reply, then a story mention.
fn touch_source(
    item: &Messaging,
    m: &IgMessage,
    attachments: &[Attachment],
) -> Option<TouchSource> {
    let referral = m
        .referral
        .as_ref()
        .and_then(referral_source)
        .or_else(|| item.referral.as_ref().and_then(referral_source));
    if referral.is_some() {
        return referral;
    }
    if let Some(story) = m
        .reply_to
        .as_ref()
        .and_then(|r| r.get("story"))
        .filter(|s| s.is_object())
    {
        return Some(TouchSource {
            kind: "story_reply".to_string(),
            url: text(story, "url"),
            ..TouchSource::default()
        });
    }
    attachments
        .iter()
        .find(|a| a.kind == "story_mention")
        .map(|a| TouchSource {
            kind: "story_mention".to_string(),
            url: a.url.clone(),
            ..TouchSource::default()
        })
}

/// A `referral` object (`source`, `type`, `ref`, `ad_id`, `ads_context_data`,
/// or `product.id` for a message started from a product):
/// * kind `ad_referral` when it names an ad (`ad_id`, or `source: "ADS"`),
///   else `referral`;
/// * url: the ad creative (`ads_context_data.photo_url`, else `video_url`);
/// * referrer: what referred the customer, `ad:<ad_id>` or `product:<id>`;
/// * utm_source: Meta's `source`, lowercased (`ads`, `shortlink`, ...);
/// * utm_campaign: the link's `ref` parameter, else the ad's title.
fn referral_source(r: &Value) -> Option<TouchSource> {
    if !r.is_object() {
        return None;
    }
    let source = text(r, "source");
    let ad_id = text(r, "ad_id");
    let reference = text(r, "ref");
    let ads = r.get("ads_context_data").filter(|a| a.is_object());
    let product = r.get("product").and_then(|p| text(p, "id"));
    if source.is_none() && ad_id.is_none() && reference.is_none() && product.is_none() {
        return None;
    }
    let is_ad = ad_id.is_some()
        || source
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("ads"));
    let referrer = ad_id
        .map(|id| format!("ad:{id}"))
        .or_else(|| product.map(|id| format!("product:{id}")));
    Some(TouchSource {
        kind: if is_ad { "ad_referral" } else { "referral" }.to_string(),
        url: ads.and_then(|a| text(a, "photo_url").or_else(|| text(a, "video_url"))),
        referrer,
        utm_source: source.map(|s| s.to_ascii_lowercase()),
        utm_medium: None,
        utm_campaign: reference.or_else(|| ads.and_then(|a| text(a, "ad_title"))),
    })
}

/// A string (or number) member of a JSON object, if present and non-empty.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => non_empty(Some(s)).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// Unix milliseconds, or seconds when the value is below 10^12. Meta sends a
/// JSON integer; the dashboard test sends a numeric string.
fn timestamp(raw: Option<&Value>, field: &str) -> Result<DateTime<Utc>, ParseError> {
    let raw = raw.ok_or_else(|| ParseError::new(field, "missing timestamp"))?;
    let value = match raw {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok()
        }
        _ => None,
    };
    value
        .filter(|v| *v > 0)
        .and_then(|v| {
            if v < MILLIS_THRESHOLD {
                DateTime::from_timestamp(v, 0)
            } else {
                DateTime::from_timestamp_millis(v)
            }
        })
        .ok_or_else(|| {
            ParseError::new(
                field,
                format!("{raw} is not unix milliseconds (or seconds)"),
            )
        })
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

    const MESSAGE: &[u8] = include_bytes!("../../../tests/fixtures/instagram/message.json");
    const IMAGE: &[u8] = include_bytes!("../../../tests/fixtures/instagram/image_message.json");
    const ECHO: &[u8] = include_bytes!("../../../tests/fixtures/instagram/echo.json");
    const READ: &[u8] = include_bytes!("../../../tests/fixtures/instagram/read.json");
    const DELETED: &[u8] = include_bytes!("../../../tests/fixtures/instagram/deleted.json");

    const CUSTOMER: &str = "1203956471823346";

    fn only_message(body: &[u8]) -> IncomingMessage {
        let events = parse(body, &ctx()).unwrap();
        match events.as_slice() {
            [CanonicalEvent::Message(m)] => m.clone(),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    /// A one-item delivery around a hand-written messaging item.
    fn delivery(item: &str) -> Vec<u8> {
        format!(
            r#"{{"object":"instagram","entry":[{{"time":1792515732107,"id":"17841405822304914","messaging":[{item}]}}]}}"#
        )
        .into_bytes()
    }

    fn inbound_item(message: &str) -> String {
        format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"17841405822304914"}},"timestamp":1792515731482,"message":{message}}}"#
        )
    }

    fn instant(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn text_message_becomes_an_inbound_customer_message() {
        let m = only_message(MESSAGE);
        assert_eq!(m.provider, Provider::Instagram);
        assert_eq!(m.channel, Channel::Instagram);
        assert_eq!(m.customer.kind, IdentityKind::InstagramId);
        assert_eq!(m.customer.value, CUSTOMER);
        assert_eq!(
            m.provider_message_id,
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjMTc4NDE0MDU4MjIzMDQ5MTQ6MzQwMjgyMzY2ODQxNzEwMzAxMjQ0Mjc2MTY2NDg3OTg2Mjc2NjEzZDZD"
        );
        assert_eq!(m.occurred_at, instant("2026-10-20T17:02:11.482Z"));
        assert_eq!(m.message.direction, Direction::Inbound);
        assert_eq!(m.message.author, Author::Customer);
        let body = m.message.body.as_deref().unwrap();
        assert!(
            body.starts_with("Hi! Do you do balayage? 💇\u{200d}♀\u{fe0f}"),
            "{body}"
        );
        assert!(body.contains("shoulder length — how much"), "{body}");
        assert!(m.message.attachments.is_empty());
        assert_eq!(m.message.status, None);
        assert_eq!(m.message.status_at, None);
        assert!(!m.message.deleted);
        assert_eq!(m.message.source, None);
        assert_eq!(m.customer_name, None);
        assert!(m.linked_identities.is_empty());
    }

    #[test]
    fn image_attachment_keeps_the_unescaped_cdn_url() {
        let m = only_message(IMAGE);
        assert_eq!(m.customer.value, CUSTOMER);
        assert_eq!(m.message.body, None);
        let [a] = m.message.attachments.as_slice() else {
            panic!("expected one attachment: {:?}", m.message.attachments);
        };
        assert_eq!(a.kind, "image");
        assert_eq!(
            a.url.as_deref(),
            Some(
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1845209376153920&signature=24BcCmFjOauRWlNaBzmyUmtF0VrkNLzVPY9WaLJewcoXHAjhj7rRjm3c1FmLy0VHjMnuKovuaFrAT3mP4peZBS"
            )
        );
        assert_eq!(m.occurred_at, instant("2026-10-20T17:03:40.915Z"));
    }

    #[test]
    fn echo_is_an_outbound_human_message_to_the_recipient() {
        let m = only_message(ECHO);
        assert_eq!(m.customer.kind, IdentityKind::InstagramId);
        assert_eq!(m.customer.value, CUSTOMER);
        assert_eq!(m.message.direction, Direction::Outbound);
        assert_eq!(m.message.author, Author::Human { user_id: None });
        assert_eq!(m.message.status, Some(DeliveryStatus::Sent));
        assert_eq!(m.message.source, None);
        let body = m.message.body.as_deref().unwrap();
        assert!(body.contains("Lumière starts at £180"), "{body}");
        assert!(body.contains('😊'), "{body}");
        assert_eq!(m.occurred_at, instant("2026-10-20T17:05:02.201Z"));
    }

    #[test]
    fn read_marks_the_echoed_message_read() {
        let echo = only_message(ECHO);
        let events = parse(READ, &ctx()).unwrap();
        let [CanonicalEvent::Status(s)] = events.as_slice() else {
            panic!("expected one status, got {events:?}");
        };
        assert_eq!(s.provider, Provider::Instagram);
        assert_eq!(s.provider_message_id, echo.provider_message_id);
        assert_eq!(s.status, DeliveryStatus::Read);
        assert_eq!(
            s.customer,
            Some(Identity::opaque(IdentityKind::InstagramId, CUSTOMER).unwrap())
        );
        assert_eq!(s.at, instant("2026-10-20T17:06:15.004Z"));
        assert_eq!(s.error, None);
    }

    #[test]
    fn unsend_is_a_deletion_of_the_image() {
        let image = only_message(IMAGE);
        let events = parse(DELETED, &ctx()).unwrap();
        let [CanonicalEvent::Deletion(d)] = events.as_slice() else {
            panic!("expected one deletion, got {events:?}");
        };
        assert_eq!(d.provider, Provider::Instagram);
        assert_eq!(d.provider_message_id, image.provider_message_id);
        assert_eq!(d.at, instant("2026-10-20T17:07:48.390Z"));
    }

    #[test]
    fn fixture_signatures_verify_over_raw_bytes() {
        let good = "sha256=2da10cd13b2712ed1679a3eb7581386a89c2714390ee9ed502864cb2da0316a9";
        assert!(super::super::meta::signature_is_valid(
            "test_secret",
            MESSAGE,
            Some(good)
        ));
        let echo = "sha256=cc6feabbf2f8e71d6069fda376e92daee168a379274884d124ad89718d85a5a6";
        assert!(super::super::meta::signature_is_valid(
            "test_secret",
            ECHO,
            Some(echo)
        ));
        // Re-serializing unescapes `\u00e8` and `\/`, so the MAC changes.
        let reserialized =
            serde_json::to_vec(&serde_json::from_slice::<Value>(ECHO).unwrap()).unwrap();
        assert!(!super::super::meta::signature_is_valid(
            "test_secret",
            &reserialized,
            Some(echo)
        ));
        assert!(!super::super::meta::signature_is_valid(
            "wrong",
            MESSAGE,
            Some(good)
        ));
    }

    #[test]
    fn story_reply_records_the_story_as_source() {
        let body = delivery(&inbound_item(
            r#"{"mid":"m_story_reply","text":"Love this colour!","reply_to":{"story":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x","id":"17890000000000001"}}}"#,
        ));
        let m = only_message(&body);
        assert_eq!(m.provider_message_id, "m_story_reply");
        assert_eq!(m.message.body.as_deref(), Some("Love this colour!"));
        let source = m.message.source.unwrap();
        assert_eq!(source.kind, "story_reply");
        assert_eq!(
            source.url.as_deref(),
            Some("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x")
        );
    }

    #[test]
    fn reply_to_a_message_is_not_a_source() {
        let body = delivery(&inbound_item(
            r#"{"mid":"m2","text":"yes","reply_to":{"mid":"m1"}}"#,
        ));
        assert_eq!(only_message(&body).message.source, None);
    }

    #[test]
    fn story_mention_records_the_mention_as_source() {
        let body = delivery(&inbound_item(
            r#"{"mid":"m_mention","attachments":[{"type":"story_mention","payload":{"url":"https:\/\/lookaside.fbsbx.com\/ig_messaging_cdn\/?asset_id=2"}}]}"#,
        ));
        let m = only_message(&body);
        assert_eq!(m.message.body, None);
        assert_eq!(m.message.attachments[0].kind, "story_mention");
        let source = m.message.source.unwrap();
        assert_eq!(source.kind, "story_mention");
        assert_eq!(
            source.url.as_deref(),
            Some("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=2")
        );
    }

    #[test]
    fn ad_referral_on_the_message_is_the_source() {
        let body = delivery(&inbound_item(
            r#"{"mid":"m_ad","text":"Is this still on?","referral":{"ref":"autumn_offer","ad_id":"120210000000001","source":"ADS","type":"OPEN_THREAD","ads_context_data":{"ad_title":"Autumn balayage","photo_url":"https://scontent.example/ad.jpg"}}}"#,
        ));
        let source = only_message(&body).message.source.unwrap();
        assert_eq!(source.kind, "ad_referral");
        assert_eq!(source.referrer.as_deref(), Some("ad:120210000000001"));
        assert_eq!(
            source.url.as_deref(),
            Some("https://scontent.example/ad.jpg")
        );
        assert_eq!(source.utm_source.as_deref(), Some("ads"));
        assert_eq!(source.utm_campaign.as_deref(), Some("autumn_offer"));
    }

    #[test]
    fn link_referral_beside_the_message_is_a_plain_referral() {
        let item = format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"17841405822304914"}},"timestamp":1792515731482,"message":{{"mid":"m_link","text":"hi"}},"referral":{{"ref":"bio_link","source":"SHORTLINK","type":"OPEN_THREAD"}}}}"#
        );
        let source = only_message(&delivery(&item)).message.source.unwrap();
        assert_eq!(source.kind, "referral");
        assert_eq!(source.utm_source.as_deref(), Some("shortlink"));
        assert_eq!(source.utm_campaign.as_deref(), Some("bio_link"));
        assert_eq!(source.referrer, None);
        assert_eq!(source.url, None);
    }

    #[test]
    fn standalone_referral_reaction_and_unknown_kinds_are_skipped() {
        let referral = format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"1"}},"timestamp":1792515731482,"referral":{{"ref":"x","source":"SHORTLINK","type":"OPEN_THREAD"}}}}"#
        );
        let reaction = format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"1"}},"timestamp":1792515731482,"reaction":{{"mid":"m1","action":"react","reaction":"love","emoji":"❤️"}}}}"#
        );
        let unknown = r#"{"sender":{"id":"1"},"timestamp":"whenever","optin":{"ref":"x"}}"#;
        let body = delivery(&format!("{referral},{reaction},{unknown}"));
        assert_eq!(parse(&body, &ctx()).unwrap(), vec![]);
    }

    #[test]
    fn postback_with_a_mid_is_the_customer_tapping_a_button() {
        let item = format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"1"}},"timestamp":1792515731482,"postback":{{"mid":"m_pb","title":"Book an appointment","payload":"BOOK"}}}}"#
        );
        let m = only_message(&delivery(&item));
        assert_eq!(m.provider_message_id, "m_pb");
        assert_eq!(m.message.body.as_deref(), Some("Book an appointment"));
        assert_eq!(m.message.direction, Direction::Inbound);
        // Without a mid it cannot be deduplicated.
        let old = format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"recipient":{{"id":"1"}},"timestamp":1792515731482,"postback":{{"title":"Book","payload":"BOOK"}}}}"#
        );
        assert_eq!(parse(&delivery(&old), &ctx()).unwrap(), vec![]);
    }

    #[test]
    fn share_reel_and_unsupported_attachments() {
        let body = delivery(&inbound_item(
            r#"{"mid":"m_reel","attachments":[{"type":"ig_reel","payload":{"reel_video_id":"18000000000000001","title":"Autumn tones","url":"https://lookaside.fbsbx.com/reel"}},{"type":"share","payload":{"url":"https://lookaside.fbsbx.com/share"}},{"payload":null}]}"#,
        ));
        let kinds: Vec<_> = only_message(&body)
            .message
            .attachments
            .into_iter()
            .map(|a| (a.kind, a.url, a.media_id, a.caption))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (
                    "ig_reel".to_string(),
                    Some("https://lookaside.fbsbx.com/reel".to_string()),
                    Some("18000000000000001".to_string()),
                    Some("Autumn tones".to_string())
                ),
                (
                    "share".to_string(),
                    Some("https://lookaside.fbsbx.com/share".to_string()),
                    None,
                    None
                ),
                ("unknown".to_string(), None, None, None),
            ]
        );
        let body = delivery(&inbound_item(r#"{"mid":"m_gif","is_unsupported":true}"#));
        assert_eq!(
            only_message(&body).message.attachments[0].kind,
            "unsupported"
        );
    }

    #[test]
    fn seconds_and_milliseconds_give_the_same_instant() {
        let seconds = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":1792515731,"message":{{"mid":"m_s","text":"hi"}}}}"#
        ));
        assert_eq!(
            only_message(&seconds).occurred_at,
            instant("2026-10-20T17:02:11Z")
        );
        let millis = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":1792515731000,"message":{{"mid":"m_ms","text":"hi"}}}}"#
        ));
        assert_eq!(
            only_message(&millis).occurred_at,
            instant("2026-10-20T17:02:11Z")
        );
    }

    #[test]
    fn every_entry_and_item_is_read_in_order() {
        let body = format!(
            r#"{{"object":"instagram","entry":[{{"id":"1","time":1,"messaging":[{},{}]}},{{"id":"1","time":2,"messaging":[{}]}}]}}"#,
            inbound_item(r#"{"mid":"a","text":"one"}"#),
            inbound_item(r#"{"mid":"b","text":"two"}"#),
            inbound_item(r#"{"mid":"c","is_deleted":true}"#),
        );
        let events = parse(body.as_bytes(), &ctx()).unwrap();
        let ids: Vec<_> = events
            .iter()
            .map(|e| match e {
                CanonicalEvent::Message(m) => m.provider_message_id.as_str(),
                CanonicalEvent::Deletion(d) => d.provider_message_id.as_str(),
                CanonicalEvent::Status(s) => s.provider_message_id.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
    }

    #[test]
    fn dashboard_test_shape_is_read_as_a_message() {
        let body = br#"{"object":"instagram","entry":[{"id":"0","time":1661141837537,"changes":[{"field":"messages","value":{"sender":{"id":"12334"},"recipient":{"id":"23245"},"timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}},{"field":"comments","value":{"id":"1","text":"nice"}}]}]}"#;
        let m = only_message(body);
        assert_eq!(m.customer.value, "12334");
        assert_eq!(m.provider_message_id, "random_mid");
        assert_eq!(m.message.body.as_deref(), Some("random_text"));
        assert_eq!(m.occurred_at.timestamp(), 1_527_459_824);
        let bad = br#"{"object":"instagram","entry":[{"id":"0","changes":[{"field":"messages","value":{"sender":{"id":"1"},"timestamp":"later","message":{"mid":"x"}}}]}]}"#;
        let err = parse(bad, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].changes[0].value.timestamp");
        let bad = br#"{"object":"instagram","entry":[{"id":"0","changes":[{"field":"messages","value":{"sender":{"id":7}}}]}]}"#;
        let err = parse(bad, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].changes[0].value.sender.id");
    }

    #[test]
    fn scope_keeps_only_the_connections_account() {
        const ACCOUNT: &str = "17841405822304914";
        assert_eq!(scope(MESSAGE, ACCOUNT), Scoped::Whole);
        let mut batch: Value = serde_json::from_slice(MESSAGE).unwrap();
        let mut other = batch["entry"][0].clone();
        other["id"] = Value::from("17841400000000001");
        other["messaging"][0]["message"]["mid"] = Value::from("m_other");
        batch["entry"].as_array_mut().unwrap().push(other);
        let body = serde_json::to_vec(&batch).unwrap();
        let Scoped::Part(part) = scope(&body, ACCOUNT) else {
            panic!("another account's entry is left out");
        };
        assert_eq!(
            parse(&part, &ctx()).unwrap(),
            parse(MESSAGE, &ctx()).unwrap()
        );
        let Scoped::Part(none) = scope(&body, "1") else {
            panic!("every entry is left out");
        };
        assert_eq!(parse(&none, &ctx()).unwrap(), vec![]);
        assert_eq!(scope(b"[", ACCOUNT), Scoped::Whole);
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        let err = parse(br#"{"object":"page","entry":[]}"#, &ctx()).unwrap_err();
        assert_eq!(err.field, "object");
        let err = parse(br#"{"object":"instagram"}"#, &ctx()).unwrap_err();
        assert_eq!(err.field, "body");
        assert!(err.detail.contains("entry"), "{err}");
        assert!(parse(b"not json", &ctx()).is_err());

        let no_mid = delivery(&inbound_item(r#"{"text":"hi"}"#));
        let err = parse(&no_mid, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].message.mid");

        let bad_ts = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":"soon","message":{{"mid":"m","text":"hi"}}}}"#
        ));
        let err = parse(&bad_ts, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].timestamp");
        assert!(err.detail.contains("soon"), "{err}");

        for ts in ["-5", "0", "1.5e12", "null", "{}"] {
            let body = delivery(&format!(
                r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":{ts},"message":{{"mid":"m"}}}}"#
            ));
            let err = parse(&body, &ctx()).unwrap_err();
            assert_eq!(err.field, "entry[0].messaging[0].timestamp", "{ts}");
        }

        let no_ts = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"read":{{"mid":"m"}}}}"#
        ));
        let err = parse(&no_ts, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].timestamp");

        let no_read_mid = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":1792515731482,"read":{{}}}}"#
        ));
        let err = parse(&no_read_mid, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].read.mid");

        let no_sender = delivery(r#"{"timestamp":1792515731482,"message":{"mid":"m"}}"#);
        let err = parse(&no_sender, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].sender.id");

        let echo_without_recipient = delivery(&format!(
            r#"{{"sender":{{"id":"{CUSTOMER}"}},"timestamp":1792515731482,"message":{{"mid":"m","is_echo":true}}}}"#
        ));
        let err = parse(&echo_without_recipient, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].recipient.id");

        let hash_id = delivery(
            r##"{"sender":{"id":"12#3"},"timestamp":1792515731482,"message":{"mid":"m"}}"##,
        );
        let err = parse(&hash_id, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].sender.id");

        let wrong_type = delivery(&inbound_item(r#"{"mid":"m","is_echo":"yes"}"#));
        let err = parse(&wrong_type, &ctx()).unwrap_err();
        assert_eq!(err.field, "entry[0].messaging[0].message.is_echo");
    }
}
