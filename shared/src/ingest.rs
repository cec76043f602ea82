//! Webhook ingestion: find the connection, verify the provider's signature
//! over the raw bytes, check the payload parses, queue it durably, answer 200.
//! Nothing is queued unless every check passed.

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use ulid::Ulid;

use crate::channels::{self, meta};
use crate::delivery::{Delivery, DeliveryQueue, Payload};
use crate::http::{ApiError, finish, json, text};
use crate::model::Provider;
use crate::store::{Connection, Store};

pub struct IngestDeps {
    pub store: Store,
    pub queue: DeliveryQueue,
}

/// Entry point of every ingest function; `provider` is fixed per function.
pub async fn handle(deps: &IngestDeps, provider: Provider, request: Request) -> Response<Body> {
    finish(route(deps, provider, &request).await)
}

async fn route(
    deps: &IngestDeps,
    provider: Provider,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let connection = connection(deps, provider, request).await?;
    match (provider, request.method()) {
        (Provider::Whatsapp, &Method::GET) => meta_handshake(&connection, request),
        (Provider::Whatsapp, &Method::POST) => {
            let body = request.body().as_ref();
            let signature = header(request, meta::SIGNATURE_HEADER);
            let secret = connection.secrets.get("app_secret").unwrap_or_default();
            if secret.is_empty() || !meta::signature_is_valid(secret, body, signature) {
                return Err(ApiError::Unauthorized(
                    "missing or invalid X-Hub-Signature-256".into(),
                ));
            }
            enqueue(deps, &connection, body).await
        }
        (_, method) => Err(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on this webhook"
        ))),
    }
}

/// Unknown, deleted and other providers' connections all look the same: 404.
async fn connection(
    deps: &IngestDeps,
    provider: Provider,
    request: &Request,
) -> Result<Connection, ApiError> {
    let not_found = || ApiError::NotFound("no such connection".into());
    let id = request
        .path_parameters_ref()
        .and_then(|p| p.first("connection"))
        .map(str::to_string)
        .ok_or_else(not_found)?;
    deps.store
        .connection(&id)
        .await?
        .filter(|c| c.provider == provider)
        .ok_or_else(not_found)
}

fn meta_handshake(connection: &Connection, request: &Request) -> Result<Response<Body>, ApiError> {
    let query = request.query_string_parameters();
    let verify_token = connection.secrets.get("verify_token").unwrap_or_default();
    match meta::handshake_challenge(
        verify_token,
        query.first("hub.mode"),
        query.first("hub.verify_token"),
        query.first("hub.challenge"),
    ) {
        Some(challenge) if !verify_token.is_empty() => Ok(text(StatusCode::OK, challenge)),
        _ => Err(ApiError::Forbidden("verification token mismatch".into())),
    }
}

async fn enqueue(
    deps: &IngestDeps,
    connection: &Connection,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("body", "body is not UTF-8"))?;
    let settings = deps.store.settings(&connection.tenant_id).await?;
    let mut delivery = Delivery {
        delivery_id: Ulid::new().to_string(),
        tenant_id: connection.tenant_id.clone(),
        connection_id: connection.connection_id.clone(),
        provider: connection.provider,
        received_at: Utc::now(),
        connected_at: connection.connected_at,
        default_region: settings.phone_region,
        payload: Payload::Inline {
            body: String::new(),
        },
    };
    // Well signed but malformed: refuse now (400) rather than dead-letter later.
    channels::parse(
        connection.provider,
        body.as_bytes(),
        &delivery.parse_context(),
    )?;
    delivery.payload = Payload::Inline { body };
    let id = delivery.delivery_id.clone();
    deps.queue.enqueue(delivery).await?;
    tracing::info!(delivery = %id, connection = %connection.connection_id, "queued");
    Ok(json(
        StatusCode::OK,
        &json!({ "status": "queued", "delivery_id": id }),
    ))
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}
