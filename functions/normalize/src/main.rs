//! SQS consumer: queued deliveries -> canonical events -> DynamoDB.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::config::{BLOB_BUCKET, INGEST_QUEUE_URL, TABLE_NAME, required};
use shared::delivery::DeliveryQueue;
use shared::normalize::{self, NormalizeDeps};
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = NormalizeDeps {
        store: Store::new(shared::aws::dynamodb(&aws), required(TABLE_NAME)?),
        deliveries: DeliveryQueue::new(
            shared::aws::sqs(&aws),
            required(INGEST_QUEUE_URL)?,
            shared::aws::s3(&aws),
            required(BLOB_BUCKET)?,
        ),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(normalize::handle_batch(&deps, event.payload).await)
    }))
    .await
}
