//! SNS signing certificates, fetched only from AWS's SNS hosts over HTTPS and
//! cached for the life of the Lambda instance; also confirms subscriptions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

use crate::channels::sns;

/// A certificate is a few KiB; anything bigger is not one.
const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum CertificateError {
    #[error("{0} is not an AWS SNS URL")]
    Untrusted(String),
    #[error("fetching {url}: {detail}")]
    Fetch { url: String, detail: String },
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

pub struct SnsCertificates {
    client: OnceLock<Result<HttpsClient, String>>,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    /// Tests serve certificates from a local endpoint: URLs that pass the
    /// AWS host check are fetched from `override_base` + their path instead.
    override_base: Option<String>,
}

impl SnsCertificates {
    /// `SNS_ENDPOINT_OVERRIDE` is for local stacks and tests only.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self::new(
            settings
                .optional(crate::config::SNS_ENDPOINT_OVERRIDE)
                .map(str::to_string),
        )
    }

    pub fn new(override_base: Option<String>) -> Self {
        Self {
            client: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            override_base,
        }
    }

    pub async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, CertificateError> {
        if !sns::cert_url_is_trusted(url) {
            return Err(CertificateError::Untrusted(url.to_string()));
        }
        if let Some(pem) = self.cache.lock().ok().and_then(|c| c.get(url).cloned()) {
            return Ok(pem);
        }
        let pem = Arc::new(self.get(url).await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(url.to_string(), pem.clone());
        }
        Ok(pem)
    }

    /// Visits the SubscribeURL, which is how an SNS subscription is confirmed.
    pub async fn confirm_subscription(&self, url: &str) -> Result<(), CertificateError> {
        if !sns::subscribe_url_is_trusted(url) {
            return Err(CertificateError::Untrusted(url.to_string()));
        }
        self.get(url).await.map(|_| ())
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, CertificateError> {
        let fail = |detail: String| CertificateError::Fetch {
            url: url.to_string(),
            detail,
        };
        let target = match &self.override_base {
            // The trusted URL's path and query, on the local endpoint.
            Some(base) => {
                let path = url
                    .strip_prefix("https://")
                    .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
                    .unwrap_or("/");
                format!("{}{path}", base.trim_end_matches('/'))
            }
            None => url.to_string(),
        };
        let client = self
            .client
            .get_or_init(build_client)
            .as_ref()
            .map_err(|e| fail(e.clone()))?;
        let uri: http::Uri = target
            .parse()
            .map_err(|e: http::uri::InvalidUri| fail(e.to_string()))?;
        let response = client.get(uri).await.map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("status {}", response.status())));
        }
        let body = Limited::new(response.into_body(), MAX_CERTIFICATE_BYTES)
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?;
        Ok(body.to_bytes().to_vec())
    }
}

fn build_client() -> Result<HttpsClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| e.to_string())?
        // Only the local override is plain HTTP; AWS URLs must be https to pass the checks.
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_anything_but_aws_sns_hosts_before_any_request() {
        let certificates = SnsCertificates::new(None);
        for url in [
            "http://sns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        ] {
            assert!(matches!(
                certificates.certificate(url).await,
                Err(CertificateError::Untrusted(_))
            ));
        }
        assert!(matches!(
            certificates
                .confirm_subscription("https://evil.example/?Action=ConfirmSubscription&x=1")
                .await,
            Err(CertificateError::Untrusted(_))
        ));
    }
}
