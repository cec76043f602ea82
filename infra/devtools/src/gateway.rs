//! A local stand-in for API Gateway (HTTP API, payload format 2.0): it matches
//! the request against the template's routes, checks the bearer token where
//! the route needs one, builds the event Lambda would receive, converts it
//! with `lambda_http`'s own deserializer and calls the function's handler.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::api::{self, ApiDeps, CursorKey};
use shared::delivery::DeliveryQueue;
use shared::ingest::{self, IngestDeps};
use shared::model::Provider;
use shared::normalize::{self, NormalizeDeps};
use shared::sns_certificates::SnsCertificates;
use shared::store::Store;

use crate::BoxError;
use crate::clients::LocalClients;
use crate::provision::LocalStack;
use crate::template::Route;
use crate::tokens::DevTokens;

/// The functions of template.yaml, wired to the local stack as their
/// environment variables would wire them in AWS.
pub struct Functions {
    pub store: Store,
    ingest: IngestDeps,
    normalize: NormalizeDeps,
    api: ApiDeps,
}

impl Functions {
    /// `sns_endpoint` stands in for AWS's SNS hosts (certificates,
    /// subscription confirmations) in tests.
    pub fn new(
        clients: &LocalClients,
        stack: &LocalStack,
        sns_endpoint: Option<String>,
    ) -> Result<Self, BoxError> {
        let store = Store::new(clients.dynamodb.clone(), stack.table.clone());
        let queue = DeliveryQueue::new(
            clients.sqs.clone(),
            stack.queue("IngestQueue")?.url.clone(),
            clients.s3.clone(),
            stack.bucket("BlobBucket")?.to_string(),
        );
        Ok(Self {
            ingest: IngestDeps {
                store: store.clone(),
                queue: queue.clone(),
                certificates: SnsCertificates::new(sns_endpoint),
            },
            normalize: NormalizeDeps {
                store: store.clone(),
                deliveries: queue,
            },
            api: ApiDeps {
                store: store.clone(),
                // Cursors of a local stack live as long as its process.
                cursors: CursorKey::new(ulid::Ulid::new().to_string()),
            },
            store,
        })
    }

    /// Runs an HTTP-triggered function by its binary name, as its `main` would.
    pub async fn invoke_http(
        &self,
        binary: &str,
        request: lambda_http::Request,
    ) -> Option<lambda_http::Response<Body>> {
        Some(match binary {
            "ingest-whatsapp" => ingest::handle(&self.ingest, Provider::Whatsapp, request).await,
            "ingest-instagram" => ingest::handle(&self.ingest, Provider::Instagram, request).await,
            "ingest-sms" => ingest::handle(&self.ingest, Provider::TwilioSms, request).await,
            "ingest-chat" => ingest::handle(&self.ingest, Provider::Chat, request).await,
            "ingest-voice" => ingest::handle(&self.ingest, Provider::TwilioVoice, request).await,
            "ingest-email" => ingest::handle(&self.ingest, Provider::Ses, request).await,
            "ingest-postmark" => ingest::handle(&self.ingest, Provider::Postmark, request).await,
            "ingest-stripe" => ingest::handle(&self.ingest, Provider::Stripe, request).await,
            "ingest-calcom" => ingest::handle(&self.ingest, Provider::Calcom, request).await,
            "api" => api::handle(&self.api, request).await,
            _ => return None,
        })
    }

    pub async fn invoke_sqs(&self, binary: &str, event: SqsEvent) -> Option<SqsBatchResponse> {
        match binary {
            "normalize" => Some(normalize::handle_batch(&self.normalize, event).await),
            _ => None,
        }
    }
}

pub struct Gateway {
    routes: Vec<Route>,
    functions: Arc<Functions>,
    tokens: DevTokens,
}

impl Gateway {
    pub fn new(routes: Vec<Route>, functions: Arc<Functions>, tokens: DevTokens) -> Self {
        Self {
            routes,
            functions,
            tokens,
        }
    }

    pub fn tokens(&self) -> &DevTokens {
        &self.tokens
    }

    pub async fn handle(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let path = request.uri().path().to_string();
        let Some((route, path_params)) = self.route(request.method().as_str(), &path) else {
            return gateway_message(StatusCode::NOT_FOUND, "Not Found");
        };
        let claims = if route.authorized {
            match self.bearer_claims(request.headers()) {
                Some(claims) => Some(claims),
                None => return gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            }
        } else {
            None
        };
        let event = http_api_event(&request, route, &path_params, claims.as_ref());
        let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "event conversion failed");
                return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            }
        };
        match self
            .functions
            .invoke_http(&route.binary, lambda_request)
            .await
        {
            Some(response) => {
                let (parts, body) = response.into_parts();
                let bytes = match body {
                    Body::Empty => Bytes::new(),
                    Body::Text(text) => Bytes::from(text),
                    Body::Binary(data) => Bytes::from(data),
                    _ => Bytes::new(),
                };
                http::Response::from_parts(parts, bytes)
            }
            None => gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }

    fn route(&self, method: &str, path: &str) -> Option<(&Route, HashMap<String, String>)> {
        self.routes.iter().find_map(|route| {
            if route.method != method && route.method != "ANY" {
                return None;
            }
            match_path(&route.path, path).map(|params| (route, params))
        })
    }

    fn bearer_claims(&self, headers: &HeaderMap) -> Option<HashMap<String, String>> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        self.tokens.verify(token.trim()).ok()
    }
}

/// `{name}` matches one non-empty segment; values are percent-decoded.
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let want: Vec<&str> = template.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (w, g) in want.iter().zip(&got) {
        match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) if !g.is_empty() => {
                let value = percent_encoding::percent_decode_str(g).decode_utf8().ok()?;
                params.insert(name.to_string(), value.into_owned());
            }
            Some(_) => return None,
            None if w == g => {}
            None => return None,
        }
    }
    Some(params)
}

fn gateway_message(status: StatusCode, message: &str) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(json!({ "message": message }).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The API Gateway HTTP API payload-2.0 event for one request.
pub fn http_api_event(
    request: &http::Request<Bytes>,
    route: &Route,
    path_params: &HashMap<String, String>,
    claims: Option<&HashMap<String, String>>,
) -> Value {
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    // API Gateway tells the function the scheme the client used; locally it is http.
    headers
        .entry("x-forwarded-proto".to_string())
        .or_insert_with(|| "http".to_string());
    let raw_query = request.uri().query().unwrap_or_default();
    let mut query: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        query
            .entry(k.into_owned())
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let body = request.body();
    let textual = content_type.is_empty()
        || ["json", "text", "xml", "x-www-form-urlencoded"]
            .iter()
            .any(|t| content_type.contains(t));
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) if textual => (text.to_string(), false),
        _ => (BASE64.encode(body), true),
    };
    let now = chrono::Utc::now();
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut context = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": host,
        "domainPrefix": host.split('.').next().unwrap_or_default(),
        "http": {
            "method": request.method().as_str(),
            "path": request.uri().path(),
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
        },
        "requestId": ulid::Ulid::new().to_string(),
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": request.uri().path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = json!(path_params);
    }
    if !body.is_empty() {
        event["body"] = json!(body);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_bind_segments() {
        let params =
            match_path("/contacts/{contact}/timeline", "/contacts/01J%41/timeline").unwrap();
        assert_eq!(params["contact"], "01JA");
        assert!(match_path("/contacts/{contact}", "/contacts/").is_none());
        assert!(match_path("/contacts/{contact}", "/contacts/a/b").is_none());
        assert!(match_path("/contacts", "/contactz").is_none());
    }
}
