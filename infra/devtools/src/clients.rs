//! AWS SDK clients pointed at the local emulators.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use shared::aws::AwsClients;

use crate::BoxError;
use crate::calls::{CallRecorder, ResourceMap};

/// The local stack's own clients (provisioning, test set-up and checks:
/// nothing a function does).
#[derive(Clone)]
pub struct LocalClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub region: String,
    dynamodb_config: SdkConfig,
    moto_config: SdkConfig,
    /// moto's, unless [`Self::with_s3_endpoint`] chose another S3.
    s3_config: SdkConfig,
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
        let dynamodb_config = base(dynamodb_endpoint);
        let moto_config = base(moto_endpoint);
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&dynamodb_config),
            sqs: aws_sdk_sqs::Client::new(&moto_config),
            s3: aws_sdk_s3::Client::from_conf(shared::aws::s3_config(&moto_config).build()),
            secrets: aws_sdk_secretsmanager::Client::new(&moto_config),
            region,
            dynamodb_config,
            s3_config: moto_config.clone(),
            moto_config,
        }
    }

    /// The same clients with S3 at `endpoint` (ministack, which checks
    /// presigned URLs' signatures and expiry); SQS stays on moto.
    pub fn with_s3_endpoint(&self, endpoint: &str) -> Self {
        let s3_config = self.moto_config.to_builder().endpoint_url(endpoint).build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(shared::aws::s3_config(&s3_config).build()),
            s3_config,
            ..self.clone()
        }
    }

    /// The clients one function's handler gets: every call they make is
    /// recorded under the function's logical id for the IAM check.
    pub fn for_function(&self, function: &str, resources: Arc<ResourceMap>) -> AwsClients {
        self.for_function_via(function, resources, None)
    }

    /// [`Self::for_function`], sending through `http` (a test's faulty
    /// transport) instead of the real HTTP client.
    pub fn for_function_via(
        &self,
        function: &str,
        resources: Arc<ResourceMap>,
        http: Option<SharedHttpClient>,
    ) -> AwsClients {
        let recorder = CallRecorder::new(function, resources);
        let via = |config: &SdkConfig| {
            let mut builder = config.to_builder();
            if let Some(http) = &http {
                builder = builder.http_client(http.clone());
            }
            builder.build()
        };
        let (dynamodb_config, moto_config, s3_config) = (
            via(&self.dynamodb_config),
            via(&self.moto_config),
            via(&self.s3_config),
        );
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&dynamodb_config)
                    .interceptor(recorder.clone())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&moto_config)
                    .interceptor(recorder.clone())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                shared::aws::s3_config(&s3_config)
                    .interceptor(recorder.clone())
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(&moto_config)
                    .interceptor(recorder)
                    .build(),
            ),
        }
    }
}
