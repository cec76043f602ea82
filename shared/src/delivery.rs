//! A verified webhook delivery on its way from an ingest function to the
//! normalize function. Bodies too large for SQS travel through S3 (claim check).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Provider;

/// SQS accepts 256 KiB per message; the margin covers message attributes.
const INLINE_LIMIT: usize = 240 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivery_id: String,
    pub tenant_id: String,
    pub connection_id: String,
    pub provider: Provider,
    pub received_at: DateTime<Utc>,
    /// History starts when the channel was connected; older events are skipped.
    pub connected_at: DateTime<Utc>,
    /// The business's phone region when the delivery arrived, so ingest and
    /// normalize read phone numbers the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_region: Option<String>,
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "storage", rename_all = "snake_case")]
pub enum Payload {
    Inline { body: String },
    S3 { bucket: String, key: String },
}

#[derive(Debug, Error)]
pub enum DeliveryError {
    #[error("sqs: {0}")]
    Sqs(String),
    #[error("s3: {0}")]
    S3(String),
    #[error("envelope: {0}")]
    Envelope(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct DeliveryQueue {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Delivery {
    pub fn parse_context(&self) -> crate::channels::ParseContext<'_> {
        crate::channels::ParseContext {
            received_at: self.received_at,
            default_region: self.default_region.as_deref(),
        }
    }
}

impl DeliveryQueue {
    /// The ingest queue and bucket named by template.yaml's environment.
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::SettingsError> {
        use crate::config::{BLOB_BUCKET, INGEST_QUEUE_URL};
        Ok(Self::new(
            clients.sqs.clone(),
            settings.required(INGEST_QUEUE_URL)?.to_string(),
            clients.s3.clone(),
            settings.required(BLOB_BUCKET)?.to_string(),
        ))
    }

    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: String,
        s3: aws_sdk_s3::Client,
        bucket: String,
    ) -> Self {
        Self {
            sqs,
            queue_url,
            s3,
            bucket,
        }
    }

    /// Returns once the delivery is durably queued.
    #[tracing::instrument(skip_all, fields(delivery = %delivery.delivery_id))]
    pub async fn enqueue(&self, mut delivery: Delivery) -> Result<(), DeliveryError> {
        let mut message = serde_json::to_string(&delivery)?;
        // Measured after JSON escaping, which can make a body much larger.
        if message.len() > INLINE_LIMIT
            && let Payload::Inline { body } = &delivery.payload
        {
            let key = format!(
                "deliveries/{}/{}.body",
                delivery.tenant_id, delivery.delivery_id
            );
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .body(body.clone().into_bytes().into())
                .send()
                .await
                .map_err(|e| {
                    DeliveryError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
                })?;
            delivery.payload = Payload::S3 {
                bucket: self.bucket.clone(),
                key,
            };
            message = serde_json::to_string(&delivery)?;
        }
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message)
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(())
    }

    pub async fn body(&self, payload: &Payload) -> Result<String, DeliveryError> {
        match payload {
            Payload::Inline { body } => Ok(body.clone()),
            Payload::S3 { bucket, key } => {
                let object = self
                    .s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| {
                        DeliveryError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
                    })?;
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| DeliveryError::S3(e.to_string()))?
                    .into_bytes();
                String::from_utf8(bytes.to_vec()).map_err(|e| DeliveryError::S3(e.to_string()))
            }
        }
    }
}
