//! AWS SDK clients pointed at the local emulators.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use crate::BoxError;

#[derive(Clone)]
pub struct LocalClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
}

impl LocalClients {
    /// Reads `DYNAMODB_ENDPOINT` and `MOTO_ENDPOINT` (written by
    /// infra/emulators.sh to .local/emulators.env).
    pub fn from_env() -> Result<Self, BoxError> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                format!("{name} is not set: start the emulators with infra/emulators.sh (or use make test / make dev)")
            })
        };
        Ok(Self::new(
            &var("DYNAMODB_ENDPOINT")?,
            &var("MOTO_ENDPOINT")?,
        ))
    }

    pub fn new(dynamodb_endpoint: &str, moto_endpoint: &str) -> Self {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_string());
        let base = |endpoint: &str| -> SdkConfig {
            SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                    Credentials::new("test", "test", None, None, "local-emulator"),
                ))
                .endpoint_url(endpoint)
                .build()
        };
        let moto = base(moto_endpoint);
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&base(dynamodb_endpoint)),
            sqs: aws_sdk_sqs::Client::new(&moto),
            s3: shared::aws::s3(&moto),
            region,
        }
    }
}
