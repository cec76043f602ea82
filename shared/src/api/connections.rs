//! `GET/POST /connections`, `DELETE /connections/{connection}` (admins only).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ulid::Ulid;

use super::{ApiDeps, Caller, body};
use crate::channels::provider::{Field, Origin};
use crate::http::{ApiError, json};
use crate::model::Provider;
use crate::store::{AuditEntry, Connection, ConnectionSummary, Secrets};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnection {
    /// The provider's webhook path segment (`Descriptor::path`): `whatsapp`,
    /// `instagram`, `sms`, `voice`, `email`, `postmark`, `chat`, `stripe`
    /// or `calcom`.
    provider: String,
    #[serde(default, deserialize_with = "body::present")]
    external_id: Option<String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// Defaults to now; history before it is never imported.
    #[serde(default, deserialize_with = "body::present")]
    connected_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct ConnectionView {
    #[serde(flatten)]
    summary: ConnectionSummary,
    webhook_url: String,
}

/// The public base URL the caller used (API Gateway's domain and stage).
fn base_url(request: &Request) -> String {
    let proto = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("https");
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let host = ctx.domain_name.as_deref().unwrap_or("localhost");
            match ctx.stage.as_deref() {
                Some(stage) if stage != "$default" => format!("{proto}://{host}/{stage}"),
                _ => format!("{proto}://{host}"),
            }
        }
        _ => format!("{proto}://localhost"),
    }
}

fn view(request: &Request, summary: ConnectionSummary) -> ConnectionView {
    let webhook_url = format!(
        "{}/webhooks/{}/{}",
        base_url(request),
        summary.provider.descriptor().path,
        summary.connection_id
    );
    ConnectionView {
        summary,
        webhook_url,
    }
}

pub async fn list(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let items: Vec<ConnectionView> = deps
        .store
        .connections(&caller.tenant_id)
        .await?
        .into_iter()
        .map(|summary| view(request, summary))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

pub async fn create(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let new: NewConnection = body::parse_json(request)?;
    let provider = Provider::from_path(&new.provider).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.descriptor().path).collect();
        ApiError::bad_request(
            "provider",
            format!("provider must be one of {}", known.join(", ")),
        )
    })?;
    let descriptor = provider.descriptor();
    let mut secrets = new.secrets;
    let mut config = new.config;
    check_values(&secrets, "secrets")?;
    check_values(&config, "config")?;
    if new
        .external_id
        .as_ref()
        .is_some_and(|e| e.chars().count() > MAX_EXTERNAL_ID_CHARS)
    {
        return Err(ApiError::bad_request(
            "external_id",
            format!("at most {MAX_EXTERNAL_ID_CHARS} characters"),
        ));
    }
    // Secrets we generate go into the provider's console: shown once, here.
    // Generated settings (the chat key) are part of the connection's view.
    let generated = complete(descriptor.secrets, &mut secrets, "secrets")?;
    complete(descriptor.config, &mut config, "config")?;
    let external_id = new
        .external_id
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    // Deliveries are narrowed to this account: without it they could not be.
    if let Some(account) = descriptor.account
        && external_id.is_none()
    {
        return Err(ApiError::bad_request(
            "external_id",
            format!("required for this provider: {}", account.describes),
        ));
    }
    let connection = Connection {
        connection_id: Ulid::new().to_string().to_ascii_lowercase(),
        tenant_id: caller.tenant_id.clone(),
        provider,
        external_id,
        connected_at: new.connected_at.unwrap_or_else(Utc::now),
        config,
        secrets: Secrets::from(secrets),
    };
    let audit = AuditEntry::by(
        &caller.user_id,
        "connection_created",
        created(&connection, &generated),
    );
    deps.store.create_connection(&connection, audit).await?;
    let mut body = serde_json::to_value(view(request, connection.summary()))
        .map_err(|e| ApiError::bad_request("body", e.to_string()))?;
    if !generated.is_empty() {
        body["generated_secrets"] = json!(generated);
    }
    Ok(json(StatusCode::CREATED, &body))
}

pub async fn delete(
    deps: &ApiDeps,
    caller: &Caller,
    connection: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    if deps
        .store
        .delete_connection(&caller.tenant_id, connection, &caller.user_id)
        .await?
    {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    } else {
        Err(ApiError::NotFound("no such connection".into()))
    }
}

/// At most this many secrets, and as many settings, per connection.
const MAX_VALUES: usize = 20;
const MAX_NAME_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 4096;
const MAX_EXTERNAL_ID_CHARS: usize = 256;

/// Names and values a connection can keep (the item has a size limit, and
/// an empty name is no attribute name at all), as the document states them.
fn check_values(values: &BTreeMap<String, String>, section: &str) -> Result<(), ApiError> {
    if values.len() > MAX_VALUES {
        return Err(ApiError::bad_request(
            section,
            format!("at most {MAX_VALUES} names"),
        ));
    }
    for (name, value) in values {
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(
                section,
                format!("names are 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(ApiError::bad_request(
                format!("{section}.{name}"),
                format!("at most {MAX_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// The audit log's account of a new connection: its provider and id, and
/// the names it was given (values never: some are secrets).
fn created(connection: &Connection, generated: &BTreeMap<&'static str, String>) -> String {
    let mut detail = format!(
        "{} connection {} created",
        connection.provider.descriptor().path,
        connection.connection_id
    );
    if connection.external_id.is_some() {
        detail.push_str("; external_id set");
    }
    let config: Vec<&str> = connection.config.keys().map(String::as_str).collect();
    if !config.is_empty() {
        detail.push_str(&format!("; config: {}", config.join(", ")));
    }
    let secrets: Vec<String> = connection
        .secrets
        .names()
        .map(|name| match generated.contains_key(name) {
            true => format!("{name} (generated)"),
            false => name.to_string(),
        })
        .collect();
    if !secrets.is_empty() {
        detail.push_str(&format!("; secrets: {}", secrets.join(", ")));
    }
    detail
}

/// Checks that `values` holds what the provider's check needs and adds what
/// we choose; returns what it added.
fn complete(
    fields: &[Field],
    values: &mut BTreeMap<String, String>,
    section: &str,
) -> Result<BTreeMap<&'static str, String>, ApiError> {
    let mut added = BTreeMap::new();
    for field in fields {
        let given = values.get(field.name).is_some_and(|v| !body::is_blank(v));
        let value = match field.origin {
            // Without it every delivery would fail its check: refused up front.
            Origin::Given if !given => {
                return Err(ApiError::bad_request(
                    format!("{section}.{}", field.name),
                    "required for this provider",
                ));
            }
            Origin::Generated if !given => random_token(),
            Origin::Minted(prefix) => format!("{prefix}{}", random_token()),
            Origin::Given | Origin::Generated => continue,
        };
        values.insert(field.name.to_string(), value.clone());
        added.insert(field.name, value);
    }
    Ok(added)
}

fn random_token() -> String {
    format!("{}{}", Ulid::new(), Ulid::new()).to_ascii_lowercase()
}
