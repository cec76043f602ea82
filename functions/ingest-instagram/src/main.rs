//! Instagram messaging webhook: verify, queue, answer 200.

use lambda_http::{Error, Request, service_fn};
use shared::ingest::{self, IngestDeps};
use shared::model::Provider;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = IngestDeps::from_env(&aws)?;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(ingest::handle(&deps, Provider::Instagram, request).await)
    }))
    .await
}
