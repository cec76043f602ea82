//! The chat widget's key is public and its `Origin` can be forged, so
//! anyone can post: each visitor and each connection has a rate limit kept
//! in the table (every ingest instance sees the same counters), bodies are
//! capped in size, and a refused request queues nothing.

use chrono::{Timelike, Utc};
use integration_tests::{CHAT_ORIGIN, TestStack};
use serde_json::{Value, json};
use shared::channels::chat;
use shared::model::Provider;

fn message(visitor: &str, id: &str, extra: Value) -> Vec<u8> {
    let mut body = json!({
        "visitor_id": visitor,
        "message_id": id,
        "sent_at": "2026-10-20T16:55:00.000Z",
        "text": "Do you do balayage?",
        "page": { "url": format!("{CHAT_ORIGIN}/prices") }
    });
    if let (Some(target), Some(more)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            target.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&body).unwrap()
}

/// Counters are per minute: a burst that must land in one window starts
/// early enough in it.
async fn start_of_a_window() {
    let second = Utc::now().second();
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second))).await;
    }
}

fn retry_after(reply: &integration_tests::Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in seconds: {reply:?}"))
}

#[tokio::test]
async fn a_visitor_over_the_limit_gets_429_and_only_the_allowed_messages_are_queued() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Chat).await;
    let allowed = chat::VISITOR_LIMIT.max_requests as usize;
    start_of_a_window().await;
    for i in 0..allowed {
        let reply = stack
            .post_chat(
                &connection,
                &message("v_flood", &format!("m{i}"), json!({})),
            )
            .await;
        assert_eq!(reply.status, 200, "message {i}: {reply:?}");
    }
    for i in allowed..allowed + 3 {
        let reply = stack
            .post_chat(
                &connection,
                &message("v_flood", &format!("m{i}"), json!({})),
            )
            .await;
        reply.assert_problem(429);
        let wait = retry_after(&reply);
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("this visitor"),
            "{reply:?}"
        );
    }
    assert_eq!(stack.queue_depth("IngestQueue").await, allowed);

    // Another visitor of the same site is not held back by the flood.
    let reply = stack
        .post_chat(&connection, &message("v_other", "m0", json!({})))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(stack.queue_depth("IngestQueue").await, allowed + 1);
    assert_eq!(stack.drain().await, allowed + 1);
}

#[tokio::test]
async fn a_connection_over_its_limit_refuses_every_visitor() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Chat).await;
    let other = stack.connection("salon", Provider::Chat).await;
    start_of_a_window().await;
    // Many visitors together have used up this site's minute.
    let limit = chat::CONNECTION_LIMIT;
    let (pk, sk) = shared::keys::rate_window_key(
        "salon",
        &shared::store::RateScope::Connection {
            connection: &connection,
        },
        limit.window_start(Utc::now()),
    );
    stack
        .clients
        .dynamodb
        .put_item()
        .table_name(&stack.local.table)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
        .item(
            "count",
            aws_sdk_dynamodb::types::AttributeValue::N(limit.max_requests.to_string()),
        )
        .send()
        .await
        .unwrap();

    let reply = stack
        .post_chat(&connection, &message("v_new", "m1", json!({})))
        .await;
    reply.assert_problem(429);
    assert!(retry_after(&reply) <= 60);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("this website"),
        "{reply:?}"
    );
    assert_eq!(stack.queue_depth("IngestQueue").await, 0, "nothing queued");
    // Another website of the same business has its own budget.
    let reply = stack
        .post_chat(&other, &message("v_new", "m1", json!({})))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn oversized_and_malformed_bodies_queue_nothing() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Chat).await;

    // The largest body allowed, made of what the queue envelope escapes
    // (quotes, backslashes, newlines), still travels inline.
    let url = format!("{CHAT_ORIGIN}/{}", "\\".repeat(4_000));
    let mut big = message(
        "v_big",
        "m_big",
        json!({"text": "\"".repeat(10_000), "page": {"url": url, "referrer": url}}),
    );
    let close = big.pop();
    assert_eq!(close, Some(b'}'));
    big.resize(chat::MAX_BODY_BYTES - 1, b'\n');
    big.push(b'}');
    let reply = stack.post_chat(&connection, &big).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    let oversized = message(
        "v_big",
        "m_huge",
        json!({"text": "x".repeat(chat::MAX_BODY_BYTES)}),
    );
    let reply = stack.post_chat(&connection, &oversized).await;
    reply.assert_problem(413);

    let with_tail = [message("v1", "m1", json!({})), b" {}".to_vec()].concat();
    for (body, field) in [
        (message("v1", "m1", json!({"x_padding": "x"})), "x_padding"),
        (
            message("v1", "m1", json!({"visitor": {"nickname": "M"}})),
            "visitor.nickname",
        ),
        (
            message("v1", "m1", json!({"page": {"url": "javascript:alert(1)"}})),
            "page.url",
        ),
        (with_tail, "body"),
    ] {
        let reply = stack.post_chat(&connection, &body).await;
        reply.assert_problem(400);
        assert_eq!(reply.json()["field"], field, "{reply:?}");
    }

    assert_eq!(stack.queue_depth("IngestQueue").await, 1, "only the first");
    assert_eq!(stack.blob_count("").await, 0, "no chat body goes to S3");
    assert_eq!(stack.drain().await, 1);
    let contact = stack.only_contact("salon").await;
    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(timeline["items"][0]["body"].as_str().unwrap().len(), 10_000);
}
