//! SQS consumer: export jobs -> files in S3 (docs/exports.md).

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::aws::AwsClients;
use shared::config::Settings;
use shared::export::{ExportDeps, worker};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = shared::aws::load_config().await;
    // Fonts and the template are loaded once, at cold start.
    let pdf = Arc::new(export_pdf::PdfRenderer::new()?);
    let deps =
        ExportDeps::from_settings(&AwsClients::new(&aws), &Settings::from_process(), Some(pdf))?;
    let deps = &deps;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let deadline = shared::normalize::deadline_from_epoch_millis(event.context.deadline);
        async move { Ok::<_, Error>(worker::handle_batch(deps, event.payload, deadline).await) }
    }))
    .await
}
