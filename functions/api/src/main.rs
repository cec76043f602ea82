//! The management and query API.

use lambda_http::{Error, Request, service_fn};
use shared::api::{self, ApiDeps};
use shared::aws::AwsClients;
use shared::config::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = ApiDeps::from_settings(&AwsClients::new(&aws), &Settings::from_process()).await?;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(api::handle(&deps, request).await)
    }))
    .await
}
