//! `GET /contacts/{contact}/messages`: the unified messages of all channels,
//! filtered by channel and searched; `POST`: a message the business sent (by
//! an AI or a person), recorded once per `Idempotency-Key` and once per
//! provider message id, so the provider's echo of it is not a second message.

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use ulid::Ulid;

use super::contacts::{TimelineItem, channel_filter, event_cursor, not_found};
use super::{ApiDeps, Caller, body, params};
use crate::channels::IncomingMessage;
use crate::http::{ApiError, json};
use crate::identity::{Identity, IdentityKind};
use crate::keys;
use crate::limits;
use crate::model::{Attachment, Author, Channel, EventDetail, Message, Provider, TimelineEvent};
use crate::store::{RecordOutcome, Search, TimelineQuery};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundMessage {
    channel: Channel,
    #[serde(default, deserialize_with = "body::present")]
    body: Option<String>,
    #[serde(default)]
    attachments: Vec<OutboundAttachment>,
    /// `ai` or `human` (the calling user).
    author: String,
    /// The id the provider returned when the message was sent (wamid, mid,
    /// MessageSid): its echo or status webhooks then find this message.
    #[serde(default, deserialize_with = "body::present")]
    provider_message_id: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    sent_at: Option<DateTime<Utc>>,
}

/// The longest `Idempotency-Key` and `provider_message_id` (both end up in
/// a key of the table, whose partition keys are at most 2048 bytes).
const MAX_KEY_CHARS: usize = 200;

/// What an `Idempotency-Key` of this route is scoped by, besides the contact.
const IDEMPOTENCY_SCOPE: &str = "POST-messages";

/// Printable ASCII without '#', no space at either end: what an HTTP header
/// carries unchanged (the document's pattern).
fn is_idempotency_key(key: &str) -> bool {
    let allowed = |c: char| (' '..='~').contains(&c) && c != '#';
    (1..=MAX_KEY_CHARS).contains(&key.len())
        && key.chars().all(allowed)
        && !key.starts_with(' ')
        && !key.ends_with(' ')
}

/// An absolute http(s) URL with a host, as the document's pattern for
/// `Attachment.url` spells it: `^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20\x7f]+([/?#][^\x00-\x20\x7f]*)?$`.
/// Other schemes (`javascript:`, `data:`, `file:`) would be links a
/// console shows.
fn is_web_url(url: &str) -> bool {
    let control = |c: char| c <= ' ' || c == '\u{7f}';
    let rest = match url.get(..8).map(str::to_ascii_lowercase).as_deref() {
        Some("https://") => &url[8..],
        _ => match url.get(..7).map(str::to_ascii_lowercase).as_deref() {
            Some("http://") => &url[7..],
            _ => return false,
        },
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    !host.is_empty() && !host.chars().any(control) && !rest[host_end..].chars().any(control)
}

/// An attachment as a request gives it: the fields of `Attachment`, no other.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundAttachment {
    kind: String,
    #[serde(default, deserialize_with = "body::present")]
    media_id: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    url: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    mime_type: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    caption: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    filename: Option<String>,
}

impl From<OutboundAttachment> for Attachment {
    fn from(a: OutboundAttachment) -> Self {
        Attachment {
            kind: a.kind,
            media_id: a.media_id,
            url: a.url,
            mime_type: a.mime_type,
            caption: a.caption,
            filename: a.filename,
        }
    }
}

/// The provider whose ids a channel's messages carry.
fn provider_of(channel: Channel) -> Provider {
    match channel {
        Channel::Whatsapp => Provider::Whatsapp,
        Channel::Instagram => Provider::Instagram,
        Channel::Sms => Provider::TwilioSms,
        Channel::Email => Provider::Ses,
        Channel::Chat => Provider::Chat,
        Channel::Phone => Provider::TwilioVoice,
    }
}

pub async fn send(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let idempotency_key = request
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| is_idempotency_key(k))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Idempotency-Key",
                        format!("1 to {MAX_KEY_CHARS} printable ASCII characters, no '#'"),
                    )
                })
        })
        .transpose()?;
    // A key names one request to this route for this contact: the same key
    // elsewhere is another request. (The key has no '#', so the scope is
    // unambiguous.)
    let idempotency_key = idempotency_key.map(|k| format!("{IDEMPOTENCY_SCOPE}#{contact}#{k}"));
    let outbound: OutboundMessage = body::parse_json(request)?;
    for (i, attachment) in outbound.attachments.iter().enumerate() {
        if attachment
            .url
            .as_deref()
            .is_some_and(|url| !is_web_url(url))
        {
            return Err(ApiError::bad_request(
                format!("attachments[{i}].url"),
                "an http or https URL",
            ));
        }
    }
    let author = match outbound.author.as_str() {
        "ai" => Author::Ai,
        "human" => Author::Human {
            user_id: Some(caller.user_id.clone()),
        },
        _ => {
            return Err(ApiError::bad_request(
                "author",
                "author must be ai or human",
            ));
        }
    };
    let text = outbound.body.filter(|b| !body::is_blank(b));
    if text.is_none() && outbound.attachments.is_empty() {
        return Err(ApiError::bad_request(
            "body",
            "a message needs a body or attachments",
        ));
    }
    // The same rule as every adapter's ids and instants (`limits`).
    let provider_message_id = match outbound.provider_message_id {
        Some(id) => match limits::key_id_problem(&id, false) {
            Some(problem) => return Err(ApiError::bad_request("provider_message_id", problem)),
            // Provider ids are ASCII; the document says so, so bytes are characters.
            None if !id.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ApiError::bad_request(
                    "provider_message_id",
                    "printable ASCII only",
                ));
            }
            None => id,
        },
        None => format!("api-{}", Ulid::new()),
    };
    if outbound
        .sent_at
        .is_some_and(|at| !limits::instant_in_range(at))
    {
        return Err(ApiError::bad_request(
            "sent_at",
            "is outside the years 1970 to 9999",
        ));
    }
    let tenant = &caller.tenant_id;
    let view = deps
        .store
        .contact(tenant, contact)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such contact".into()))?;
    // The contact is already known; the identity only records which of its
    // addresses the message went to, so a split moves it along.
    let customer = addressee(outbound.channel, &view.identities).unwrap_or(Identity {
        kind: IdentityKind::Visitor,
        value: contact.to_string(),
    });
    let message = IncomingMessage {
        provider: provider_of(outbound.channel),
        provider_message_id,
        channel: outbound.channel,
        customer,
        customer_name: None,
        linked_identities: Vec::new(),
        occurred_at: outbound.sent_at.unwrap_or_else(Utc::now),
        message: Message::outbound(
            author,
            text,
            outbound
                .attachments
                .into_iter()
                .map(Attachment::from)
                .collect(),
        ),
    };
    let outcome = deps
        .store
        .record_message_once(tenant, contact, &message, idempotency_key.as_deref())
        .await?;
    match outcome {
        RecordOutcome::Created { .. } => {
            deps.store
                .touch_contact(tenant, contact, message.occurred_at)
                .await?
        }
        RecordOutcome::Duplicate { .. } => {
            deps.store
                .fill_author(&outcome, &message.message.author)
                .await?
        }
    }
    let event = deps
        .store
        .recorded_event(&outcome)
        .await?
        .ok_or_else(|| ApiError::NotFound("the recorded message is gone".into()))?;
    // A replay answers with the message recorded the first time.
    let status = match outcome {
        RecordOutcome::Created { .. } => StatusCode::CREATED,
        RecordOutcome::Duplicate { .. } => StatusCode::OK,
    };
    Ok(json(status, &event))
}

#[derive(serde::Serialize)]
struct MessageItem<'a> {
    #[serde(flatten)]
    item: TimelineItem<'a>,
    /// Where the search terms occur in `body`: `[start, end)` character offsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<Vec<(usize, usize)>>,
}

/// Events read per page while searching.
const SEARCH_BATCH: usize = 100;

pub async fn list(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let limit = params::limit(request)?;
    let channels = channel_filter(request)?;
    let after = event_cursor(deps, caller, contact, request)?;
    let terms = params::optional(request, "q")
        .map(crate::text::terms)
        .unwrap_or_default();
    let tenant = &caller.tenant_id;
    if !deps.store.contact_exists(tenant, contact).await? {
        return Err(not_found());
    }
    let tz = deps.store.settings(tenant).await?.tz();
    let (found, next) = match crate::text::lookup_key(&terms) {
        Some(key) => {
            let search = Search {
                terms: &terms,
                key: &key,
                channels: &channels,
                limit,
                after: after.as_deref(),
            };
            let page = deps.store.search_messages(tenant, contact, &search).await?;
            let found = page
                .hits
                .into_iter()
                .map(|(event, matches)| (event, Some(matches)))
                .collect();
            (found, page.next)
        }
        None => read_messages(deps, tenant, contact, &terms, &channels, limit, after).await?,
    };
    let items: Vec<MessageItem> = found
        .iter()
        .map(|(event, matches)| MessageItem {
            item: TimelineItem::new(event, tz),
            matches: matches.clone(),
        })
        .collect();
    let next_cursor = next.map(|sk| deps.cursors.seal(tenant, contact, &[sk]));
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": items, "next_cursor": next_cursor }),
    ))
}

type Found = Vec<(TimelineEvent, Option<Vec<(usize, usize)>>)>;

/// A page of messages, or a search by reading them (when the terms are too
/// short for the index): read on until enough match or the history ends.
async fn read_messages(
    deps: &ApiDeps,
    tenant: &str,
    contact: &str,
    terms: &[String],
    channels: &[Channel],
    limit: usize,
    mut after: Option<String>,
) -> Result<(Found, Option<String>), ApiError> {
    let message_type = ["message".to_string()];
    let mut found = Vec::new();
    let mut next = None;
    loop {
        let query = TimelineQuery {
            limit: if terms.is_empty() {
                limit
            } else {
                SEARCH_BATCH
            },
            after: after.as_deref(),
            types: &message_type,
            channels,
            ..TimelineQuery::default()
        };
        let page = deps.store.timeline_page(tenant, contact, &query).await?;
        let mut stopped_early = false;
        for event in page.events {
            if found.len() == limit {
                stopped_early = true;
                break;
            }
            let body = match &event.detail {
                EventDetail::Message(m) if !m.deleted => m.body.clone().unwrap_or_default(),
                _ => String::new(),
            };
            let sk = keys::event_sk(event.occurred_at, &event.event_id);
            if terms.is_empty() {
                found.push((event, None));
            } else if let Some(matches) = crate::text::find_all(&body, terms) {
                found.push((event, Some(matches)));
            }
            after = Some(sk);
        }
        if terms.is_empty() {
            next = page.next;
            break;
        }
        if stopped_early || found.len() == limit {
            next = after
                .clone()
                .filter(|_| stopped_early || page.next.is_some());
            break;
        }
        match page.next {
            Some(sk) => after = Some(sk),
            None => break,
        }
    }
    Ok((found, next))
}

/// The contact's identity a message on `channel` is addressed to, when it
/// has exactly one of that kind.
fn addressee(channel: Channel, identities: &[Identity]) -> Option<Identity> {
    let kind = match channel {
        Channel::Whatsapp | Channel::Sms | Channel::Phone => IdentityKind::Phone,
        Channel::Instagram => IdentityKind::InstagramId,
        Channel::Email => IdentityKind::Email,
        Channel::Chat => IdentityKind::Visitor,
    };
    let mut held = identities.iter().filter(|i| i.kind == kind);
    match (held.next(), held.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_urls_are_http_or_https_with_a_host() {
        for ok in [
            "https://salon.example/menu.png",
            "http://salon.example",
            "HTTPS://salon.example?x=1",
            "https://salon.example#top",
            "https://bücher.example/ä",
        ] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "ftp://salon.example/a",
            "https://",
            "https:///path",
            "https://salon.example/a b",
            "https://sal on.example",
            "https://salon.example/\u{7f}",
            "//salon.example",
            "",
            "httpx://a",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_what_a_header_carries_unchanged() {
        assert!(is_idempotency_key("k-1"));
        assert!(is_idempotency_key("a b"));
        assert!(is_idempotency_key(&"k".repeat(MAX_KEY_CHARS)));
        for bad in [
            "",
            "a#b",
            " a",
            "a ",
            "\u{e9}",
            "a\tb",
            &"k".repeat(MAX_KEY_CHARS + 1),
        ] {
            assert!(!is_idempotency_key(bad), "{bad:?}");
        }
    }
}
