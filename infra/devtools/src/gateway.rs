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
use shared::api::{self, ApiDeps};
use shared::config::{SNS_ENDPOINT_OVERRIDE, Settings};
use shared::export::{self, ExportDeps, PdfRender};
use shared::ingest::{self, IngestDeps};
use shared::normalize::{self, BatchLimits, NormalizeDeps};
use shared::store::Store;

use crate::BoxError;
use crate::clients::LocalClients;
use crate::intrinsics;
use crate::provision::{LocalResources, LocalStack};
use crate::template::{Route, Template};
use crate::tokens::DevTokens;

/// The functions of template.yaml, each with the settings its `Environment`
/// gives it (resolved against the local stack) and its own AWS clients,
/// whose calls are recorded under its logical id for the IAM check.
pub struct Functions {
    /// The harness's own store, for set-up and checks: no function's calls.
    pub store: Store,
    handlers: HashMap<String, Handler>,
}

enum Handler {
    Ingest(Box<IngestDeps>),
    Api(ApiDeps),
    /// With the function's timeout: each invocation's deadline.
    Normalize(NormalizeDeps, std::time::Duration),
    Export(ExportDeps, std::time::Duration),
}

impl Functions {
    /// `sns_endpoint` stands in for AWS's SNS hosts (certificates,
    /// subscription confirmations) in tests; `pdf` renders PDF exports
    /// (without it they fail, as the worker says).
    pub async fn new(
        clients: &LocalClients,
        template: &Template,
        stack: &LocalStack,
        sns_endpoint: Option<String>,
        pdf: Option<Arc<dyn PdfRender>>,
    ) -> Result<Self, BoxError> {
        let resources = Arc::new(stack.resource_map());
        let local = LocalResources { stack, template };
        let mut handlers = HashMap::new();
        for spec in template.function_specs() {
            let mut environment = HashMap::new();
            for (name, value) in &spec.environment {
                let value = intrinsics::resolve(value, &local)
                    .map_err(|e| format!("{} {name}: {e}", spec.logical_id))?;
                environment.insert(name.clone(), value);
            }
            if let Some(endpoint) = &sns_endpoint {
                environment.insert(SNS_ENDPOINT_OVERRIDE.to_string(), endpoint.clone());
            }
            let settings = Settings::from_map(environment);
            let aws = clients.for_function(&spec.logical_id, resources.clone());
            let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", spec.logical_id);
            let handler = match spec.binary.as_str() {
                "ingest" => Handler::Ingest(Box::new(
                    IngestDeps::from_settings(&aws, &settings).map_err(|e| failed(&e))?,
                )),
                "api" => Handler::Api(
                    ApiDeps::from_settings(&aws, &settings)
                        .await
                        .map_err(|e| failed(&e))?,
                ),
                "normalize" => Handler::Normalize(
                    NormalizeDeps::from_settings(&aws, &settings).map_err(|e| failed(&e))?,
                    spec.timeout,
                ),
                "export" => Handler::Export(
                    ExportDeps::from_settings(&aws, &settings, pdf.clone())
                        .map_err(|e| failed(&e))?,
                    spec.timeout,
                ),
                other => return Err(failed(&format!("no local runner for binary {other}")).into()),
            };
            handlers.insert(spec.logical_id, handler);
        }
        Ok(Self {
            store: Store::new(clients.dynamodb.clone(), stack.table.clone()),
            handlers,
        })
    }

    /// Runs an HTTP-triggered function by its logical id, as its `main` would.
    pub async fn invoke_http(
        &self,
        function: &str,
        request: lambda_http::Request,
    ) -> Option<lambda_http::Response<Body>> {
        Some(match self.handlers.get(function)? {
            Handler::Ingest(deps) => ingest::handle(deps, request).await,
            Handler::Api(deps) => api::handle(deps, request).await,
            Handler::Normalize(..) | Handler::Export(..) => return None,
        })
    }

    /// Runs an SQS-triggered function by its logical id, with the deadline
    /// Lambda would give the invocation (its `Timeout` from now).
    pub async fn invoke_sqs(&self, function: &str, event: SqsEvent) -> Option<SqsBatchResponse> {
        match self.handlers.get(function)? {
            Handler::Normalize(deps, timeout) => {
                let deadline = tokio::time::Instant::now() + *timeout;
                Some(normalize::handle_batch(deps, event, deadline, BatchLimits::default()).await)
            }
            Handler::Export(deps, timeout) => {
                let deadline = tokio::time::Instant::now() + *timeout;
                Some(export::worker::handle_batch(deps, event, deadline).await)
            }
            Handler::Ingest(_) | Handler::Api(_) => None,
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
        // Boxed: a handler's future is large, and callers nest this one deeply.
        match Box::pin(self.functions.invoke_http(&route.function, lambda_request)).await {
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
        select_route(&self.routes, method, path)
    }

    fn bearer_claims(&self, headers: &HeaderMap) -> Option<HashMap<String, String>> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        self.tokens.verify(token.trim()).ok()
    }
}

/// The route API Gateway picks: a full match before a greedy `{proxy+}`
/// one, the request's own method before `ANY`, then the route with the most
/// literal segments.
fn select_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, HashMap<String, String>)> {
    routes
        .iter()
        .filter(|route| route.method == method || route.method == "ANY")
        .filter_map(|route| match_path(&route.path, path).map(|params| (route, params)))
        .min_by_key(|(route, params)| {
            let segments = route.path.trim_matches('/').split('/').count();
            (
                route.is_greedy(),
                route.method == "ANY",
                std::cmp::Reverse(segments.saturating_sub(params.len())),
            )
        })
}

/// `{name}` matches one non-empty segment, a last `{name+}` the rest of the
/// path (one segment or more); values are percent-decoded.
fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let want: Vec<&str> = template.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut params = HashMap::new();
    if let Some(greedy) = want
        .last()
        .and_then(|w| w.strip_prefix('{'))
        .and_then(|w| w.strip_suffix("+}"))
    {
        let fixed = want.len() - 1;
        if got.len() <= fixed || got[fixed..].iter().all(|g| g.is_empty()) {
            return None;
        }
        let rest = got[fixed..].join("/");
        let value = percent_encoding::percent_decode_str(&rest)
            .decode_utf8()
            .ok()?;
        params.insert(greedy.to_string(), value.into_owned());
        let mut fixed_params = match_path(&want[..fixed].join("/"), &got[..fixed].join("/"))?;
        fixed_params.extend(params);
        return Some(fixed_params);
    }
    if want.len() != got.len() {
        return None;
    }
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
        let rest = match_path("/{proxy+}", "/contacts/01J/messages/01K").unwrap();
        assert_eq!(rest["proxy"], "contacts/01J/messages/01K");
        assert!(match_path("/{proxy+}", "/").is_none());
    }

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            authorized: true,
            function: format!("{method} {path}"),
            binary: "api".into(),
        }
    }

    #[test]
    fn a_full_match_beats_a_greedy_route_and_a_method_beats_any() {
        let routes = vec![
            route("GET", "/{proxy+}"),
            route("ANY", "/contacts/{contact}"),
            route("GET", "/contacts/{contact}"),
            route("GET", "/contacts/search"),
        ];
        let pick =
            |method: &str, path: &str| select_route(&routes, method, path).map(|(r, _)| r.key());
        assert_eq!(
            pick("GET", "/contacts/1").as_deref(),
            Some("GET /contacts/{contact}")
        );
        assert_eq!(
            pick("GET", "/contacts/search").as_deref(),
            Some("GET /contacts/search")
        );
        assert_eq!(
            pick("DELETE", "/contacts/1").as_deref(),
            Some("ANY /contacts/{contact}")
        );
        assert_eq!(
            pick("GET", "/contacts/1/x").as_deref(),
            Some("GET /{proxy+}")
        );
        assert_eq!(pick("POST", "/contacts/1/x"), None);
    }
}
