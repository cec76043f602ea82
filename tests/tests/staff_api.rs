//! Settings, internal notes and lead stages.

use integration_tests::{TestStack, fixture};
use serde_json::json;

async fn maya(stack: &TestStack) -> String {
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    stack.only_contact("salon").await
}

async fn call(
    stack: &TestStack,
    method: &str,
    path: &str,
    role: &str,
    body: serde_json::Value,
) -> integration_tests::Reply {
    let auth = format!("Bearer {}", stack.token("salon", role));
    stack
        .request(
            method,
            path,
            &[("authorization", &auth)],
            body.to_string().as_bytes(),
        )
        .await
}

#[tokio::test]
async fn the_timezone_changes_how_times_show_never_their_order() {
    let stack = TestStack::new().await;
    let contact = maya(&stack).await;
    let defaults = stack
        .get("/settings", &stack.token("salon", "agent"))
        .await
        .json();
    assert_eq!(defaults["timezone"], "UTC");
    assert_eq!(defaults["stages"][0], "new");

    let forbidden = call(
        &stack,
        "PUT",
        "/settings",
        "agent",
        json!({ "timezone": "Europe/London" }),
    )
    .await;
    assert_eq!(forbidden.status, 403);
    for (body, field) in [
        (json!({ "timezone": "Europe/Atlantis" }), "timezone"),
        (
            json!({ "timezone": "UTC", "phone_region": "ZZ" }),
            "phone_region",
        ),
        (
            json!({ "timezone": "UTC", "stages": ["new", "new"] }),
            "stages",
        ),
        (json!({ "zone": "UTC" }), "zone"),
    ] {
        let reply = call(&stack, "PUT", "/settings", "admin", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    assert_eq!(
        stack
            .get("/settings", &stack.token("salon", "admin"))
            .await
            .json()["timezone"],
        "UTC"
    );

    let before = stack.timeline("salon", &contact, "").await;
    let saved = call(
        &stack,
        "PUT",
        "/settings",
        "admin",
        json!({ "timezone": "America/New_York", "phone_region": "us" }),
    )
    .await;
    assert_eq!(saved.status, 200, "{saved:?}");
    assert_eq!(saved.json()["phone_region"], "US");
    let after = stack.timeline("salon", &contact, "").await;
    assert_eq!(
        after["items"][0]["event_id"],
        before["items"][0]["event_id"]
    );
    assert_eq!(after["items"][0]["occurred_at"], "2026-10-21T08:14:01Z");
    assert_eq!(after["items"][0]["local_time"], "2026-10-21T04:14:01-04:00");
}

#[tokio::test]
async fn staff_notes_go_on_the_timeline() {
    let stack = TestStack::new().await;
    let contact = maya(&stack).await;
    let path = format!("/contacts/{contact}/notes");
    let note = call(
        &stack,
        "POST",
        &path,
        "agent",
        json!({ "body": "Prefers Saturday mornings" }),
    )
    .await;
    assert_eq!(note.status, 201, "{note:?}");
    assert_eq!(note.json()["type"], "note");
    assert_eq!(note.json()["author_user_id"], "salon-agent");
    let blank = call(&stack, "POST", &path, "agent", json!({ "body": "  " })).await;
    assert_eq!(blank.status, 400);
    assert_eq!(blank.json()["field"], "body");
    let rival_auth = format!("Bearer {}", stack.token("rival", "admin"));
    let rival = stack
        .request(
            "POST",
            &path,
            &[("authorization", &rival_auth)],
            br#"{"body":"x"}"#,
        )
        .await;
    assert_eq!(rival.status, 404);
    let timeline = stack.timeline("salon", &contact, "").await;
    let kinds: Vec<_> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("note"), json!("message")]);
}

#[tokio::test]
async fn stage_changes_are_recorded_with_who_and_when() {
    let stack = TestStack::new().await;
    let contact = maya(&stack).await;
    let path = format!("/contacts/{contact}/stage");
    let first = call(
        &stack,
        "PUT",
        &path,
        "agent",
        json!({ "stage": "contacted" }),
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["contact"]["stage"], "contacted");
    let second = call(&stack, "PUT", &path, "agent", json!({ "stage": "booked" })).await;
    assert_eq!(second.json()["change"]["from"], "contacted");
    let same = call(&stack, "PUT", &path, "agent", json!({ "stage": "booked" })).await;
    assert_eq!(same.status, 200);
    assert!(same.json()["change"].is_null(), "no change, no event");
    let unknown = call(&stack, "PUT", &path, "agent", json!({ "stage": "vip" })).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["field"], "stage");

    let timeline = stack.timeline("salon", &contact, "").await;
    let changes: Vec<_> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "stage_change")
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["to"], "booked");
    assert_eq!(changes[0]["by_user_id"], "salon-agent");
    assert!(changes[1].get("from").is_none());
}

#[tokio::test]
async fn contacts_are_found_by_name_phone_or_email() {
    let stack = TestStack::new().await;
    let contact = maya(&stack).await;
    let postmark = stack
        .connection("salon", shared::model::Provider::Postmark)
        .await;
    stack
        .post_postmark(
            &postmark,
            integration_tests::APP_SECRET,
            &fixture("postmark/inbound.json"),
        )
        .await;
    stack.drain().await;
    let admin = stack.token("salon", "admin");
    call(
        &stack,
        "PUT",
        "/settings",
        "admin",
        json!({ "timezone": "Europe/London", "phone_region": "GB" }),
    )
    .await;
    let ids = |reply: serde_json::Value| -> Vec<String> {
        reply["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contact_id"].as_str().unwrap().to_string())
            .collect()
    };
    for q in [
        "lopez",
        "L%C3%B3pez",
        "MAYA",
        "07700%20900123",
        "%2B44%207700%20900123",
    ] {
        let found = ids(stack.get(&format!("/contacts?q={q}"), &admin).await.json());
        assert!(found.contains(&contact), "q={q}: {found:?}");
    }
    let by_email = ids(stack
        .get("/contacts?q=MAYA.LOPEZ%40example.com", &admin)
        .await
        .json());
    assert_eq!(
        by_email.len(),
        1,
        "{:?}",
        stack
            .get("/contacts?q=MAYA.LOPEZ%40example.com", &admin)
            .await
            .json()
    );
    assert_ne!(
        by_email[0], contact,
        "the email belongs to the Postmark contact"
    );
    assert!(ids(stack.get("/contacts?q=nobody", &admin).await.json()).is_empty());
    assert!(
        ids(stack
            .get("/contacts?q=lopez", &stack.token("rival", "admin"))
            .await
            .json())
        .is_empty()
    );
}
