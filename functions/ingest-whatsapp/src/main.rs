//! WhatsApp Cloud API webhook: verify, queue, answer 200.

use lambda_http::{Error, Request, service_fn};
use shared::config::{BLOB_BUCKET, INGEST_QUEUE_URL, TABLE_NAME, required};
use shared::delivery::DeliveryQueue;
use shared::ingest::{self, IngestDeps};
use shared::model::Provider;
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = IngestDeps {
        store: Store::new(shared::aws::dynamodb(&aws), required(TABLE_NAME)?),
        queue: DeliveryQueue::new(
            shared::aws::sqs(&aws),
            required(INGEST_QUEUE_URL)?,
            shared::aws::s3(&aws),
            required(BLOB_BUCKET)?,
        ),
    };
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Error>(ingest::handle(&deps, Provider::Whatsapp, request).await)
    }))
    .await
}
