//! Bad input is refused with the right status and a problem+json body, and
//! nothing reaches the queue.

use integration_tests::{APP_SECRET, TestStack, fixture, whatsapp_change, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;
use shared::signature::hmac_sha256_hex;

async fn assert_rejected(stack: &TestStack, reply: integration_tests::Reply, status: u16) {
    reply.assert_problem(status);
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

#[tokio::test]
async fn an_oversized_body_is_413_and_nothing_is_queued_or_stored() {
    let stack = TestStack::new().await;
    for provider in Provider::ALL.iter().copied() {
        let connection = stack.connection("salon", provider).await;
        let body = vec![b'x'; provider.descriptor().max_body_bytes + 1];
        // Well signed: only the size is wrong.
        let reply = match provider {
            Provider::Ses => stack.post_sns(&connection, &body).await,
            _ => stack.deliver(provider, &connection, "", &body).await,
        };
        assert_eq!(reply.status, 413, "{provider:?}: {reply:?}");
        assert_rejected(&stack, reply, 413).await;
    }
    assert_eq!(stack.blob_count("").await, 0, "nothing claim-checked");
}

/// A JSON fixture with one value replaced (by JSON pointer).
fn edited(path: &str, pointer: &str, value: Value) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&fixture(path)).unwrap();
    *body.pointer_mut(pointer).unwrap() = value;
    serde_json::to_vec(&body).unwrap()
}

/// A form fixture with one parameter's value replaced.
fn form_with(path: &str, name: &str, value: &str) -> Vec<u8> {
    let body = String::from_utf8(fixture(path)).unwrap();
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={encoded}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// Posts `body` to a fresh connection of `provider`.
async fn post(stack: &TestStack, provider: Provider, body: &[u8]) -> integration_tests::Reply {
    let connection = stack.connection("salon", provider).await;
    match provider {
        Provider::Stripe => {
            stack
                .post_stripe(&connection, body, chrono::Utc::now().timestamp())
                .await
        }
        _ => stack.deliver(provider, &connection, "", body).await,
    }
}

async fn assert_refused_field(
    stack: &TestStack,
    what: &str,
    reply: integration_tests::Reply,
    field: &str,
    value: &str,
) {
    assert_eq!(reply.status, 400, "{what}: {reply:?}");
    let problem = reply.json();
    assert_eq!(problem["field"], field, "{what}: {problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        !detail.contains(value),
        "{what}: the value is not echoed: {detail}"
    );
    assert_rejected(stack, reply, 400).await;
}

#[tokio::test]
async fn ids_that_cannot_be_keys_are_400_for_every_adapter() {
    let stack = TestStack::new().await;
    let long = "A".repeat(300);
    let cases: Vec<(&str, Provider, Vec<u8>, &str, &str)> = vec![
        (
            "whatsapp wamid with '#'",
            Provider::Whatsapp,
            whatsapp_text("wamid.a#b", "447700900123", 1_792_570_441, "hi"),
            "events[0].provider_message_id",
            "wamid.a#b",
        ),
        (
            "whatsapp status id too long",
            Provider::Whatsapp,
            integration_tests::whatsapp_status(&long, "447700900123", 1_792_570_441, "read"),
            "events[0].provider_message_id",
            &long,
        ),
        (
            "whatsapp username too long",
            Provider::Whatsapp,
            whatsapp_change(
                "messages",
                json!({ "metadata": { "phone_number_id": "110923456789012" }, "messages": [{
                    "from_user_id": long, "id": "wamid.u", "timestamp": "1792570441",
                    "type": "text", "text": { "body": "hi" }
                }] }),
            ),
            "events[0].customer.value",
            &long,
        ),
        (
            "instagram mid with '#'",
            Provider::Instagram,
            edited(
                "instagram/message.json",
                "/entry/0/messaging/0/message/mid",
                json!("m#1"),
            ),
            "events[0].provider_message_id",
            "m#1",
        ),
        (
            "twilio sms sid too long",
            Provider::TwilioSms,
            form_with("twilio_sms/inbound.form", "MessageSid", &long),
            "events[0].provider_message_id",
            &long,
        ),
        (
            "twilio call sid too long",
            Provider::TwilioVoice,
            form_with("twilio_voice/completed.form", "CallSid", &long),
            "events[0].call_id",
            &long,
        ),
        (
            "cal.com uid with '#'",
            Provider::Calcom,
            edited(
                "calcom/booking_created.json",
                "/payload/uid",
                json!("uid#1"),
            ),
            "events[0].booking_id",
            "uid#1",
        ),
        (
            "stripe payment intent with '#'",
            Provider::Stripe,
            edited(
                "stripe/payment_intent_succeeded.json",
                "/data/object/id",
                json!("pi_#1"),
            ),
            "events[0].payment_id",
            "pi_#1",
        ),
    ];
    for (what, provider, body, field, value) in cases {
        let reply = post(&stack, provider, &body).await;
        assert_refused_field(&stack, what, reply, field, value).await;
    }
}

#[tokio::test]
async fn instants_outside_1970_to_9999_are_400_for_every_event_kind() {
    let stack = TestStack::new().await;
    let cases: Vec<(&str, Provider, Vec<u8>, &str)> = vec![
        (
            "whatsapp message in 1969",
            Provider::Whatsapp,
            whatsapp_text("wamid.old", "447700900123", -86_400, "hi"),
            "events[0].occurred_at",
        ),
        (
            "whatsapp status in year 10000",
            Provider::Whatsapp,
            integration_tests::whatsapp_status("wamid.s", "447700900123", 253_402_300_800, "read"),
            "events[0].at",
        ),
        (
            "instagram unsend in year 10000",
            Provider::Instagram,
            edited(
                "instagram/deleted.json",
                "/entry/0/messaging/0/timestamp",
                json!(253_402_300_800_000_i64),
            ),
            "events[0].at",
        ),
        (
            "twilio call in 1900",
            Provider::TwilioVoice,
            form_with(
                "twilio_voice/completed.form",
                "Timestamp",
                "Mon, 01 Jan 1900 12:00:00 +0000",
            ),
            "events[0].at",
        ),
        (
            "cal.com booking made in 1969",
            Provider::Calcom,
            edited(
                "calcom/booking_created.json",
                "/createdAt",
                json!("1969-07-20T20:17:00.000Z"),
            ),
            "events[0].at",
        ),
        (
            "stripe payment in year 10000",
            Provider::Stripe,
            edited(
                "stripe/payment_intent_succeeded.json",
                "/created",
                json!(253_402_300_800_i64),
            ),
            "events[0].at",
        ),
    ];
    for (what, provider, body, field) in cases {
        let reply = post(&stack, provider, &body).await;
        assert_refused_field(&stack, what, reply, field, "\u{0}").await;
    }
}
