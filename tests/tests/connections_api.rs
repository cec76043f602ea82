//! Registering and removing channel connections (admins only).

use integration_tests::{TestStack, fixture};
use serde_json::json;

#[tokio::test]
async fn admin_registers_lists_and_disconnects_a_channel() {
    let stack = TestStack::new().await;
    let admin = format!("Bearer {}", stack.token("salon", "admin"));
    let body = json!({
        "provider": "whatsapp",
        "external_id": "110923456789012",
        "secrets": { "app_secret": "test_secret" },
        "connected_at": "2026-01-01T00:00:00Z"
    });
    let created = stack
        .request(
            "POST",
            "/connections",
            &[("authorization", &admin), ("host", "api.salon.test")],
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let created = created.json();
    let id = created["connection_id"].as_str().unwrap().to_string();
    assert_eq!(
        created["webhook_url"],
        format!("http://api.salon.test/webhooks/whatsapp/{id}")
    );
    let verify_token = created["generated_secrets"]["verify_token"]
        .as_str()
        .unwrap();
    assert!(
        !created.to_string().contains("test_secret"),
        "app secret echoed"
    );

    // The generated verify token completes Meta's handshake.
    let handshake = stack
        .request(
            "GET",
            &format!("/webhooks/whatsapp/{id}?hub.mode=subscribe&hub.challenge=42&hub.verify_token={verify_token}"),
            &[],
            b"",
        )
        .await;
    assert_eq!(&handshake.body[..], b"42");

    let listed = stack
        .get("/connections", &stack.token("salon", "admin"))
        .await
        .json();
    let listed = listed.to_string();
    assert!(listed.contains(&id));
    assert!(
        !listed.contains("test_secret") && !listed.contains(verify_token),
        "secrets listed"
    );

    // The webhook works, then stops working once disconnected.
    let delivered = stack
        .post_whatsapp(&id, &fixture("whatsapp/text_message.json"))
        .await;
    assert_eq!(delivered.status, 200);
    let rival = stack
        .request(
            "DELETE",
            &format!("/connections/{id}"),
            &[(
                "authorization",
                &format!("Bearer {}", stack.token("rival", "admin")),
            )],
            b"",
        )
        .await;
    assert_eq!(rival.status, 404, "another tenant cannot disconnect it");
    let deleted = stack
        .request(
            "DELETE",
            &format!("/connections/{id}"),
            &[("authorization", &admin)],
            b"",
        )
        .await;
    assert_eq!(deleted.status, 204);
    let after = stack
        .post_whatsapp(&id, &fixture("whatsapp/text_message.json"))
        .await;
    assert_eq!(after.status, 404);
    assert_eq!(
        stack.queue_depth("IngestQueue").await,
        1,
        "only the delivery before"
    );
}

#[tokio::test]
async fn connections_are_admin_only_and_validated() {
    let stack = TestStack::new().await;
    let agent = stack.token("salon", "agent");
    let admin = stack.token("salon", "admin");
    let body = json!({ "provider": "sms", "secrets": { "auth_token": "t" } });
    let reply = stack.post_json("/connections", &agent, body).await;
    assert_eq!(reply.status, 403);
    assert_eq!(stack.get("/connections", &agent).await.status, 403);

    for (body, field) in [
        (json!({ "provider": "fax" }), "provider"),
        (json!({ "provider": "sms" }), "secrets.auth_token"),
        (json!({ "provider": "chat" }), "config.allowed_origins"),
        (
            json!({ "provider": "whatsapp", "secrets": { "app_secret": "s" }, "colour": "red" }),
            "colour",
        ),
    ] {
        let reply = stack.post_json("/connections", &admin, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    let listed = stack.get("/connections", &admin).await.json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn history_before_connected_at_is_not_imported() {
    let stack = TestStack::new().await;
    let admin = stack.token("salon", "admin");
    let body = json!({
        "provider": "whatsapp",
        "external_id": "110923456789012",
        "secrets": { "app_secret": "test_secret" },
        "connected_at": "2026-10-21T08:15:00Z"
    });
    let created = stack.post_json("/connections", &admin, body).await.json();
    let id = created["connection_id"].as_str().unwrap();
    // 08:14:01 is before the connection, 08:15:27 after it.
    stack
        .post_whatsapp(id, &fixture("whatsapp/text_message.json"))
        .await;
    stack
        .post_whatsapp(id, &fixture("whatsapp/image_message.json"))
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let items = stack.timeline("salon", &contact, "").await["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["occurred_at"], "2026-10-21T08:15:27Z");
}

#[tokio::test]
async fn unusable_secret_and_setting_names_are_refused_and_nothing_is_written() {
    let stack = TestStack::new().await;
    let admin = stack.token("salon", "admin");
    let many: serde_json::Map<String, serde_json::Value> =
        (0..21).map(|i| (format!("key_{i}"), json!("v"))).collect();
    for (body, field) in [
        (
            json!({ "provider": "calcom", "config": { "": "x" } }),
            "config",
        ),
        (
            json!({ "provider": "calcom", "secrets": { "": "x" } }),
            "secrets",
        ),
        (
            json!({ "provider": "calcom", "config": { "k".repeat(65): "x" } }),
            "config",
        ),
        (
            json!({ "provider": "calcom", "secrets": { "webhook_secret": "s".repeat(4097) } }),
            "secrets.webhook_secret",
        ),
        (json!({ "provider": "calcom", "config": many }), "config"),
        (
            json!({ "provider": "calcom", "external_id": "e".repeat(257) }),
            "external_id",
        ),
    ] {
        let reply = stack.post_json("/connections", &admin, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(reply.content_type, "application/problem+json");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    let listed = stack.get("/connections", &admin).await.json();
    assert_eq!(listed["items"], json!([]), "nothing was created");
    let audit = stack.get("/audit", &admin).await.json();
    assert_eq!(audit["items"], json!([]), "nothing was audited");
}
