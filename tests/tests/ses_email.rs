//! SES inbound email through SNS: signatures made with a certificate the test
//! generates and serves from a local stand-in for SNS's certificate host.

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
use integration_tests::{SES_TOPIC, TestStack, fixture};
use serde_json::{Value, json};
use shared::channels::sns;
use shared::model::Provider;

const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem";

struct FakeSns {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
    key: RsaKeyPair,
}

/// Serves the generated certificate for any `.pem` path and records every
/// request (subscription confirmations among them).
async fn fake_sns() -> FakeSns {
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
    fn sign(&self, mut message: Value) -> Vec<u8> {
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

fn notification(timestamp: &str) -> Value {
    let mut message: Value = serde_json::from_slice(&fixture("ses_sns/notification.json")).unwrap();
    message["TopicArn"] = json!(SES_TOPIC);
    message["Timestamp"] = json!(timestamp);
    message
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn stack_with_email() -> (TestStack, FakeSns, String) {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(sns.base.clone())).await;
    let connection = stack.connection("salon", Provider::Ses).await;
    (stack, sns, connection)
}

async fn post(stack: &TestStack, connection: &str, body: &[u8]) -> integration_tests::Reply {
    stack
        .request(
            "POST",
            &format!("/webhooks/email/{connection}"),
            &[("content-type", "text/plain; charset=UTF-8")],
            body,
        )
        .await
}

#[tokio::test]
async fn signed_notification_reaches_the_timeline() {
    let (stack, sns, connection) = stack_with_email().await;
    let reply = post(&stack, &connection, &sns.sign(notification(&now()))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let timeline = stack.timeline("salon", &contact, "").await;
    let email = &timeline["items"][0];
    assert_eq!(email["channel"], "email");
    assert!(
        email["body"]
            .as_str()
            .unwrap()
            .contains("Thanks! Can I rebook?"),
        "{email}"
    );
    // The certificate was fetched once, from the stand-in for the AWS host.
    let second = post(&stack, &connection, &sns.sign(notification(&now()))).await;
    assert_eq!(second.status, 200);
    let fetched = sns
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|u| u.ends_with(".pem"))
        .count();
    assert_eq!(fetched, 1, "cached after the first fetch");
}

#[tokio::test]
async fn subscription_confirmation_is_confirmed_and_not_queued() {
    let (stack, sns, connection) = stack_with_email().await;
    let confirmation = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425c464de",
        "TopicArn": SES_TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=2336412f",
        "Timestamp": now(),
    });
    let reply = post(&stack, &connection, &sns.sign(confirmation)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        sns.requests
            .lock()
            .unwrap()
            .iter()
            .any(|u| u.contains("Action=ConfirmSubscription")),
        "SubscribeURL visited"
    );
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
}

#[tokio::test]
async fn forged_foreign_stale_and_malformed_messages_are_refused() {
    let (stack, sns, connection) = stack_with_email().await;
    let mut cases: Vec<(Vec<u8>, u16)> = Vec::new();
    // Tampered after signing.
    let mut tampered: Value = serde_json::from_slice(&sns.sign(notification(&now()))).unwrap();
    tampered["Message"] = json!("{\"notificationType\":\"Received\"}");
    cases.push((serde_json::to_vec(&tampered).unwrap(), 401));
    // Another topic.
    let mut foreign = notification(&now());
    foreign["TopicArn"] = json!("arn:aws:sns:eu-west-1:999999999999:other");
    cases.push((sns.sign(foreign), 401));
    // A certificate from a host that is not AWS's.
    let mut evil: Value = serde_json::from_slice(&sns.sign(notification(&now()))).unwrap();
    evil["SigningCertURL"] = json!("https://sns.eu-west-1.amazonaws.com.evil.example/c.pem");
    cases.push((serde_json::to_vec(&evil).unwrap(), 401));
    // Three hours old.
    let stale = (chrono::Utc::now() - chrono::Duration::hours(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    cases.push((sns.sign(notification(&stale)), 401));
    cases.push((b"not json".to_vec(), 400));
    for (body, status) in cases {
        let reply = post(&stack, &connection, &body).await;
        assert_eq!(reply.status, status, "{reply:?}");
        assert_eq!(reply.content_type, "application/problem+json");
    }
    assert_eq!(stack.queue_depth("IngestQueue").await, 0, "nothing queued");
}
