//! The local stack is built from template.yaml: what the emulators hold is
//! what CloudFormation would create.

use aws_sdk_dynamodb::types::TimeToLiveStatus;
use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::TestStack;

#[tokio::test]
async fn table_matches_the_template() {
    let stack = TestStack::new().await;
    let table = stack
        .clients
        .dynamodb
        .describe_table()
        .table_name(&stack.local.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("pk".to_string(), "HASH".to_string()),
            ("sk".to_string(), "RANGE".to_string())
        ]
    );
    let mut indexes: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_string))
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["gsi1", "gsi2", "gsi3"]);

    let ttl = stack
        .clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&stack.local.table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn ingest_queue_redrives_to_its_dead_letter_queue() {
    let stack = TestStack::new().await;
    let ingest = stack.local.queue("IngestQueue").unwrap();
    let dlq = stack.local.queue("IngestDeadLetterQueue").unwrap();
    let attributes = stack
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&ingest.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let redrive: serde_json::Value =
        serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], dlq.arn.as_str());
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert_eq!(attributes[&QueueAttributeName::VisibilityTimeout], "180");
}
