//! SQS consumer: queued deliveries -> canonical events -> DynamoDB.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::aws::AwsClients;
use shared::config::Settings;
use shared::normalize::{self, BatchLimits, NormalizeDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    let deps = NormalizeDeps::from_settings(&AwsClients::new(&aws), &Settings::from_process())?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deadline = normalize::deadline_from_epoch_millis(event.context.deadline);
        async move {
            Ok::<_, Error>(
                normalize::handle_batch(deps, event.payload, deadline, BatchLimits::default())
                    .await,
            )
        }
    }))
    .await
}
