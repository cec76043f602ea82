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
use crate::http::{ApiError, json};
use crate::model::Provider;
use crate::store::{Connection, ConnectionSummary, Secrets};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConnection {
    /// `whatsapp`, `instagram`, `sms` or `chat`.
    provider: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// Defaults to now; history before it is never imported.
    #[serde(default)]
    connected_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct ConnectionView {
    #[serde(flatten)]
    summary: ConnectionSummary,
    webhook_url: String,
}

/// What each provider's webhook check needs. Missing secrets would make
/// every delivery fail its signature check, so they are refused up front.
fn requirements(provider: Provider) -> (&'static [&'static str], &'static [&'static str]) {
    match provider {
        Provider::Whatsapp | Provider::Instagram => (&["app_secret"], &[]),
        Provider::TwilioSms | Provider::TwilioVoice => (&["auth_token"], &[]),
        Provider::Stripe => (&["webhook_secret"], &[]),
        Provider::Chat => (&[], &["allowed_origins"]),
        Provider::Ses => (&[], &["topic_arn"]),
        Provider::Calcom | Provider::Postmark => (&[], &[]),
    }
}

pub fn provider_from_path(segment: &str) -> Option<Provider> {
    Some(match segment {
        "whatsapp" => Provider::Whatsapp,
        "instagram" => Provider::Instagram,
        "sms" => Provider::TwilioSms,
        "voice" => Provider::TwilioVoice,
        "email" => Provider::Ses,
        "postmark" => Provider::Postmark,
        "chat" => Provider::Chat,
        "stripe" => Provider::Stripe,
        "calcom" => Provider::Calcom,
        _ => return None,
    })
}

fn path_segment(provider: Provider) -> &'static str {
    match provider {
        Provider::Whatsapp => "whatsapp",
        Provider::Instagram => "instagram",
        Provider::TwilioSms => "sms",
        Provider::TwilioVoice => "voice",
        Provider::Ses => "email",
        Provider::Postmark => "postmark",
        Provider::Chat => "chat",
        Provider::Stripe => "stripe",
        Provider::Calcom => "calcom",
    }
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
        path_segment(summary.provider),
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
    let provider = provider_from_path(&new.provider).ok_or_else(|| {
        ApiError::bad_request(
            "provider",
            "provider must be one of whatsapp, instagram, sms, chat",
        )
    })?;
    let (required_secrets, required_config) = requirements(provider);
    for name in required_secrets {
        if new.secrets.get(*name).is_none_or(|v| v.trim().is_empty()) {
            return Err(ApiError::bad_request(
                format!("secrets.{name}"),
                "required for this provider",
            ));
        }
    }
    for name in required_config {
        if new.config.get(*name).is_none_or(|v| v.trim().is_empty()) {
            return Err(ApiError::bad_request(
                format!("config.{name}"),
                "required for this provider",
            ));
        }
    }
    let mut secrets = Secrets::default();
    for (name, value) in &new.secrets {
        secrets = secrets.with(name, value.clone());
    }
    // Values we generate are shown once, in this response.
    let mut generated = BTreeMap::new();
    let mut config = new.config;
    match provider {
        Provider::Whatsapp | Provider::Instagram if secrets.get("verify_token").is_none() => {
            let token = random_token();
            secrets = secrets.with("verify_token", token.clone());
            generated.insert("verify_token", token);
        }
        Provider::Chat => {
            config.insert("public_key".into(), format!("pk_{}", random_token()));
        }
        // We choose these and the provider is told them, so we generate them.
        Provider::Calcom if secrets.get("webhook_secret").is_none() => {
            let secret = random_token();
            secrets = secrets.with("webhook_secret", secret.clone());
            generated.insert("webhook_secret", secret);
        }
        Provider::Postmark => {
            for name in ["basic_user", "basic_password"] {
                if secrets.get(name).is_none() {
                    let value = random_token();
                    secrets = secrets.with(name, value.clone());
                    generated.insert(name, value);
                }
            }
        }
        _ => {}
    }
    let connection = Connection {
        connection_id: Ulid::new().to_string().to_ascii_lowercase(),
        tenant_id: caller.tenant_id.clone(),
        provider,
        external_id: new.external_id.filter(|e| !e.trim().is_empty()),
        connected_at: new.connected_at.unwrap_or_else(Utc::now),
        config,
        secrets,
    };
    deps.store.put_connection(&connection).await?;
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
        .delete_connection(&caller.tenant_id, connection)
        .await?
    {
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = StatusCode::NO_CONTENT;
        Ok(response)
    } else {
        Err(ApiError::NotFound("no such connection".into()))
    }
}

fn random_token() -> String {
    format!("{}{}", Ulid::new(), Ulid::new()).to_ascii_lowercase()
}
