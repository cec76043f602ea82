//! Webhook ingestion: find the connection, verify the provider's signature
//! over the raw bytes, check the payload parses, queue it durably, answer 200.
//! Nothing is queued unless every check passed.

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use ulid::Ulid;

use crate::channels::{self, calcom, chat, meta, postmark, sns, stripe, twilio_signature};
use crate::delivery::{Delivery, DeliveryQueue, Payload};
use crate::http::{ApiError, finish, json, text};
use crate::model::Provider;
use crate::sns_certificates::{CertificateError, SnsCertificates};
use crate::store::{Connection, Store};

pub struct IngestDeps {
    pub store: Store,
    pub queue: DeliveryQueue,
    pub certificates: SnsCertificates,
}

impl IngestDeps {
    pub fn from_env(aws: &aws_config::SdkConfig) -> Result<Self, crate::config::MissingSetting> {
        Ok(Self {
            store: Store::from_env(aws)?,
            queue: DeliveryQueue::from_env(aws)?,
            certificates: SnsCertificates::from_env(),
        })
    }
}

/// SNS retries for up to an hour by default; older messages are replays.
const SNS_MAX_AGE_MINUTES: i64 = 120;

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
        (Provider::Whatsapp | Provider::Instagram, &Method::GET) => {
            meta_handshake(&connection, request)
        }
        (Provider::Ses, &Method::POST) => sns_delivery(deps, &connection, request).await,
        (_, &Method::POST) => {
            authenticate(&connection, request)?;
            let queued = enqueue(deps, &connection, request.body().as_ref()).await?;
            Ok(match provider {
                // Twilio expects TwiML; an empty response sends no reply.
                Provider::TwilioSms => twiml_empty(),
                _ => queued,
            })
        }
        (_, method) => Err(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on this webhook"
        ))),
    }
}

/// Each provider's own proof that it sent the request.
fn authenticate(connection: &Connection, request: &Request) -> Result<(), ApiError> {
    let body = request.body().as_ref();
    let secret = |name: &str| connection.secrets.get(name).unwrap_or_default();
    let (valid, what) = match connection.provider {
        Provider::Whatsapp | Provider::Instagram => (
            meta::signature_is_valid(
                secret("app_secret"),
                body,
                header(request, meta::SIGNATURE_HEADER),
            ),
            "X-Hub-Signature-256",
        ),
        // Signed over the URL Twilio called; lambda_http rebuilds it from the
        // Host and X-Forwarded-Proto headers, stage and query included.
        Provider::TwilioSms | Provider::TwilioVoice => (
            twilio_signature::signature_is_valid(
                secret("auth_token"),
                &request.uri().to_string(),
                body,
                header(request, twilio_signature::SIGNATURE_HEADER),
            ),
            "X-Twilio-Signature",
        ),
        Provider::Stripe => (
            stripe::signature_is_valid(
                secret("webhook_secret"),
                body,
                header(request, stripe::SIGNATURE_HEADER),
                Utc::now(),
            ),
            "Stripe-Signature (or its timestamp is older than 5 minutes)",
        ),
        Provider::Calcom => (
            calcom::signature_is_valid(
                secret("webhook_secret"),
                body,
                header(request, calcom::SIGNATURE_HEADER),
            ),
            "X-Cal-Signature-256",
        ),
        Provider::Postmark => (
            postmark::basic_auth_is_valid(
                secret("basic_user"),
                secret("basic_password"),
                header(request, postmark::AUTHORIZATION_HEADER),
            ),
            "HTTP basic credentials",
        ),
        Provider::Chat => {
            let config = |name: &str| {
                connection
                    .config
                    .get(name)
                    .map(String::as_str)
                    .unwrap_or_default()
            };
            let origins: Vec<String> = config("allowed_origins")
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
            (
                chat::request_is_authorized(
                    config("public_key"),
                    &origins,
                    header(request, chat::KEY_HEADER),
                    header(request, "origin"),
                ),
                "X-Chat-Key or Origin",
            )
        }
        _ => (false, "signature"),
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!("missing or invalid {what}")))
    }
}

/// SES mail arrives as SNS messages: signed with a certificate SNS hosts,
/// for one topic, and preceded by a subscription handshake.
async fn sns_delivery(
    deps: &IngestDeps,
    connection: &Connection,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = request.body().as_ref();
    let envelope = sns::parse_envelope(body)?;
    let topic = connection.config.get("topic_arn").map(String::as_str);
    if topic != Some(envelope.topic_arn.as_str()) {
        return Err(ApiError::Unauthorized(
            "TopicArn is not this connection's topic".into(),
        ));
    }
    let certificate = match deps
        .certificates
        .certificate(&envelope.signing_cert_url)
        .await
    {
        Ok(pem) => pem,
        Err(CertificateError::Untrusted(url)) => {
            return Err(ApiError::Unauthorized(format!(
                "SigningCertURL {url} is not an AWS SNS URL"
            )));
        }
        Err(e) => return Err(ApiError::Upstream(e.to_string())),
    };
    let fresh = sns::timestamp_is_fresh(
        &envelope,
        Utc::now(),
        chrono::Duration::minutes(SNS_MAX_AGE_MINUTES),
    );
    if !sns::signature_is_valid(&envelope, &certificate) || !fresh {
        return Err(ApiError::Unauthorized(
            "missing, invalid or stale SNS signature".into(),
        ));
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => {
            let url = envelope.subscribe_url.as_deref().unwrap_or_default();
            deps.certificates
                .confirm_subscription(url)
                .await
                .map_err(|e| ApiError::Upstream(e.to_string()))?;
            tracing::info!(topic = %envelope.topic_arn, "SNS subscription confirmed");
            Ok(json(StatusCode::OK, &json!({ "status": "subscribed" })))
        }
        "UnsubscribeConfirmation" => {
            tracing::warn!(topic = %envelope.topic_arn, "SNS subscription ended");
            Ok(json(StatusCode::OK, &json!({ "status": "unsubscribed" })))
        }
        _ => enqueue(deps, connection, body).await,
    }
}

fn twiml_empty() -> Response<Body> {
    let mut response = Response::new(Body::Text(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#.to_string(),
    ));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    response
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
