//! A local stand-in for SNS's certificate host, and SNS's signing: the
//! tests sign SES notifications with a certificate they generate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use shared::channels::sns;

use crate::{SES_TOPIC, fixture};

const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem";

pub struct FakeSns {
    pub base: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    key: RsaKeyPair,
}

/// Serves the generated certificate for any `.pem` path and records every
/// request (subscription confirmations among them).
pub async fn fake_sns() -> FakeSns {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let cert = rcgen::CertificateParams::new(vec!["sns.eu-west-1.amazonaws.com".into()])
        .expect("params")
        .self_signed(&key)
        .expect("self-signed certificate");
    let pem = cert.pem();
    let signer = RsaKeyPair::from_pkcs8(&key.serialize_der()).expect("pkcs8");
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (pem, seen) = (pem.clone(), seen.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let uri = request.uri().to_string();
                    seen.lock().unwrap().push(uri.clone());
                    let body = if uri.ends_with(".pem") {
                        pem.clone()
                    } else {
                        "<ConfirmSubscriptionResponse/>".into()
                    };
                    async move {
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    FakeSns {
        base,
        requests,
        key: signer,
    }
}

impl FakeSns {
    /// Signs an SNS message (SignatureVersion 2) the way SNS does.
    pub fn sign(&self, mut message: Value) -> Vec<u8> {
        message["SignatureVersion"] = json!("2");
        message["SigningCertURL"] = json!(CERT_URL);
        message["Signature"] = json!("");
        let envelope = sns::parse_envelope(&serde_json::to_vec(&message).unwrap()).unwrap();
        let text = sns::string_to_sign(&envelope).unwrap();
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                text.as_bytes(),
                &mut signature,
            )
            .unwrap();
        message["Signature"] = json!(BASE64.encode(signature));
        serde_json::to_vec(&message).unwrap()
    }
}

/// The fixture's SES notification for the tests' topic, sent at `timestamp`.
pub fn notification(timestamp: &str) -> Value {
    let mut message: Value = serde_json::from_slice(&fixture("ses_sns/notification.json")).unwrap();
    message["TopicArn"] = json!(SES_TOPIC);
    message["Timestamp"] = json!(timestamp);
    message
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
