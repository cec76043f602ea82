//! The management and query API behind the JWT authorizer. Routing is by the
//! API Gateway route key, so stage prefixes and custom domains do not matter.

mod auth;
mod body;
mod connections;
mod contacts;
mod cursor;
mod messages;
mod params;
mod settings;
mod staff;

pub use auth::{Caller, GROUPS_CLAIM, Role, TENANT_CLAIM};
pub use cursor::{CursorKey, CursorKeyError};

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::http::{ApiError, finish};
use crate::store::Store;

pub struct ApiDeps {
    pub store: Store,
    pub cursors: CursorKey,
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
        let secret = settings.required(crate::config::CURSOR_KEY_SECRET)?;
        Ok(Self {
            store: Store::from_settings(clients, settings)?,
            cursors: CursorKey::from_secret(&clients.secrets, secret).await?,
        })
    }
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
        _ => Err(ApiError::NotFound(format!("no route for '{route_key}'"))),
    }
}
