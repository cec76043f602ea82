//! Webhook ingestion: refuse a body over the provider's cap, find the
//! connection, verify the provider's signature over the raw bytes, check the
//! payload parses, queue it durably, answer 200. Nothing is queued unless
//! every check passed.

use chrono::Utc;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use ulid::Ulid;

use crate::channels::provider::{Handshake, Proof, Reply, Scoped, SignedDelivery, Verdict};
use crate::channels::{self, CanonicalEvent, chat, meta, sns};
use crate::config::{PROVIDER, Settings, SettingsError};
use crate::delivery::{Delivery, DeliveryQueue, Payload};
use crate::http::{ApiError, finish, json, text};
use crate::identity::Identity;
use crate::model::Provider;
use crate::sns_certificates::{CertificateError, SnsCertificates};
use crate::store::{Admission, Connection, RateLimit, RateScope, Store};

pub struct IngestDeps {
    /// The one provider this function receives webhooks from.
    pub provider: Provider,
    pub store: Store,
    pub queue: DeliveryQueue,
    pub certificates: SnsCertificates,
}

impl IngestDeps {
    /// Every channel's function runs the same binary; `PROVIDER` says which it is.
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &Settings,
    ) -> Result<Self, SettingsError> {
        let provider = Provider::from_name(settings.required(PROVIDER)?)
            .ok_or(SettingsError::Invalid { name: PROVIDER })?;
        Ok(Self {
            provider,
            store: Store::from_settings(clients, settings)?,
            queue: DeliveryQueue::from_settings(clients, settings)?,
            certificates: SnsCertificates::from_settings(settings),
        })
    }
}

/// SNS retries for up to an hour by default; older messages are replays.
const SNS_MAX_AGE_MINUTES: i64 = 120;

/// Entry point of every ingest function.
pub async fn handle(deps: &IngestDeps, request: Request) -> Response<Body> {
    finish(route(deps, &request).await)
}

async fn route(deps: &IngestDeps, request: &Request) -> Result<Response<Body>, ApiError> {
    let descriptor = deps.provider.descriptor();
    let body = request.body().as_ref();
    // First: an oversized body costs nothing more, not even the connection read.
    if body.len() > descriptor.max_body_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: descriptor.max_body_bytes,
        });
    }
    let connection = connection(deps, request).await?;
    match (request.method(), descriptor.handshake) {
        (&Method::GET, Some(Handshake::MetaVerifyToken)) => meta_handshake(&connection, request),
        (&Method::POST, _) => {
            let verdict = descriptor.proof.verify(&SignedDelivery {
                secrets: &connection.secrets,
                config: &connection.config,
                // Twilio signs the URL it called; lambda_http rebuilds it from
                // the Host and X-Forwarded-Proto headers, stage and query included.
                url: &request.uri().to_string(),
                headers: request.headers(),
                body,
                now: Utc::now(),
            });
            match verdict {
                Verdict::Valid => {}
                Verdict::Invalid => return Err(unauthorized(descriptor.proof)),
                Verdict::NeedsSnsCertificate => {
                    if let Some(answer) = sns_handshake(deps, &connection, body).await? {
                        return Ok(answer);
                    }
                }
            }
            let scoped = scope(&connection, body);
            let queued = enqueue(deps, &connection, scoped.body(body)).await?;
            Ok(match descriptor.reply {
                Reply::Queued => queued,
                Reply::EmptyTwiml => twiml_empty(),
            })
        }
        (method, handshake) => Err(ApiError::method_not_allowed(
            match handshake {
                Some(_) => vec!["GET", "POST"],
                None => vec!["POST"],
            },
            format!("{method} is not supported on this webhook"),
        )),
    }
}

/// The delivery narrowed to the connection's account at the provider, for
/// providers whose webhooks can carry other accounts' events: only this
/// connection's events are queued (or written to S3) under its tenant.
fn scope(connection: &Connection, body: &[u8]) -> Scoped {
    let Some(account) = connection.provider.descriptor().account else {
        return Scoped::Whole;
    };
    match &connection.external_id {
        Some(external_id) => (account.scope)(body, external_id),
        None => {
            // Made before `POST /connections` required the id: unchecked
            // as before, and said so until the connection is made again.
            tracing::warn!(
                connection = %connection.connection_id,
                "connection has no external_id ({}); its deliveries are not narrowed to one account",
                account.describes
            );
            Scoped::Whole
        }
    }
}

fn unauthorized(proof: Proof) -> ApiError {
    ApiError::Unauthorized(format!("missing or invalid {}", proof.describe()))
}

/// SES mail arrives as SNS messages: signed with a certificate SNS hosts,
/// for one topic, and preceded by a subscription handshake. Answers the
/// handshake itself; `None` means a verified notification to queue.
async fn sns_handshake(
    deps: &IngestDeps,
    connection: &Connection,
    body: &[u8],
) -> Result<Option<Response<Body>>, ApiError> {
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
        return Err(unauthorized(Proof::SnsSignature));
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => {
            let url = envelope.subscribe_url.as_deref().unwrap_or_default();
            deps.certificates
                .confirm_subscription(url)
                .await
                .map_err(|e| ApiError::Upstream(e.to_string()))?;
            tracing::info!(topic = %envelope.topic_arn, "SNS subscription confirmed");
            Ok(Some(json(
                StatusCode::OK,
                &json!({ "status": "subscribed" }),
            )))
        }
        "UnsubscribeConfirmation" => {
            tracing::warn!(topic = %envelope.topic_arn, "SNS subscription ended");
            Ok(Some(json(
                StatusCode::OK,
                &json!({ "status": "unsubscribed" }),
            )))
        }
        _ => Ok(None),
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
async fn connection(deps: &IngestDeps, request: &Request) -> Result<Connection, ApiError> {
    let not_found = || ApiError::NotFound("no such connection".into());
    let id = request
        .path_parameters_ref()
        .and_then(|p| p.first("connection"))
        .map(str::to_string)
        .ok_or_else(not_found)?;
    deps.store
        .connection(&id)
        .await?
        .filter(|c| c.provider == deps.provider)
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

/// Limits for webhooks anyone can post to. The chat widget's key sits in the
/// page, so passing its check proves little: its senders and connections
/// are limited in rate (its body cap is in its descriptor). The other providers sign their
/// deliveries; the gateway's throttles hold them.
struct PublicLimits {
    per_sender: RateLimit,
    per_connection: RateLimit,
    /// Who sent a parsed delivery, as the per-sender limit counts it.
    sender: fn(&[CanonicalEvent]) -> Option<&Identity>,
}

fn public_limits(provider: Provider) -> Option<PublicLimits> {
    match provider {
        Provider::Chat => Some(PublicLimits {
            per_sender: chat::VISITOR_LIMIT,
            per_connection: chat::CONNECTION_LIMIT,
            sender: chat::visitor,
        }),
        Provider::Whatsapp
        | Provider::Instagram
        | Provider::TwilioSms
        | Provider::TwilioVoice
        | Provider::Ses
        | Provider::Postmark
        | Provider::Stripe
        | Provider::Calcom => None,
    }
}

/// Counts a parsed delivery against its sender's and its connection's
/// limits (sender first: one flooding visitor does not use up the
/// connection's budget). A refused delivery is not queued.
async fn admit(
    deps: &IngestDeps,
    connection: &Connection,
    events: &[CanonicalEvent],
    limits: &PublicLimits,
) -> Result<(), ApiError> {
    let id = connection.connection_id.as_str();
    let sender = (limits.sender)(events).map(|visitor| {
        (
            RateScope::Visitor {
                connection: id,
                visitor,
            },
            limits.per_sender,
            "this visitor",
        )
    });
    let whole = (
        RateScope::Connection { connection: id },
        limits.per_connection,
        "this website",
    );
    let now = Utc::now();
    for (scope, limit, whom) in sender.into_iter().chain([whole]) {
        let admission = deps
            .store
            .admit(&connection.tenant_id, &scope, limit, now)
            .await?;
        if let Admission::Limited { retry_after } = admission {
            let secs = (retry_after.num_milliseconds() + 999) / 1000;
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "too many messages from {whom}: at most {} every {} s; retry in {secs} s",
                    limit.max_requests,
                    limit.window.num_seconds()
                ),
                retry_after_secs: secs,
            });
        }
    }
    Ok(())
}

async fn enqueue(
    deps: &IngestDeps,
    connection: &Connection,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let limits = public_limits(connection.provider);
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
    let events = channels::parse(
        connection.provider,
        body.as_bytes(),
        &delivery.parse_context(),
    )?;
    if let Some(limits) = &limits {
        admit(deps, connection, &events, limits).await?;
    }
    delivery.payload = Payload::Inline { body };
    let id = delivery.delivery_id.clone();
    deps.queue.enqueue(delivery).await?;
    tracing::info!(delivery = %id, connection = %connection.connection_id, "queued");
    Ok(json(
        StatusCode::OK,
        &json!({ "status": "queued", "delivery_id": id }),
    ))
}
