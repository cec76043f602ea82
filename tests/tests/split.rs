//! Staff splitting a contact, and so undoing a merge: identities and the
//! events that arrived through them move to a new contact, metrics follow.

use integration_tests::{Reply, TestStack, fixture, whatsapp_echo, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;

const PHONE: &str = "447700900123";
const INSTAGRAM_USER: &str = "1203956471823346";
/// The Instagram fixture's message time, in seconds.
const INSTAGRAM_AT: f64 = 1_792_515_731.482;
const WHATSAPP_AT: i64 = 1_792_600_000;

async fn post(stack: &TestStack, path: &str, token: &str, body: Value) -> Reply {
    let auth = format!("Bearer {token}");
    stack
        .request(
            "POST",
            path,
            &[("authorization", &auth)],
            body.to_string().as_bytes(),
        )
        .await
}

fn kinds(view: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = view["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

/// `type:channel[:action]` of each timeline item, oldest first.
async fn summary(stack: &TestStack, contact: &str) -> Vec<String> {
    stack.timeline("salon", contact, "?order=oldest").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut s = format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["channel"].as_str().unwrap_or("-")
            );
            if let Some(action) = e["action"].as_str() {
                s.push_str(&format!(":{action}"));
            }
            s
        })
        .collect()
}

async fn metrics(stack: &TestStack, contact: &str, token: &str) -> Value {
    let reply = stack
        .get(&format!("/contacts/{contact}/metrics"), token)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// Maya's Instagram contact merged into her WhatsApp one, optionally with
/// a WhatsApp reply 5 minutes after her question. Returns (Maya, the merged
/// Instagram contact, the Instagram connection).
async fn merged_maya(stack: &TestStack, reply: bool) -> (String, String, String) {
    let whatsapp = stack.whatsapp_connection("salon").await;
    let instagram = stack.connection("salon", Provider::Instagram).await;
    stack
        .post_instagram(&instagram, &fixture("instagram/message.json"))
        .await;
    stack
        .post_whatsapp(
            &whatsapp,
            &whatsapp_text("wamid.s1", PHONE, WHATSAPP_AT, "Can I book for Saturday?"),
        )
        .await;
    if reply {
        stack
            .post_whatsapp(
                &whatsapp,
                &whatsapp_echo("wamid.s2", PHONE, WHATSAPP_AT + 300, "Yes, 10:00?"),
            )
            .await;
    }
    stack.drain().await;
    let agent = stack.token("salon", "agent");
    let contacts = stack.get("/contacts", &agent).await.json();
    // Newest activity first: WhatsApp, then Instagram.
    let id = |i: usize| {
        contacts["items"][i]["contact_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (maya, instagram_contact) = (id(0), id(1));
    let merged = post(
        stack,
        &format!("/contacts/{maya}/merge"),
        &agent,
        json!({ "contact_id": instagram_contact }),
    )
    .await;
    assert_eq!(merged.status, 200, "{merged:?}");
    (maya, instagram_contact, instagram)
}

#[tokio::test]
async fn a_merge_split_back_restores_both_contacts_and_their_metrics() {
    let stack = TestStack::new().await;
    let (maya, _, instagram) = merged_maya(&stack, true).await;
    let agent = stack.token("salon", "agent");
    // One run of inbound messages (Instagram first) answered on WhatsApp.
    let m = metrics(&stack, &maya, &agent).await;
    assert_eq!(m["messages_in"], 2);
    assert_eq!(m["response_time"]["replies"], 1);
    let merged_delay = (WHATSAPP_AT + 300) as f64 - INSTAGRAM_AT;
    let mean = m["response_time"]["mean_seconds"].as_f64().unwrap();
    assert!((mean - merged_delay).abs() < 1e-6, "{m}");

    let path = format!("/contacts/{maya}/split");
    let instagram_identity = json!({ "kind": "instagram_id", "value": INSTAGRAM_USER });
    // Bad requests change nothing.
    for (body, field) in [
        (json!({ "identities": [] }), "identities"),
        (
            json!({ "identities": [{ "kind": "email", "value": "nobody@example.com" }] }),
            "identities",
        ),
        (
            json!({ "identities": [instagram_identity, { "kind": "phone", "value": "+447700900123" }] }),
            "identities",
        ),
        (
            json!({ "identities": [instagram_identity], "display_name": " " }),
            "display_name",
        ),
    ] {
        let reply = post(&stack, &path, &agent, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    let rival = post(
        &stack,
        &path,
        &stack.token("rival", "admin"),
        json!({ "identities": [instagram_identity] }),
    )
    .await;
    assert_eq!(rival.status, 404);
    let view = stack.get(&format!("/contacts/{maya}"), &agent).await.json();
    assert_eq!(kinds(&view), ["instagram_id", "phone"]);

    let split = post(
        &stack,
        &path,
        &agent,
        json!({ "identities": [instagram_identity], "display_name": "Maya (Instagram)" }),
    )
    .await;
    assert_eq!(split.status, 201, "{split:?}");
    let split = split.json();
    let new_contact = split["contact"]["contact_id"].as_str().unwrap().to_string();
    assert_ne!(new_contact, maya);
    assert_eq!(split["contact"]["display_name"], "Maya (Instagram)");
    assert_eq!(kinds(&split["contact"]), ["instagram_id"]);
    assert_eq!(kinds(&split["source"]), ["phone"]);
    assert_eq!(split["change"]["action"], "split");
    assert_eq!(split["change"]["other_contact_id"], new_contact.as_str());

    // Each event went back with the identity it arrived through; the
    // identity changes stay on the record.
    assert_eq!(
        summary(&stack, &maya).await,
        [
            "message:whatsapp",
            "message:whatsapp",
            "identity_link:-:merge",
            "identity_link:-:split"
        ]
    );
    assert_eq!(
        summary(&stack, &new_contact).await,
        ["message:instagram", "identity_link:-:split_from"]
    );

    // Metrics are what each history alone gives.
    let m = metrics(&stack, &maya, &agent).await;
    assert_eq!(
        (m["messages_in"].as_i64(), m["messages_out"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(m["response_time"]["replies"], 1);
    assert_eq!(m["response_time"]["median_seconds"], 300.0);
    let m = metrics(&stack, &new_contact, &agent).await;
    assert_eq!(m["messages_in"], 1);
    assert_eq!(m["messages_out"], 0);
    assert_eq!(m["response_time"]["replies"], 0);
    assert_eq!(m["preferred_channel"], "instagram");

    // Later Instagram messages land on the new contact.
    stack
        .post_instagram(&instagram, &fixture("instagram/image_message.json"))
        .await;
    stack.drain().await;
    assert_eq!(summary(&stack, &new_contact).await.len(), 3);
    assert_eq!(summary(&stack, &maya).await.len(), 4);

    let audit = stack
        .get("/audit", &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(audit["items"][0]["action"], "split");
    assert_eq!(audit["items"][0]["contact_id"], maya.as_str());
    assert_eq!(audit["items"][1]["action"], "merge");
}

#[tokio::test]
async fn a_split_cut_short_is_finished_by_its_retry() {
    let stack = TestStack::new().await;
    let (maya, _, _) = merged_maya(&stack, false).await;
    let agent = stack.token("salon", "agent");

    // The moves happen, then the process dies before the split is recorded.
    let identity = shared::identity::Identity {
        kind: shared::identity::IdentityKind::InstagramId,
        value: INSTAGRAM_USER.into(),
    };
    let partial = stack
        .store()
        .split_contact("salon", &maya, std::slice::from_ref(&identity), None)
        .await
        .unwrap();
    let listed = stack.get("/contacts", &agent).await.json();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "unfinished: not listed"
    );
    assert_eq!(summary(&stack, &partial).await, ["message:instagram"]);

    let path = format!("/contacts/{maya}/split");
    let body = json!({ "identities": [{ "kind": "instagram_id", "value": INSTAGRAM_USER }] });
    let retry = post(&stack, &path, &agent, body.clone()).await;
    assert_eq!(retry.status, 201, "{retry:?}");
    assert_eq!(retry.json()["contact"]["contact_id"], partial.as_str());
    assert_eq!(
        summary(&stack, &partial).await,
        ["message:instagram", "identity_link:-:split_from"]
    );
    let listed = stack.get("/contacts", &agent).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    // Finished: the same request again is refused and changes nothing.
    let again = post(&stack, &path, &agent, body).await;
    assert_eq!(again.status, 400, "{again:?}");
    assert_eq!(
        summary(&stack, &maya)
            .await
            .iter()
            .filter(|s| s.ends_with(":split"))
            .count(),
        1
    );
    let audit = stack
        .get("/audit", &stack.token("salon", "admin"))
        .await
        .json();
    let splits = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "split")
        .count();
    assert_eq!(splits, 1);
    let m = metrics(&stack, &partial, &agent).await;
    assert_eq!(m["messages_in"], 1);
}
