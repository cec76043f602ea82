//! A local SQS event-source mapping: receive a batch, hand it to the function
//! as the `SqsEvent` Lambda would build (with the deadline its `Timeout` gives
//! the invocation), delete what succeeded. Failed records stay on the queue
//! and come back; after maxReceiveCount SQS moves them to the dead-letter
//! queue, exactly as in AWS.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::json;

use crate::BoxError;
use crate::gateway::Functions;

pub struct QueuePoller {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    /// The consuming function's logical id.
    pub function: String,
    pub batch_size: i32,
    pub functions: Arc<Functions>,
    /// Seconds before a failed record is received again. AWS waits out the
    /// queue's visibility timeout; locally a short delay keeps retries visible.
    pub retry_delay_secs: i32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub received: usize,
    pub failed: usize,
    /// Time spent inside the function (what Lambda would bill).
    pub handler_time: Duration,
}

impl QueuePoller {
    pub async fn poll_once(&self, wait_secs: i32) -> Result<PollOutcome, BoxError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size.clamp(1, 10))
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(PollOutcome::default());
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| {
                let attributes: std::collections::HashMap<String, String> = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "md5OfBody": m.md5_of_body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(json!({ "Records": records }))?;
        let invoked = std::time::Instant::now();
        let response = self
            .functions
            .invoke_sqs(&self.function, event)
            .await
            .ok_or_else(|| format!("no SQS function named {}", self.function))?;
        let handler_time = invoked.elapsed();
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        let mut deletes = Vec::new();
        for m in &messages {
            let (Some(id), Some(handle)) = (m.message_id.as_deref(), m.receipt_handle.as_deref())
            else {
                continue;
            };
            if failed.contains(&id) {
                self.sqs
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(self.retry_delay_secs)
                    .send()
                    .await?;
            } else {
                deletes.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        if !deletes.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(deletes))
                .send()
                .await?;
        }
        Ok(PollOutcome {
            received: messages.len(),
            failed: failed.len(),
            handler_time,
        })
    }

    /// Polls until the process ends; errors (an emulator restarting) are
    /// logged and retried, never fatal.
    pub async fn run(self) {
        loop {
            match self.poll_once(1).await {
                Ok(outcome) if outcome.failed > 0 => {
                    tracing::warn!(queue = %self.queue_arn, ?outcome, "some records failed");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(queue = %self.queue_arn, %error, "poll failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}
