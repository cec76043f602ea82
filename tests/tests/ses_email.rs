//! SES inbound email through SNS: signatures made with a certificate the test
//! generates and serves from a local stand-in for SNS's certificate host.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use integration_tests::fake_sns::{FakeSns, fake_sns, notification, now};
use integration_tests::{SES_TOPIC, TestStack};
use serde_json::{Value, json};
use shared::model::Provider;
use shared::sns_certificates::FETCH_TIMEOUT;

async fn stack_with_email() -> (TestStack, FakeSns, String) {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(sns.base.clone())).await;
    let connection = stack.connection("salon", Provider::Ses).await;
    (stack, sns, connection)
}

async fn post(stack: &TestStack, connection: &str, body: &[u8]) -> integration_tests::Reply {
    stack.post_sns(connection, body).await
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
    // The reply is the body; the quoted history below it is kept apart.
    let body = email["body"].as_str().unwrap();
    assert!(body.contains("Thanks! Can I rebook?"), "{email}");
    assert!(!body.contains("> Hi Maya"), "{email}");
    let full = email["full_body"].as_str().unwrap();
    assert!(full.starts_with(body), "{email}");
    assert!(
        full.contains("> Hi Maya, thank you for visiting us yesterday!"),
        "{email}"
    );
    assert_eq!(
        timeline_page_errors(&timeline),
        Vec::<String>::new(),
        "the timeline page with an email is what docs/openapi.yaml says"
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

/// Why `page` does not match the `TimelinePage` schema of docs/openapi.yaml.
fn timeline_page_errors(page: &Value) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    let doc: Value = serde_norway::from_str(&text).expect("OpenAPI YAML");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "$ref": "#/components/schemas/TimelinePage",
    });
    let validator = jsonschema::draft202012::options()
        .build(&root)
        .expect("schema compiles");
    validator
        .iter_errors(page)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// A certificate host that accepts connections and never answers.
async fn silent_host() -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    base
}

#[tokio::test]
async fn a_silent_certificate_host_fails_the_delivery_in_time() {
    let sns = fake_sns().await;
    let stack = TestStack::with_sns_endpoint(Some(silent_host().await)).await;
    let connection = stack.connection("salon", Provider::Ses).await;
    let started = Instant::now();
    // The outer limit only keeps a regression from hanging the suite.
    let reply = tokio::time::timeout(
        FETCH_TIMEOUT * 4,
        post(&stack, &connection, &sns.sign(notification(&now()))),
    )
    .await
    .expect("the webhook answers without the certificate");
    assert_eq!(reply.status, 502, "{reply:?}");
    assert!(started.elapsed() < FETCH_TIMEOUT + Duration::from_secs(5));
    assert_eq!(stack.queue_depth("IngestQueue").await, 0, "nothing queued");
}
