//! Bad input is refused with the right status and a problem+json body, and
//! nothing reaches the queue.

use integration_tests::{APP_SECRET, TestStack, fixture};
use shared::signature::hmac_sha256_hex;

async fn assert_rejected(stack: &TestStack, reply: integration_tests::Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(reply.json()["status"], status);
    assert_eq!(stack.queue_depth("IngestQueue").await, 0, "nothing queued");
}

#[tokio::test]
async fn wrong_or_missing_signature_is_401() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let body = fixture("whatsapp/text_message.json");
    let path = format!("/webhooks/whatsapp/{connection}");

    let wrong = format!("sha256={}", hmac_sha256_hex(b"not_the_secret", &body));
    let reply = stack
        .request("POST", &path, &[("x-hub-signature-256", &wrong)], &body)
        .await;
    assert_rejected(&stack, reply, 401).await;

    let reply = stack.request("POST", &path, &[], &body).await;
    assert_rejected(&stack, reply, 401).await;

    // The right MAC over different bytes (a trailing newline) is still wrong.
    let mut altered = body.clone();
    altered.push(b'\n');
    let good = format!("sha256={}", hmac_sha256_hex(APP_SECRET.as_bytes(), &body));
    let reply = stack
        .request("POST", &path, &[("x-hub-signature-256", &good)], &altered)
        .await;
    assert_rejected(&stack, reply, 401).await;
}

#[tokio::test]
async fn unknown_connection_is_404() {
    let stack = TestStack::new().await;
    let reply = stack
        .post_whatsapp("no-such-connection", &fixture("whatsapp/text_message.json"))
        .await;
    assert_rejected(&stack, reply, 404).await;
}

#[tokio::test]
async fn malformed_body_with_good_signature_is_400_naming_the_field() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;

    let reply = stack.post_whatsapp(&connection, b"{not json").await;
    assert_rejected(&stack, reply, 400).await;

    let wrong_object = br#"{"object":"instagram","entry":[]}"#;
    let reply = stack.post_whatsapp(&connection, wrong_object).await;
    assert_eq!(reply.json()["field"], "object");
    assert_rejected(&stack, reply, 400).await;

    let bad_timestamp = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"447700900123","id":"w1","timestamp":"yesterday","type":"text","text":{"body":"hi"}}]}}]}]}"#;
    let reply = stack.post_whatsapp(&connection, bad_timestamp).await;
    assert_eq!(
        reply.json()["field"],
        "entry[0].changes[0].value.messages[0].timestamp"
    );
    assert_rejected(&stack, reply, 400).await;
}

/// A method or path no webhook route has falls to the API's greedy routes:
/// refused by the JWT authorizer without a token, 405 (with `Allow`) or
/// 404 with one. Nothing is queued either way.
#[tokio::test]
async fn unrouted_paths_and_methods_are_refused() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let path = format!("/webhooks/whatsapp/{connection}");
    let reply = stack.request("DELETE", &path, &[], b"").await;
    assert_eq!(reply.status, 401);
    let reply = stack.request("POST", "/webhooks/nowhere", &[], b"{}").await;
    assert_eq!(reply.status, 401);
    let auth = format!("Bearer {}", stack.token("salon", "admin"));
    let reply = stack
        .request("DELETE", &path, &[("authorization", &auth)], b"")
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), "GET, POST");
    let reply = stack
        .request(
            "POST",
            "/webhooks/nowhere",
            &[("authorization", &auth)],
            b"{}",
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
}
