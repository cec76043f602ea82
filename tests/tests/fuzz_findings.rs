//! What the contract fuzz (infra/contract-fuzz.sh) found, pinned down:
//! each test is one finding, written to fail before its fix.

use integration_tests::{TestStack, whatsapp_text};
use serde_json::{Value, json};

const MAYA: &str = "447700900123";

/// Three WhatsApp messages at 10:00, 10:02 and 10:04 on 2026-10-21 (UTC).
async fn three_messages(stack: &TestStack) -> String {
    let whatsapp = stack.whatsapp_connection("salon").await;
    for minute in [0, 2, 4] {
        let at = 1_792_576_800 + minute * 60;
        let body = whatsapp_text(&format!("w{minute}"), MAYA, at, &format!("at {minute}"));
        assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    }
    stack.drain().await;
    stack.only_contact("salon").await
}

fn bodies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// GET .../timeline with a cursor whose position lies outside the `from`
/// /`to` range answered 500 (DynamoDB refuses a start key outside the key
/// condition). The cursor is a position: reading on from it within the
/// range gives what the range holds after it.
#[tokio::test]
async fn a_cursor_outside_the_time_range_reads_on_within_the_range() {
    let stack = TestStack::new().await;
    let contact = three_messages(&stack).await;
    let path = format!("/contacts/{contact}/timeline");
    let agent = stack.token("salon", "agent");
    let page = |query: String| {
        let stack = &stack;
        let agent = agent.clone();
        let path = path.clone();
        async move {
            let reply = stack.get(&format!("{path}?{query}"), &agent).await;
            assert_eq!(reply.status, 200, "{query}: {reply:?}");
            reply.json()
        }
    };
    // Newest first, one per page: the cursor sits at 10:04.
    let first = page("limit=1".into()).await;
    assert_eq!(bodies(&first), ["at 4"]);
    let after_newest = first["next_cursor"].as_str().unwrap().to_string();
    // Oldest first: the cursor sits at 10:00.
    let first = page("limit=1&order=oldest".into()).await;
    assert_eq!(bodies(&first), ["at 0"]);
    let after_oldest = first["next_cursor"].as_str().unwrap().to_string();

    let to = "to=2026-10-21T10:02:00Z";
    let from = "from=2026-10-21T10:02:00Z";
    // The range lies wholly after the cursor in reading order: all of it.
    assert_eq!(
        bodies(&page(format!("cursor={after_newest}&{to}")).await),
        ["at 2", "at 0"]
    );
    assert_eq!(
        bodies(&page(format!("cursor={after_oldest}&order=oldest&{from}")).await),
        ["at 2", "at 4"]
    );
    // ... wholly before it: nothing is left.
    let empty = page(format!(
        "cursor={after_oldest}&{to}&from=2026-10-21T10:01:00Z&order=newest"
    ))
    .await;
    assert_eq!(bodies(&empty), Vec::<String>::new());
    assert_eq!(empty["next_cursor"], Value::Null);
    let empty = page(format!(
        "cursor={after_newest}&order=oldest&from=2026-10-21T10:01:00Z&{to}"
    ))
    .await;
    assert_eq!(bodies(&empty), Vec::<String>::new());
    // ... and with a channel filter (the per-channel index) alike.
    assert_eq!(
        bodies(&page(format!("cursor={after_newest}&{to}&channels=whatsapp")).await),
        ["at 2", "at 0"]
    );
}

/// `null` for an optional field was taken as the field left out, though the
/// document gives each a type that is not null: now refused, naming it.
#[tokio::test]
async fn null_is_not_a_value_of_an_optional_field() {
    let stack = TestStack::new().await;
    let contact = three_messages(&stack).await;
    let agent = format!("Bearer {}", stack.token("salon", "agent"));
    let admin = format!("Bearer {}", stack.token("salon", "admin"));
    let messages = format!("/contacts/{contact}/messages");
    let split = format!("/contacts/{contact}/split");
    let cases: Vec<(&str, &str, &String, Value, &str)> = vec![
        (
            "POST",
            &messages,
            &agent,
            json!({ "channel": "sms", "author": "ai", "body": "hi", "sent_at": null }),
            "sent_at",
        ),
        (
            "POST",
            &messages,
            &agent,
            json!({ "channel": "sms", "author": "ai", "body": "hi", "provider_message_id": null }),
            "provider_message_id",
        ),
        (
            "POST",
            &messages,
            &agent,
            json!({ "channel": "sms", "author": "ai", "body": null, "attachments": [{ "kind": "image" }] }),
            "body",
        ),
        (
            "POST",
            &messages,
            &agent,
            json!({ "channel": "sms", "author": "ai", "attachments": [{ "kind": "image", "url": null }] }),
            "attachments[0].url",
        ),
        (
            "POST",
            &messages,
            &agent,
            json!({ "channel": "sms", "author": "ai", "attachments": [{ "kind": "image", "caption": null }] }),
            "attachments[0].caption",
        ),
        (
            "PUT",
            "/settings",
            &admin,
            json!({ "timezone": "UTC", "stages": null }),
            "stages",
        ),
        (
            "PUT",
            "/settings",
            &admin,
            json!({ "timezone": "UTC", "phone_region": null }),
            "phone_region",
        ),
        (
            "POST",
            "/connections",
            &admin,
            json!({ "provider": "calcom", "connected_at": null }),
            "connected_at",
        ),
        (
            "POST",
            "/connections",
            &admin,
            json!({ "provider": "calcom", "external_id": null }),
            "external_id",
        ),
        (
            "POST",
            &split,
            &agent,
            json!({ "identities": [{ "kind": "phone", "value": "+447700900123" }], "display_name": null }),
            "display_name",
        ),
    ];
    for (method, path, auth, body, field) in cases {
        let reply = stack
            .request(
                method,
                path,
                &[("authorization", auth)],
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!(reply.status, 400, "{method} {path} {body}: {reply:?}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    // Nothing was written.
    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 3);
    let connections = stack
        .get("/connections", &stack.token("salon", "admin"))
        .await
        .json();
    let providers: Vec<&str> = connections["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["provider"].as_str())
        .collect();
    assert_eq!(providers, ["whatsapp"], "only the test's own connection");
    let settings = stack
        .get("/settings", &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(settings["timezone"], "UTC");
    assert!(settings.get("phone_region").is_none());
}
