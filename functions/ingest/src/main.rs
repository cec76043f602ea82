//! Every channel's webhook function: find the connection, verify the
//! provider's proof, queue, answer. One binary for all of them; the
//! function's `PROVIDER` setting says which provider it serves.

use lambda_http::{Error, Request, service_fn};
use shared::aws::AwsClients;
use shared::config::Settings;
use shared::ingest::{self, IngestDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = IngestDeps::from_settings(&AwsClients::new(&aws), &Settings::from_process())?;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(ingest::handle(&deps, request).await)
    }))
    .await
}
