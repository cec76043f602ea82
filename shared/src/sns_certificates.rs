//! SNS signing certificates, fetched only from AWS's SNS hosts over HTTPS and
//! cached for the life of the Lambda instance; also confirms subscriptions.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// SNS signs with one certificate per region, rotated rarely, so an instance
/// sees one or two; the cap keeps a long-lived instance's memory bounded
/// whatever URLs the signed messages name.
pub const MAX_CACHED_CERTIFICATES: usize = 8;

/// Connecting, the TLS handshake and the whole response together: a host
/// that stops answering must not hold the webhook until API Gateway's 30 s
/// (SNS then retries the delivery).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

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
    cache: Mutex<Cache>,
    timeout: Duration,
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
            cache: Mutex::new(Cache::default()),
            timeout: FETCH_TIMEOUT,
            override_base,
        }
    }

    /// The same, giving up on a fetch after `timeout` instead of [`FETCH_TIMEOUT`].
    pub fn with_fetch_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    pub async fn certificate(&self, url: &str) -> Result<Arc<Vec<u8>>, CertificateError> {
        if !sns::cert_url_is_trusted(url) {
            return Err(CertificateError::Untrusted(url.to_string()));
        }
        if let Some(pem) = self.cache.lock().ok().and_then(|mut c| c.get(url)) {
            return Ok(pem);
        }
        let pem = Arc::new(self.get(url).await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(url, pem.clone());
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
        let fetch = async {
            let response = client.get(uri).await.map_err(|e| fail(e.to_string()))?;
            if !response.status().is_success() {
                return Err(fail(format!("status {}", response.status())));
            }
            let body = Limited::new(response.into_body(), MAX_CERTIFICATE_BYTES)
                .collect()
                .await
                .map_err(|e| fail(e.to_string()))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(self.timeout, fetch)
            .await
            .map_err(|_| fail(format!("no answer within {:?}", self.timeout)))?
    }
}

/// Certificates by URL, least recently used first. A handful of entries:
/// a scan is cheaper than hashing, and eviction needs the order anyway.
#[derive(Default)]
struct Cache {
    entries: VecDeque<(String, Arc<Vec<u8>>)>,
}

impl Cache {
    fn get(&mut self, url: &str) -> Option<Arc<Vec<u8>>> {
        let at = self.entries.iter().position(|(u, _)| u == url)?;
        let entry = self.entries.remove(at)?;
        let pem = entry.1.clone();
        self.entries.push_back(entry);
        Some(pem)
    }

    fn insert(&mut self, url: &str, pem: Arc<Vec<u8>>) {
        self.entries.retain(|(u, _)| u != url);
        while self.entries.len() >= MAX_CACHED_CERTIFICATES {
            self.entries.pop_front();
        }
        self.entries.push_back((url.to_string(), pem));
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn cert_url(n: usize) -> String {
        format!("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-{n}.pem")
    }

    /// A local HTTP server that answers every request with `pem` (or never
    /// answers when `silent`), counting connections.
    async fn local_host(silent: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    if silent {
                        // Holds the connection open and says nothing.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    let pem = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{pem}",
                        pem.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        (base, connections)
    }

    #[tokio::test]
    async fn the_cache_keeps_a_bounded_number_of_certificates() {
        let (base, connections) = local_host(false).await;
        let certificates = SnsCertificates::new(Some(base));
        for n in 0..3 * MAX_CACHED_CERTIFICATES {
            certificates.certificate(&cert_url(n)).await.unwrap();
            // The first one stays in use, so it stays cached.
            certificates.certificate(&cert_url(0)).await.unwrap();
        }
        let cached = certificates.cache.lock().unwrap().entries.len();
        assert_eq!(cached, MAX_CACHED_CERTIFICATES);
        assert_eq!(
            connections.load(Ordering::SeqCst),
            3 * MAX_CACHED_CERTIFICATES
        );
        // The most recent ones are served from the cache, an evicted one is fetched again.
        let last = 3 * MAX_CACHED_CERTIFICATES - 1;
        certificates.certificate(&cert_url(last)).await.unwrap();
        assert_eq!(
            connections.load(Ordering::SeqCst),
            3 * MAX_CACHED_CERTIFICATES
        );
        certificates.certificate(&cert_url(1)).await.unwrap();
        assert_eq!(
            connections.load(Ordering::SeqCst),
            3 * MAX_CACHED_CERTIFICATES + 1
        );
    }

    #[tokio::test]
    async fn a_host_that_never_answers_times_out() {
        let (base, connections) = local_host(true).await;
        let certificates =
            SnsCertificates::new(Some(base)).with_fetch_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        // The outer limit only keeps a regression from hanging the suite.
        let result = tokio::time::timeout(
            Duration::from_secs(20),
            certificates.certificate(&cert_url(0)),
        )
        .await
        .expect("the fetch gave up by itself");
        assert!(
            matches!(&result, Err(CertificateError::Fetch { detail, .. }) if detail.contains("no answer")),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert_eq!(
            certificates.cache.lock().unwrap().entries.len(),
            0,
            "failures are not cached"
        );
        let confirm = certificates
            .confirm_subscription(
                "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y",
            )
            .await;
        assert!(
            matches!(confirm, Err(CertificateError::Fetch { .. })),
            "{confirm:?}"
        );
    }

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
