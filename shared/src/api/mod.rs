//! The management and query API behind the JWT authorizer. Routing is by the
//! API Gateway route key, so stage prefixes and custom domains do not matter.

mod auth;
mod body;
mod connections;
mod contacts;
mod cursor;
mod exports;
mod messages;
mod params;
mod settings;
mod staff;

pub use auth::{Caller, GROUPS_CLAIM, Role, TENANT_CLAIM};
pub use cursor::{CursorKey, CursorKeyError};
pub use exports::{ExportTarget, MAX_RANGE_DAYS};

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::http::{ApiError, finish};
use crate::store::Store;

pub struct ApiDeps {
    pub store: Store,
    pub cursors: CursorKey,
    /// `None` where the environment names no export queue and bucket.
    pub exports: Option<ExportTarget>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiInitError {
    #[error(transparent)]
    Settings(#[from] crate::config::SettingsError),
    #[error(transparent)]
    CursorKey(#[from] CursorKeyError),
}

impl ApiDeps {
    pub async fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
    ) -> Result<Self, ApiInitError> {
        use crate::config::{EXPORT_BUCKET, EXPORT_QUEUE_URL};
        let secret = settings.required(crate::config::CURSOR_KEY_SECRET)?;
        let exports = match (
            settings.optional(EXPORT_QUEUE_URL),
            settings.optional(EXPORT_BUCKET),
        ) {
            (Some(queue_url), Some(bucket)) => Some(ExportTarget {
                sqs: clients.sqs.clone(),
                queue_url: queue_url.to_string(),
                s3: clients.s3.clone(),
                bucket: bucket.to_string(),
                keep: chrono::Duration::days(crate::export::retention_days(settings)?),
            }),
            _ => None,
        };
        Ok(Self {
            store: Store::from_settings(clients, settings)?,
            cursors: CursorKey::from_secret(&clients.secrets, secret).await?,
            exports,
        })
    }
}

/// The routes this function serves, as API Gateway's route keys name them.
const API_ROUTES: &[&str] = &[
    "GET /contacts",
    "GET /contacts/{contact}",
    "GET /contacts/{contact}/timeline",
    "GET /contacts/{contact}/metrics",
    "GET /contacts/{contact}/journey",
    "GET /contacts/{contact}/duplicates",
    "GET /contacts/{contact}/messages",
    "POST /contacts/{contact}/messages",
    "POST /contacts/{contact}/notes",
    "PUT /contacts/{contact}/stage",
    "POST /contacts/{contact}/merge",
    "POST /contacts/{contact}/split",
    "GET /audit",
    "GET /settings",
    "PUT /settings",
    "GET /connections",
    "POST /connections",
    "DELETE /connections/{connection}",
    "POST /contacts/{contact}/exports",
    "POST /exports",
    "GET /exports/{export}",
];

/// Every route of the HTTP API as (method, path template): this function's
/// and the webhooks' (a POST per provider, and a GET for Meta's handshake).
/// A test holds it to template.yaml.
pub fn routes() -> Vec<(&'static str, String)> {
    let api = API_ROUTES.iter().filter_map(|key| {
        let (method, path) = key.split_once(' ')?;
        Some((method, path.to_string()))
    });
    let webhooks = crate::model::Provider::ALL.iter().flat_map(|provider| {
        let descriptor = provider.descriptor();
        let path = format!("/webhooks/{}/{{connection}}", descriptor.path);
        let handshake = descriptor.handshake.map(|_| ("GET", path.clone()));
        handshake.into_iter().chain([("POST", path)])
    });
    api.chain(webhooks).collect()
}

pub async fn handle(deps: &ApiDeps, request: Request) -> Response<Body> {
    // Boxed: the router's future is as large as its largest handler's.
    finish(Box::pin(route(deps, &request)).await)
}

async fn route(deps: &ApiDeps, request: &Request) -> Result<Response<Body>, ApiError> {
    let caller = Caller::from_request(request)?;
    let route_key = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().unwrap_or_default(),
        _ => String::new(),
    };
    // Contact ids are ULIDs; anything else cannot exist (and never reaches a key).
    let contact = || {
        request
            .path_parameters_ref()
            .and_then(|p| p.first("contact"))
            .filter(|c| ulid::Ulid::from_string(c).is_ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::NotFound("no such contact".into()))
    };
    match route_key.as_str() {
        "GET /contacts" => contacts::list(deps, &caller, request).await,
        "GET /contacts/{contact}" => contacts::get(deps, &caller, &contact()?).await,
        "GET /contacts/{contact}/timeline" => {
            contacts::timeline(deps, &caller, &contact()?, request).await
        }
        "GET /contacts/{contact}/metrics" => contacts::metrics(deps, &caller, &contact()?).await,
        "GET /contacts/{contact}/journey" => contacts::journey(deps, &caller, &contact()?).await,
        "GET /contacts/{contact}/duplicates" => {
            contacts::duplicates(deps, &caller, &contact()?).await
        }
        "GET /contacts/{contact}/messages" => {
            messages::list(deps, &caller, &contact()?, request).await
        }
        "POST /contacts/{contact}/messages" => {
            messages::send(deps, &caller, &contact()?, request).await
        }
        "POST /contacts/{contact}/notes" => {
            staff::add_note(deps, &caller, &contact()?, request).await
        }
        "PUT /contacts/{contact}/stage" => {
            staff::change_stage(deps, &caller, &contact()?, request).await
        }
        "POST /contacts/{contact}/merge" => staff::merge(deps, &caller, &contact()?, request).await,
        "POST /contacts/{contact}/split" => staff::split(deps, &caller, &contact()?, request).await,
        "GET /audit" => staff::audit(deps, &caller, request).await,
        "GET /settings" => settings::get(deps, &caller).await,
        "PUT /settings" => settings::put(deps, &caller, request).await,
        "GET /connections" => connections::list(deps, &caller, request).await,
        "POST /connections" => connections::create(deps, &caller, request).await,
        "DELETE /connections/{connection}" => {
            let connection = request
                .path_parameters_ref()
                .and_then(|p| p.first("connection"))
                .unwrap_or_default()
                .to_string();
            connections::delete(deps, &caller, &connection).await
        }
        "POST /contacts/{contact}/exports" => {
            exports::conversation(deps, &caller, &contact()?, request).await
        }
        "POST /exports" => exports::bulk(deps, &caller, request).await,
        "GET /exports/{export}" => {
            let export = request
                .path_parameters_ref()
                .and_then(|p| p.first("export"))
                .unwrap_or_default()
                .to_string();
            exports::get(deps, &caller, &export).await
        }
        // template.yaml sends every method a path has no route for here.
        key if key.ends_with(" /{proxy+}") => Err(method_not_allowed(request)),
        _ => Err(ApiError::NotFound(format!("no route for '{route_key}'"))),
    }
}

/// One message: no route reads, changes or deletes a single message, and
/// `DELETE` on one answers 405 (`../shared/API.md`); whole conversations are
/// what can be deleted.
const MESSAGE_PATH: &str = "/contacts/{contact}/messages/{message}";

/// The order methods are listed in `Allow`.
const METHOD_ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A request whose method its path has no route for: 405 with the methods
/// the path has in `Allow` (none for a single message), or 404 for a path
/// the API does not have.
fn method_not_allowed(request: &Request) -> ApiError {
    // The greedy `{proxy+}` value is the path below the stage.
    let path = match request.path_parameters_ref().and_then(|p| p.first("proxy")) {
        Some(rest) => format!("/{}", rest.trim_start_matches('/')),
        None => request.uri().path().to_string(),
    };
    let mut allow: Vec<&'static str> = routes()
        .into_iter()
        .filter(|(_, template)| path_matches(template, &path))
        .map(|(method, _)| method)
        .collect();
    if allow.is_empty() && !path_matches(MESSAGE_PATH, &path) {
        return ApiError::NotFound("no such resource".into());
    }
    allow.sort_by_key(|m| METHOD_ORDER.iter().position(|o| o == m));
    allow.dedup();
    ApiError::method_not_allowed(
        allow,
        format!("{} is not a method of this resource", request.method()),
    )
}

/// Whether `path` is an instance of `template`: each `{name}` stands for one
/// non-empty segment.
fn path_matches(template: &str, path: &str) -> bool {
    let want = template.trim_matches('/').split('/');
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    want.clone().count() == got.len()
        && want.zip(&got).all(|(w, g)| {
            if w.starts_with('{') && w.ends_with('}') {
                !g.is_empty()
            } else {
                w == *g
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates_segment_by_segment() {
        assert!(path_matches("/contacts/{contact}", "/contacts/01J"));
        assert!(path_matches(MESSAGE_PATH, "/contacts/01J/messages/01K"));
        assert!(!path_matches("/contacts/{contact}", "/contacts/"));
        assert!(!path_matches("/contacts/{contact}", "/contacts/a/b"));
        assert!(!path_matches("/contacts", "/contactz"));
        assert!(path_matches("/settings", "/settings/"));
    }

    #[test]
    fn every_route_is_listed_once_with_a_known_method() {
        let routes = routes();
        let mut keys: Vec<String> = routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count, "a route listed twice");
        assert!(routes.iter().all(|(m, _)| METHOD_ORDER.contains(m)));
        assert!(keys.contains(&"GET /webhooks/whatsapp/{connection}".to_string()));
        assert!(!keys.contains(&"GET /webhooks/sms/{connection}".to_string()));
    }
}
