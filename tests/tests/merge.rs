//! Staff merging two contacts of one person; a merge cut short is finished
//! by repeating it, and deliveries racing it land on the surviving contact.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::faults::{Faults, When};
use integration_tests::{Reply, TestStack, fixture, sqs_event};
use serde_json::{Value, json};
use shared::keys;
use shared::model::Provider;
use shared::normalize::{self, BatchLimits, NormalizeDeps};
use shared::store::Store;

const INSTAGRAM_USER: &str = "1203956471823346";

#[tokio::test]
async fn merging_joins_timelines_identities_and_counters_and_is_audited() {
    let stack = TestStack::new().await;
    let ((maya, instagram_contact), (_, instagram)) = two_contacts(&stack, "salon").await;
    let admin = stack.token("salon", "admin");

    let merge = |into: &str, body: serde_json::Value, token: String| {
        let path = format!("/contacts/{into}/merge");
        let stack = &stack;
        async move { stack.post_json(&path, &token, body).await }
    };
    let rival = merge(
        &maya,
        json!({ "contact_id": instagram_contact }),
        stack.token("rival", "admin"),
    )
    .await;
    assert_eq!(rival.status, 404);
    let itself = merge(
        &maya,
        json!({ "contact_id": maya }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(itself.status, 400);
    assert_eq!(itself.json()["field"], "contact_id");

    let merged = merge(
        &maya,
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

    assert_eq!(stack.only_contact("salon").await, maya);
    let timeline = stack.timeline("salon", &maya, "?order=oldest").await;
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
    let counters = stack.store().metric_counters("salon", &maya).await.unwrap();
    assert_eq!(counters["messages_in"], 2);
    assert_eq!(counters["channel_instagram"], 1);

    // Later Instagram messages land on the merged contact.
    stack
        .post_instagram(&instagram, &fixture("instagram/image_message.json"))
        .await;
    stack.drain().await;
    assert_eq!(stack.only_contact("salon").await, maya);

    // Repeating a merge that completed answers what it answered the first
    // time, and records nothing more.
    let again = merge(
        &maya,
        json!({ "contact_id": instagram_contact }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json()["change"], merged["change"]);
    let links = stack.timeline("salon", &maya, "").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "identity_link")
        .count();
    assert_eq!(links, 1);
    // The merged-away contact is gone, so nothing else merges it.
    let elsewhere = merge(
        &stack.only_contact("salon").await,
        json!({ "contact_id": ulid::Ulid::new().to_string() }),
        stack.token("salon", "agent"),
    )
    .await;
    assert_eq!(elsewhere.status, 404);

    let audit = stack.get("/audit", &admin).await.json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
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

/// A second message from the Instagram user of the fixtures.
fn instagram_message(mid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{
            "time": 1_792_700_000_000_i64,
            "id": "17841405822304914",
            "messaging": [{
                "sender": { "id": INSTAGRAM_USER },
                "recipient": { "id": "17841405822304914" },
                "timestamp": 1_792_700_000_000_i64,
                "message": { "mid": mid, "text": "Is Saturday still free?" }
            }]
        }]
    }))
    .unwrap()
}

/// Maya's two contacts in `tenant`, one per channel: (WhatsApp, Instagram).
/// Returns the connections too: (whatsapp, instagram).
async fn two_contacts(stack: &TestStack, tenant: &str) -> ((String, String), (String, String)) {
    let whatsapp = stack.whatsapp_connection(tenant).await;
    let instagram = stack.connection(tenant, Provider::Instagram).await;
    stack
        .post_instagram(&instagram, &fixture("instagram/message.json"))
        .await;
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let ids = stack.contact_ids(tenant).await;
    assert_eq!(ids.len(), 2);
    // Newest activity first: WhatsApp (21 Oct), then Instagram (20 Oct).
    ((ids[0].clone(), ids[1].clone()), (whatsapp, instagram))
}

async fn merge_api(stack: &TestStack, tenant: &str, into: &str, from: &str) -> Reply {
    stack
        .post_json(
            &format!("/contacts/{into}/merge"),
            &stack.token(tenant, "agent"),
            json!({ "contact_id": from }),
        )
        .await
}

/// The sort keys of every item a contact still has: its partition and its
/// search postings' partitions.
async fn items_of(stack: &TestStack, tenant: &str, contact: &str) -> Vec<String> {
    let pk = keys::contact_pk(tenant, contact);
    let mut found = Vec::new();
    for item in stack.items_with_pk_prefix(&pk).await {
        let key = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => v.clone(),
            _ => String::new(),
        };
        // Another contact whose id merely starts with this one's is not it.
        let (item_pk, sk) = (key("pk"), key("sk"));
        if item_pk == pk || item_pk.starts_with(&format!("{pk}#")) {
            found.push(format!("{}{sk}", &item_pk[pk.len()..]));
        }
    }
    found
}

/// After a merge of `from` into `into` (with one more Instagram message
/// from `from`'s user delivered meanwhile): everything is on `into`, once.
async fn assert_merged_once(stack: &TestStack, tenant: &str, into: &str, from: &str) {
    assert_eq!(stack.only_contact(tenant).await, into);
    let timeline = stack.timeline(tenant, into, "?order=oldest").await;
    let items = timeline["items"].as_array().unwrap();
    let of_type = |t: &str| items.iter().filter(|e| e["type"] == t).count();
    assert_eq!(of_type("message"), 3, "{timeline}");
    assert_eq!(
        of_type("identity_link"),
        1,
        "one record of the merge: {timeline}"
    );
    let link = items.iter().find(|e| e["type"] == "identity_link").unwrap();
    assert_eq!(link["other_contact_id"], from);
    assert_eq!(link["identities"][0]["kind"], "instagram_id", "{link}");
    let audit = stack
        .get("/audit", &stack.token(tenant, "admin"))
        .await
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    let counters = stack.store().metric_counters(tenant, into).await.unwrap();
    assert_eq!(counters["messages_in"], 3);
    // The merged-away contact keeps only the record of where it went.
    assert_eq!(items_of(stack, tenant, from).await, ["METRICS"]);
    let gone = stack
        .get(&format!("/contacts/{from}"), &stack.token(tenant, "admin"))
        .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn a_merge_cut_short_at_any_write_is_finished_by_repeating_it() {
    let stack = TestStack::new().await;
    let faults = Faults::new();
    let faulty = Store::new(faults.dynamodb(), stack.local.table.clone());
    for cut in 0.. {
        assert!(cut < 100, "a merge never finished");
        let tenant = format!("cut{cut}");
        let ((maya, instagram_contact), (_, instagram)) = two_contacts(&stack, &tenant).await;
        // The merge's first `cut` writes reach the table, then it fails.
        faults.clear();
        faults.fail_after(When::DynamoWrite, cut);
        let first = faulty
            .merge_by_staff(
                &tenant,
                &maya,
                &instagram_contact,
                &format!("{tenant}-agent"),
            )
            .await;
        faults.clear();
        // Maya writes on Instagram while the merge is half done.
        stack
            .post_instagram(&instagram, &instagram_message(&format!("m_{cut}")))
            .await;
        stack.drain().await;
        // Staff repeat the merge: it completes, and repeating it again changes nothing.
        let finished = merge_api(&stack, &tenant, &maya, &instagram_contact).await;
        assert_eq!(finished.status, 200, "cut after {cut} writes: {finished:?}");
        let repeated = merge_api(&stack, &tenant, &maya, &instagram_contact).await;
        assert_eq!(repeated.status, 200, "cut after {cut} writes: {repeated:?}");
        assert_eq!(repeated.json()["change"], finished.json()["change"]);
        assert_merged_once(&stack, &tenant, &maya, &instagram_contact).await;
        if first.is_ok() {
            // `cut` writes were enough: every earlier cut point was tried.
            println!("a merge makes {cut} writes; each cut point finished on retry");
            break;
        }
    }
}

#[tokio::test]
async fn a_delivery_racing_a_merge_lands_on_the_surviving_contact() {
    let stack = TestStack::new().await;
    let ((maya, instagram_contact), (_, instagram)) = two_contacts(&stack, "salon").await;
    stack
        .post_instagram(&instagram, &instagram_message("m_race"))
        .await;
    let received = stack.receive_ingest(1).await;
    assert_eq!(received.len(), 1);
    let event = sqs_event(received);

    // Normalize resolves the message to the Instagram contact, and its write
    // is held back until the merge has run to the end.
    let faults = Faults::new();
    let gate = faults.hold_once(When::DynamoWriteContaining("m_race".into()));
    let deps = NormalizeDeps {
        store: Store::new(faults.dynamodb(), stack.local.table.clone()),
        deliveries: stack.ingest_queue(stack.clients.s3.clone()),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (response, merged) = tokio::join!(
        normalize::handle_batch(&deps, event, deadline, BatchLimits::default()),
        async {
            gate.reached().await;
            let merged = merge_api(&stack, "salon", &maya, &instagram_contact).await;
            gate.open();
            merged
        }
    );
    assert_eq!(merged.status, 200, "{merged:?}");
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let timeline: Value = stack.timeline("salon", &maya, "?order=oldest").await;
    let mids: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["provider_ref"].as_str())
        .collect();
    assert!(mids.contains(&"m_race"), "{timeline}");
    assert_eq!(
        items_of(&stack, "salon", &instagram_contact).await,
        ["METRICS"]
    );
    let counters = stack.store().metric_counters("salon", &maya).await.unwrap();
    assert_eq!(counters["messages_in"], 3);
}
