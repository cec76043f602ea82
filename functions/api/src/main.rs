//! The management and query API.

use lambda_http::{Error, Request, service_fn};
use shared::api::{self, ApiDeps, CursorKey};
use shared::config::{CURSOR_KEY, required};
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = ApiDeps {
        store: Store::from_env(&aws)?,
        cursors: CursorKey::new(required(CURSOR_KEY)?),
    };
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(api::handle(&deps, request).await)
    }))
    .await
}
