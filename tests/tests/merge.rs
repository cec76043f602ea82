//! Staff merging two contacts of one person.

use integration_tests::{TestStack, fixture};
use serde_json::json;
use shared::model::Provider;

#[tokio::test]
async fn merging_joins_timelines_identities_and_counters_and_is_audited() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let instagram = stack.connection("salon", Provider::Instagram).await;
    stack
        .post_instagram(&instagram, &fixture("instagram/message.json"))
        .await;
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let admin = stack.token("salon", "admin");
    let contacts = stack.get("/contacts", &admin).await.json();
    let ids: Vec<String> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    // Newest activity first: WhatsApp (21 Oct), then Instagram (20 Oct).
    let (maya, instagram_contact) = (&ids[0], &ids[1]);

    let merge = |into: &str, body: serde_json::Value, token: String| {
        let path = format!("/contacts/{into}/merge");
        let stack = &stack;
        async move {
            let auth = format!("Bearer {token}");
            stack
                .request(
                    "POST",
                    &path,
                    &[("authorization", &auth)],
                    body.to_string().as_bytes(),
                )
                .await
        }
    };
    let rival = merge(
        maya,
        json!({ "contact_id": instagram_contact }),
        stack.token("rival", "admin"),
    )
    .await;
    assert_eq!(rival.status, 404);
    let itself = merge(
        maya,
        json!({ "contact_id": maya }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(itself.status, 400);
    assert_eq!(itself.json()["field"], "contact_id");

    let merged = merge(
        maya,
        json!({ "contact_id": instagram_contact }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(merged.status, 200, "{merged:?}");
    let merged = merged.json();
    assert_eq!(merged["change"]["type"], "identity_link");
    assert_eq!(merged["change"]["identities"][0]["kind"], "instagram_id");
    let kinds = merged["contact"]["identities"].to_string();
    assert!(
        kinds.contains("instagram_id") && kinds.contains("phone"),
        "{kinds}"
    );

    assert_eq!(stack.only_contact("salon").await, *maya);
    let timeline = stack.timeline("salon", maya, "?order=oldest").await;
    let summary: Vec<String> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["channel"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        summary,
        ["message:instagram", "message:whatsapp", "identity_link:-"]
    );
    let counters = stack.store().metric_counters("salon", maya).await.unwrap();
    assert_eq!(counters["messages_in"], 2);
    assert_eq!(counters["channel_instagram"], 1);

    // Later Instagram messages land on the merged contact.
    stack
        .post_instagram(&instagram, &fixture("instagram/image_message.json"))
        .await;
    stack.drain().await;
    assert_eq!(stack.only_contact("salon").await, *maya);

    // Merging a contact that no longer exists: 404.
    let again = merge(
        maya,
        json!({ "contact_id": instagram_contact }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(again.status, 404);

    let audit = stack.get("/audit", &admin).await.json();
    assert_eq!(audit["items"][0]["action"], "merge");
    assert_eq!(audit["items"][0]["actor_user_id"], "salon-agent");
    assert_eq!(
        stack
            .get("/audit", &stack.token("salon", "agent"))
            .await
            .status,
        403
    );
    assert_eq!(
        stack
            .get("/audit", &stack.token("rival", "admin"))
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
