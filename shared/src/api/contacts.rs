use chrono::SecondsFormat;
use chrono_tz::Tz;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;

use super::{ApiDeps, Caller, params};
use crate::http::{ApiError, json};
use crate::keys;
use crate::model::{Channel, EventDetail, TimelineEvent};
use crate::store::TimelineQuery;

const CONTACTS_SCOPE: &str = "contacts";
const EVENT_TYPES: &[&str] = &[
    "message",
    "call",
    "booking",
    "payment",
    "note",
    "stage_change",
    "identity_link",
];
const CHANNELS: &[&str] = &["whatsapp", "instagram", "sms", "email", "chat", "phone"];

/// Another tenant's contact and a missing one answer the same.
pub(super) fn not_found() -> ApiError {
    ApiError::NotFound("no such contact".into())
}

pub async fn list(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let limit = params::limit(request)?;
    if let Some(q) = params::optional(request, "q") {
        let region = deps.store.settings(&caller.tenant_id).await?.phone_region;
        let found = deps
            .store
            .search_contacts(&caller.tenant_id, q, region.as_deref(), limit)
            .await?;
        return Ok(json(
            StatusCode::OK,
            &json!({ "items": found, "next_cursor": null }),
        ));
    }
    let after = match params::optional(request, "cursor") {
        Some(raw) => match deps
            .cursors
            .open(&caller.tenant_id, CONTACTS_SCOPE, raw)?
            .as_slice()
        {
            [sort_key, contact] => Some((sort_key.clone(), contact.clone())),
            _ => {
                return Err(ApiError::bad_request(
                    "cursor",
                    "cursor is not valid for this listing",
                ));
            }
        },
        None => None,
    };
    let page = deps
        .store
        .contacts_by_activity(&caller.tenant_id, limit, after)
        .await?;
    let next_cursor = page.next.map(|(sort_key, contact)| {
        deps.cursors
            .seal(&caller.tenant_id, CONTACTS_SCOPE, &[sort_key, contact])
    });
    Ok(json(
        StatusCode::OK,
        &json!({ "items": page.contacts, "next_cursor": next_cursor }),
    ))
}

pub async fn get(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
) -> Result<Response<Body>, ApiError> {
    let view = deps
        .store
        .contact(&caller.tenant_id, contact)
        .await?
        .ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &view))
}

/// What a customer unsent shows as, everywhere.
pub const DELETED_PLACEHOLDER: &str = "[Message deleted]";

#[derive(Serialize)]
pub(super) struct TimelineItem<'a> {
    #[serde(flatten)]
    event: &'a TimelineEvent,
    /// The instant in the business's timezone, with its offset.
    local_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    placeholder: Option<&'static str>,
}

impl<'a> TimelineItem<'a> {
    pub(super) fn new(event: &'a TimelineEvent, tz: Tz) -> Self {
        let deleted = matches!(&event.detail, EventDetail::Message(m) if m.deleted);
        Self {
            event,
            local_time: event
                .occurred_at
                .with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            placeholder: deleted.then_some(DELETED_PLACEHOLDER),
        }
    }
}

/// The position a timeline-like listing of `contact` continues from.
pub(super) fn event_cursor(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = params::optional(request, "cursor") else {
        return Ok(None);
    };
    match deps
        .cursors
        .open(&caller.tenant_id, contact, raw)?
        .as_slice()
    {
        [sk] if sk.starts_with(keys::EVENT_SK_PREFIX) => Ok(Some(sk.clone())),
        _ => Err(ApiError::bad_request(
            "cursor",
            "cursor is not valid for this listing",
        )),
    }
}

pub(super) fn channel_filter(request: &Request) -> Result<Vec<Channel>, ApiError> {
    Ok(params::list(request, "channels", CHANNELS)?
        .iter()
        .filter_map(|c| serde_json::from_value(json!(c)).ok())
        .collect())
}

pub async fn timeline(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let limit = params::limit(request)?;
    let oldest_first = match params::optional(request, "order") {
        None | Some("newest") => false,
        Some("oldest") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "order",
                "order must be newest or oldest",
            ));
        }
    };
    let after = event_cursor(deps, caller, contact, request)?;
    let types = params::list(request, "types", EVENT_TYPES)?;
    let channels = channel_filter(request)?;
    let from = params::instant(request, "from")?;
    let to = params::instant(request, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad_request("from", "from is after to"));
    }
    let tenant = &caller.tenant_id;
    if !deps.store.contact_exists(tenant, contact).await? {
        return Err(not_found());
    }
    let tz: Tz = deps.store.settings(tenant).await?.tz();
    let query = TimelineQuery {
        limit,
        after: after.as_deref(),
        oldest_first,
        from,
        to,
        types: &types,
        channels: &channels,
    };
    let page = deps.store.timeline_page(tenant, contact, &query).await?;
    let items: Vec<TimelineItem> = page
        .events
        .iter()
        .map(|event| TimelineItem::new(event, tz))
        .collect();
    let next_cursor = page
        .next
        .map(|sk| deps.cursors.seal(&caller.tenant_id, contact, &[sk]));
    Ok(json(
        StatusCode::OK,
        &json!({ "items": items, "next_cursor": next_cursor }),
    ))
}

pub async fn duplicates(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
) -> Result<Response<Body>, ApiError> {
    if !deps
        .store
        .contact_exists(&caller.tenant_id, contact)
        .await?
    {
        return Err(not_found());
    }
    let items = deps
        .store
        .duplicate_suggestions(&caller.tenant_id, contact)
        .await?;
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

pub async fn journey(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
) -> Result<Response<Body>, ApiError> {
    let tenant = &caller.tenant_id;
    if !deps.store.contact_exists(tenant, contact).await? {
        return Err(not_found());
    }
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = TimelineQuery {
            limit: 100,
            after: after.as_deref(),
            oldest_first: true,
            ..TimelineQuery::default()
        };
        let page = deps.store.timeline_page(tenant, contact, &query).await?;
        events.extend(page.events);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(json(StatusCode::OK, &crate::journey::journey(&events)))
}

pub async fn metrics(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
) -> Result<Response<Body>, ApiError> {
    let tenant = &caller.tenant_id;
    // One item read; only a contact without messages needs its profile.
    let (counters, last_contact) = match deps.store.stored_metrics(tenant, contact).await? {
        Some(stored) => (stored.counters, stored.last_message_at),
        None => {
            let view = deps
                .store
                .contact(tenant, contact)
                .await?
                .ok_or_else(not_found)?;
            (Default::default(), Some(view.profile.last_activity_at))
        }
    };
    let metrics = crate::metrics::metrics(&counters, last_contact, chrono::Utc::now());
    Ok(json(StatusCode::OK, &metrics))
}
