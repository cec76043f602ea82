//! What staff do to a contact: notes, stage changes, merges and splits, and
//! the audit log. Notes are internal: this API is staff-only.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::{ApiDeps, Caller, body, params};
use crate::http::{ApiError, json};
use crate::identity::{Identity, IdentityKind};

const MAX_NOTE_CHARS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStage {
    stage: String,
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such contact".into())
}

pub async fn add_note(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let note: NewNote = body::parse_json(request)?;
    let text = note_text(&note.body)?;
    if !deps
        .store
        .contact_exists(&caller.tenant_id, contact)
        .await?
    {
        return Err(not_found());
    }
    let event = deps
        .store
        .add_note(&caller.tenant_id, contact, &caller.user_id, text)
        .await?;
    Ok(json(StatusCode::CREATED, &event))
}

/// The note as stored: at most `MAX_NOTE_CHARS` as sent, not blank, without
/// the blank around it.
fn note_text(body: &str) -> Result<&str, ApiError> {
    if body::is_blank(body) || body.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(
            "body",
            format!("1 to {MAX_NOTE_CHARS} characters, not all blank"),
        ));
    }
    Ok(body::trim_blank(body))
}

pub async fn change_stage(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let new: NewStage = body::parse_json(request)?;
    let tenant = &caller.tenant_id;
    let settings = deps.store.settings(tenant).await?;
    if !settings.stages.iter().any(|s| s == &new.stage) {
        return Err(ApiError::bad_request(
            "stage",
            format!("must be one of: {}", settings.stages.join(", ")),
        ));
    }
    if !deps.store.contact_exists(tenant, contact).await? {
        return Err(not_found());
    }
    let changed = deps
        .store
        .change_stage(tenant, contact, &new.stage, &caller.user_id)
        .await?;
    let view = deps
        .store
        .contact(tenant, contact)
        .await?
        .ok_or_else(not_found)?;
    // 200 either way: setting the stage a contact already has changes nothing.
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "contact": view, "change": changed }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeRequest {
    /// The contact that joins this one and then ceases to exist.
    contact_id: String,
}

pub async fn merge(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let merge: MergeRequest = body::parse_json(request)?;
    if ulid::Ulid::from_string(&merge.contact_id).is_err() {
        return Err(not_found());
    }
    if merge.contact_id == contact {
        return Err(ApiError::bad_request(
            "contact_id",
            "a contact cannot be merged into itself",
        ));
    }
    let event = deps
        .store
        .merge_by_staff(
            &caller.tenant_id,
            contact,
            &merge.contact_id,
            &caller.user_id,
        )
        .await?
        .ok_or_else(not_found)?;
    let view = deps
        .store
        .contact(&caller.tenant_id, contact)
        .await?
        .ok_or_else(not_found)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "contact": view, "change": event }),
    ))
}

const MAX_NAME_CHARS: usize = 200;

/// The new contact's name as stored: at most `MAX_NAME_CHARS` as sent, not
/// blank, without the blank around it.
fn display_name(name: &str) -> Result<&str, ApiError> {
    if body::is_blank(name) || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "display_name",
            format!("1 to {MAX_NAME_CHARS} characters, not all blank"),
        ));
    }
    Ok(body::trim_blank(name))
}

/// An identity as a request names it: exactly `kind` and `value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedIdentity {
    kind: IdentityKind,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitRequest {
    /// Identities of this contact that leave, with the events that arrived
    /// through them.
    identities: Vec<NamedIdentity>,
    #[serde(default, deserialize_with = "body::present")]
    display_name: Option<String>,
}

pub async fn split(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let split: SplitRequest = body::parse_json(request)?;
    let identities: Vec<Identity> = split
        .identities
        .into_iter()
        .map(|i| Identity {
            kind: i.kind,
            value: i.value,
        })
        .collect();
    let tenant = &caller.tenant_id;
    let name = split
        .display_name
        .as_deref()
        .map(display_name)
        .transpose()?;
    let source = deps
        .store
        .contact(tenant, contact)
        .await?
        .ok_or_else(not_found)?;
    if identities.is_empty() {
        return Err(ApiError::bad_request(
            "identities",
            "name at least one identity",
        ));
    }
    // A split cut short earlier already moved some identities: its retry
    // names them too and finishes it.
    let moved = match deps
        .store
        .unfinished_split(tenant, contact, &identities)
        .await?
    {
        Some(into) => deps
            .store
            .contact(tenant, &into)
            .await?
            .map(|view| view.identities)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some(stranger) = identities
        .iter()
        .find(|i| !source.identities.contains(i) && !moved.contains(i))
    {
        return Err(ApiError::bad_request(
            "identities",
            format!(
                "{} is not an identity of this contact",
                stranger.kind.as_str()
            ),
        ));
    }
    if source.identities.iter().all(|i| identities.contains(i)) {
        return Err(ApiError::bad_request(
            "identities",
            "at least one identity must stay with this contact",
        ));
    }
    let (new_contact, change) = deps
        .store
        .split_by_staff(tenant, contact, &identities, name, &caller.user_id)
        .await?;
    let (Some(created), Some(source)) = (
        deps.store.contact(tenant, &new_contact).await?,
        deps.store.contact(tenant, contact).await?,
    ) else {
        // A merge ran concurrently and took one of the two.
        return Err(not_found());
    };
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({ "contact": created, "source": source, "change": change }),
    ))
}

const AUDIT_SCOPE: &str = "audit";

/// `GET /audit` (admins): privacy and identity actions, newest first.
pub async fn audit(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let limit = params::limit(request)?;
    let after = match params::optional(request, "cursor") {
        Some(raw) => match deps
            .cursors
            .open(&caller.tenant_id, AUDIT_SCOPE, raw)?
            .as_slice()
        {
            [sk] => Some(sk.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "cursor",
                    "cursor is not valid for this listing",
                ));
            }
        },
        None => None,
    };
    let (items, next) = deps
        .store
        .audit_log(&caller.tenant_id, limit, after.as_deref())
        .await?;
    let next_cursor = next.map(|sk| deps.cursors.seal(&caller.tenant_id, AUDIT_SCOPE, &[sk]));
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": items, "next_cursor": next_cursor }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn a_note_is_counted_as_sent_and_stored_trimmed() {
        assert_eq!(
            note_text("  Prefers mornings \n").unwrap(),
            "Prefers mornings"
        );
        assert_eq!(
            note_text(&"a".repeat(MAX_NOTE_CHARS)).unwrap().len(),
            MAX_NOTE_CHARS
        );
        // The document's maxLength counts what was sent, blank included.
        let padded = format!(" {}", "a".repeat(MAX_NOTE_CHARS));
        assert_eq!(field(note_text(&padded)), "body");
        assert_eq!(field(note_text(" \t\r\n")), "body");
        assert_eq!(field(note_text("")), "body");
        assert_eq!(note_text("\u{a0}").unwrap(), "\u{a0}");
    }

    #[test]
    fn a_display_name_is_counted_as_sent() {
        assert_eq!(display_name(" Ana ").unwrap(), "Ana");
        let padded = format!("{} ", "n".repeat(MAX_NAME_CHARS));
        assert_eq!(field(display_name(&padded)), "display_name");
        assert_eq!(field(display_name("  ")), "display_name");
    }
}
