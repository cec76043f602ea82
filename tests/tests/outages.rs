//! Nothing is lost when DynamoDB cannot be reached: the batch reports its
//! records as failed, they stay on the queue, and a later attempt stores them.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use integration_tests::{TestStack, fixture, sqs_event};
use shared::normalize::{self, NormalizeDeps};
use shared::store::Store;

#[tokio::test]
async fn records_survive_an_unreachable_table() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;

    // A DynamoDB endpoint where nothing listens, with the SDK's retries.
    let unreachable = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .build(),
    );
    let outage = NormalizeDeps {
        store: Store::new(unreachable, stack.local.table.clone()),
        deliveries: stack.ingest_queue(stack.clients.s3.clone()),
    };
    let received = stack.receive_ingest(1).await;
    assert_eq!(received.len(), 1);
    let event = sqs_event(received.clone());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let response =
        normalize::handle_batch(&outage, event, deadline, normalize::BatchLimits::default()).await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "reported, not swallowed"
    );
    assert_eq!(
        Some(response.batch_item_failures[0].item_identifier.as_str()),
        received[0].message_id.as_deref()
    );

    // SQS makes the record visible again (the poller does what Lambda does).
    stack
        .clients
        .sqs
        .change_message_visibility()
        .queue_url(&stack.local.queue("IngestQueue").unwrap().url)
        .receipt_handle(received[0].receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert_eq!(stack.drain().await, 1);
    let contact = stack.only_contact("salon").await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
