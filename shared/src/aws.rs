//! AWS SDK set-up, done once per process in `main`.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Throttling and dropped connections are retried with exponential backoff
/// and jitter; a few more attempts than the default ride out a burst.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(6))
        .load()
        .await
}

/// Every client a function may use. Building one opens no connection, so a
/// function builds them all once and uses what it needs.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config(config).build()),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }
}

/// Path-style addressing only when an endpoint override points at an
/// emulator, which cannot serve virtual-hosted bucket names.
pub fn s3_config(config: &SdkConfig) -> aws_sdk_s3::config::Builder {
    let overridden =
        config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::config::Builder::from(config).force_path_style(overridden)
}
