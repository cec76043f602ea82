//! Admin changes in the audit log: connections created and deleted, settings
//! changed; who, when and what, never a secret's value.

use integration_tests::TestStack;
use serde_json::{Value, json};

async fn call(
    stack: &TestStack,
    method: &str,
    path: &str,
    body: Value,
) -> integration_tests::Reply {
    let admin = format!("Bearer {}", stack.token("salon", "admin"));
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    stack
        .request(method, path, &[("authorization", &admin)], body.as_bytes())
        .await
}

async fn audit(stack: &TestStack) -> Vec<Value> {
    let reply = stack.get("/audit", &stack.token("salon", "admin")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn connection_changes_are_audited_without_secret_values() {
    let stack = TestStack::new().await;
    let before = chrono::Utc::now();
    let created = call(
        &stack,
        "POST",
        "/connections",
        json!({
            "provider": "stripe",
            "external_id": "acct_salon",
            "secrets": { "webhook_secret": "whsec_top_secret_value" },
            "config": { "note": "front desk" }
        }),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json()["connection_id"]
        .as_str()
        .unwrap()
        .to_string();
    let postmark = call(
        &stack,
        "POST",
        "/connections",
        json!({ "provider": "postmark" }),
    )
    .await;
    assert_eq!(postmark.status, 201, "{postmark:?}");
    let generated = postmark.json()["generated_secrets"]["basic_password"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = call(&stack, "DELETE", &format!("/connections/{id}"), Value::Null).await;
    assert_eq!(deleted.status, 204);

    let entries = audit(&stack).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains("whsec_top_secret_value"),
        "secret in the audit log: {text}"
    );
    assert!(
        !text.contains(&generated),
        "generated secret in the audit log: {text}"
    );
    // Newest first: the delete, the postmark connection, the stripe one.
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "connection_deleted",
            "connection_created",
            "connection_created"
        ],
        "{text}"
    );
    for entry in &entries {
        assert_eq!(entry["actor_user_id"], "salon-admin");
        let at = chrono::DateTime::parse_from_rfc3339(entry["at"].as_str().unwrap()).unwrap();
        assert!(at >= before, "{entry}");
        assert!(entry.get("contact_id").is_none(), "{entry}");
    }
    let stripe = entries[2]["detail"].as_str().unwrap();
    assert!(
        stripe.contains(&id) && stripe.contains("stripe"),
        "{stripe}"
    );
    assert!(
        stripe.contains("webhook_secret") && stripe.contains("note"),
        "names what was set: {stripe}"
    );
    let deleted = entries[0]["detail"].as_str().unwrap();
    assert!(
        deleted.contains(&id) && deleted.contains("stripe"),
        "{deleted}"
    );

    // A refused delete (no such connection) writes nothing.
    let missing = call(&stack, "DELETE", &format!("/connections/{id}"), Value::Null).await;
    assert_eq!(missing.status, 404);
    assert_eq!(audit(&stack).await.len(), 3);
}

#[tokio::test]
async fn settings_changes_are_audited_with_what_changed() {
    let stack = TestStack::new().await;
    let reply = call(
        &stack,
        "PUT",
        "/settings",
        json!({ "timezone": "Europe/Madrid", "phone_region": "ES" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = call(
        &stack,
        "PUT",
        "/settings",
        json!({ "timezone": "Europe/Madrid", "phone_region": "ES", "stages": ["lead", "won"] }),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Refused: nothing changes, nothing is audited.
    let refused = call(
        &stack,
        "PUT",
        "/settings",
        json!({ "timezone": "Mars/Olympus" }),
    )
    .await;
    assert_eq!(refused.status, 400);

    let entries = audit(&stack).await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for entry in &entries {
        assert_eq!(entry["action"], "settings_changed");
        assert_eq!(entry["actor_user_id"], "salon-admin");
    }
    let first = entries[1]["detail"].as_str().unwrap();
    assert!(
        first.contains("timezone UTC -> Europe/Madrid") && first.contains("phone_region"),
        "{first}"
    );
    assert!(!first.contains("stages"), "stages did not change: {first}");
    let second = entries[0]["detail"].as_str().unwrap();
    assert!(
        second.contains("stages") && second.contains("lead"),
        "{second}"
    );
    assert!(
        !second.contains("timezone"),
        "the timezone did not change: {second}"
    );
}
