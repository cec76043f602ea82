//! Messages the business sends, recorded through the API: idempotent per
//! Idempotency-Key, and not duplicated by the provider's echo.

use integration_tests::{TestStack, fixture, whatsapp_echo, whatsapp_status};
use serde_json::json;

const MAYA: &str = "447700900123";

async fn maya(stack: &TestStack) -> (String, String) {
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    (connection, stack.only_contact("salon").await)
}

async fn send(
    stack: &TestStack,
    contact: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> integration_tests::Reply {
    let auth = format!("Bearer {}", stack.token("salon", "agent"));
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    stack
        .request(
            "POST",
            &format!("/contacts/{contact}/messages"),
            &headers,
            body.to_string().as_bytes(),
        )
        .await
}

#[tokio::test]
async fn a_retried_send_records_one_message() {
    let stack = TestStack::new().await;
    let (_, contact) = maya(&stack).await;
    let body = json!({ "channel": "whatsapp", "body": "Saturday 10:00 is yours!", "author": "ai" });
    let first = send(&stack, &contact, Some("k-1"), body.clone()).await;
    assert_eq!(first.status, 201, "{first:?}");
    let again = send(&stack, &contact, Some("k-1"), body.clone()).await;
    assert_eq!(again.status, 200);
    assert_eq!(first.json()["event_id"], again.json()["event_id"]);
    assert_eq!(first.json()["author"]["kind"], "ai");

    let human = send(
        &stack,
        &contact,
        Some("k-2"),
        json!({ "channel": "sms", "body": "Reminder: tomorrow 10:00", "author": "human" }),
    )
    .await;
    assert_eq!(human.status, 201);
    assert_eq!(human.json()["author"]["user_id"], "salon-agent");

    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 3);
    let counters = stack
        .store()
        .metric_counters("salon", &contact)
        .await
        .unwrap();
    assert_eq!(counters["messages_out"], 2);
    assert_eq!(counters["messages_in"], 1);
}

#[tokio::test]
async fn the_provider_echo_of_a_sent_message_is_not_a_second_message() {
    let stack = TestStack::new().await;
    let (connection, contact) = maya(&stack).await;
    let wamid = "wamid.sent-by-api";
    let sent = send(&stack, &contact, None, json!({
        "channel": "whatsapp", "body": "Your deposit link", "author": "ai", "provider_message_id": wamid
    }))
    .await;
    assert_eq!(sent.status, 201, "{sent:?}");
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_echo(wamid, MAYA, 1_792_570_930, "Your deposit link"),
        )
        .await;
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_status(wamid, MAYA, 1_792_570_934, "read"),
        )
        .await;
    stack.drain().await;
    let timeline = stack.timeline("salon", &contact, "").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let sent_item = items.iter().find(|i| i["provider_ref"] == wamid).unwrap();
    assert_eq!(sent_item["author"]["kind"], "ai", "the API's author wins");
    assert_eq!(sent_item["status"], "read");
}

#[tokio::test]
async fn an_echo_that_arrives_first_gets_its_author_from_the_app() {
    let stack = TestStack::new().await;
    let (connection, contact) = maya(&stack).await;
    for (wamid, at) in [
        ("wamid.echo-first", 1_792_570_930),
        ("wamid.by-a-person", 1_792_570_990),
    ] {
        stack
            .post_whatsapp(
                &connection,
                &whatsapp_echo(wamid, MAYA, at, "Your deposit link"),
            )
            .await;
    }
    stack.drain().await;
    let ai = send(&stack, &contact, None, json!({
        "channel": "whatsapp", "body": "Your deposit link", "author": "ai", "provider_message_id": "wamid.echo-first"
    }))
    .await;
    assert_eq!(ai.status, 200, "{ai:?}");
    assert_eq!(ai.json()["author"]["kind"], "ai");
    // A known author is never replaced.
    let human = send(&stack, &contact, None, json!({
        "channel": "whatsapp", "body": "x", "author": "human", "provider_message_id": "wamid.echo-first"
    }))
    .await;
    assert_eq!(human.json()["author"]["kind"], "ai");
    let timeline = stack.timeline("salon", &contact, "").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let author_of =
        |wamid: &str| items.iter().find(|i| i["provider_ref"] == wamid).unwrap()["author"].clone();
    assert_eq!(author_of("wamid.echo-first")["kind"], "ai");
    assert_eq!(author_of("wamid.by-a-person"), json!({ "kind": "human" }));
}

#[tokio::test]
async fn bad_sends_are_refused_and_change_nothing() {
    let stack = TestStack::new().await;
    let (_, contact) = maya(&stack).await;
    for (body, field) in [
        (
            json!({ "channel": "fax", "body": "x", "author": "ai" }),
            "channel",
        ),
        (
            json!({ "channel": "sms", "body": " ", "author": "ai" }),
            "body",
        ),
        (
            json!({ "channel": "sms", "body": "x", "author": "robot" }),
            "author",
        ),
        (json!({ "channel": "sms", "body": "x" }), "body"),
    ] {
        let reply = send(&stack, &contact, None, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.content_type, "application/problem+json");
        if field != "body" || body.get("author").is_some() {
            assert_eq!(reply.json()["field"], field, "{body}");
        }
    }
    let other = send(
        &stack,
        "01J00000000000000000000000",
        None,
        json!({ "channel": "sms", "body": "x", "author": "ai" }),
    )
    .await;
    assert_eq!(other.status, 404);
    let rival_auth = format!("Bearer {}", stack.token("rival", "admin"));
    let rival = stack
        .request(
            "POST",
            &format!("/contacts/{contact}/messages"),
            &[("authorization", &rival_auth)],
            json!({ "channel": "sms", "body": "x", "author": "ai" })
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(rival.status, 404);
    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn metrics_count_messages_and_time_the_replies() {
    let stack = TestStack::new().await;
    let (_, contact) = maya(&stack).await; // inbound at 08:14:01
    // The AI answers 90 s later, a person once more without a new question.
    for (key, at) in [
        ("k-a", "2026-10-21T08:15:31Z"),
        ("k-b", "2026-10-21T08:20:00Z"),
    ] {
        let reply = send(
            &stack,
            &contact,
            Some(key),
            json!({
                "channel": "whatsapp", "body": "Yes!", "author": "ai", "sent_at": at
            }),
        )
        .await;
        assert_eq!(reply.status, 201);
    }
    let metrics = stack
        .get(
            &format!("/contacts/{contact}/metrics"),
            &stack.token("salon", "agent"),
        )
        .await
        .json();
    assert_eq!(metrics["messages_in"], 1);
    assert_eq!(metrics["messages_out"], 2);
    assert_eq!(metrics["preferred_channel"], "whatsapp");
    assert_eq!(metrics["response_time"]["replies"], 1);
    assert_eq!(metrics["response_time"]["median_seconds"], 90.0);
    assert_eq!(metrics["last_contact_at"], "2026-10-21T08:20:00Z");
    let score = metrics["engagement_score"].as_u64().unwrap();
    assert!(score <= 100);
}

#[tokio::test]
async fn an_idempotency_key_is_scoped_to_the_contact() {
    let stack = TestStack::new().await;
    let (_, maya) = maya(&stack).await;
    let other = stack.contact_with_phone("salon", "+447700900999").await;
    let first = send(
        &stack,
        &maya,
        Some("same-key"),
        json!({ "channel": "sms", "body": "For Maya", "author": "ai" }),
    )
    .await;
    assert_eq!(first.status, 201, "{first:?}");
    // The same key on another contact is another request, not a replay.
    let second = send(
        &stack,
        &other,
        Some("same-key"),
        json!({ "channel": "sms", "body": "For the other contact", "author": "ai" }),
    )
    .await;
    assert_eq!(second.status, 201, "{second:?}");
    let second = second.json();
    assert_eq!(second["contact_id"], other.as_str());
    assert_eq!(second["body"], "For the other contact");
    assert_ne!(second["event_id"], first.json()["event_id"]);
    let theirs = stack.timeline("salon", &other, "").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    // ... and on the first contact it still replays the first answer.
    let again = send(
        &stack,
        &maya,
        Some("same-key"),
        json!({ "channel": "sms", "body": "For Maya", "author": "ai" }),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["event_id"], first.json()["event_id"]);
}

#[tokio::test]
async fn attachment_urls_must_be_http_or_https() {
    let stack = TestStack::new().await;
    let (_, contact) = maya(&stack).await;
    for url in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,hi",
        "ftp://salon.example/menu.png",
        "//salon.example/menu.png",
        "menu.png",
        "https://",
        "",
    ] {
        let reply = send(
            &stack,
            &contact,
            None,
            json!({ "channel": "whatsapp", "author": "ai",
                    "attachments": [{ "kind": "image", "url": "https://salon.example/ok.png" },
                                    { "kind": "image", "url": url }] }),
        )
        .await;
        assert_eq!(reply.status, 400, "{url}: {reply:?}");
        assert_eq!(reply.content_type, "application/problem+json");
        assert_eq!(reply.json()["field"], "attachments[1].url", "{url}");
    }
    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(
        timeline["items"].as_array().unwrap().len(),
        1,
        "nothing was recorded"
    );
    for url in [
        "https://salon.example/menu.png",
        "HTTP://salon.example/menu.png?size=2",
    ] {
        let reply = send(
            &stack,
            &contact,
            None,
            json!({ "channel": "whatsapp", "author": "ai",
                    "attachments": [{ "kind": "image", "url": url }] }),
        )
        .await;
        assert_eq!(reply.status, 201, "{url}: {reply:?}");
    }
}
