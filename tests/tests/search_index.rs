//! Message search through the word index: words and word beginnings, newest
//! first, paged; an unsent message leaves no trace of its words anywhere;
//! a merge moves the index with the messages.

use integration_tests::{TestStack, whatsapp_text};
use serde_json::{Value, json};
use shared::model::Provider;

const PHONE: &str = "447700900123";
const INSTAGRAM_USER: &str = "1203956471823346";

fn instagram(messaging: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{ "time": 1, "id": "17841405822304914", "messaging": [messaging] }]
    }))
    .unwrap()
}

fn instagram_text(mid: &str, at_ms: i64, text: &str) -> Vec<u8> {
    instagram(json!({
        "sender": { "id": INSTAGRAM_USER }, "recipient": { "id": "17841405822304914" },
        "timestamp": at_ms, "message": { "mid": mid, "text": text }
    }))
}

fn bodies(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn search(stack: &TestStack, contact: &str, query: &str) -> Value {
    let reply = stack
        .get(
            &format!("/contacts/{contact}/messages?{query}"),
            &stack.token("salon", "agent"),
        )
        .await;
    assert_eq!(reply.status, 200, "{query}: {reply:?}");
    reply.json()
}

#[tokio::test]
async fn search_finds_words_and_beginnings_newest_first_in_pages() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let start = 1_792_600_000;
    // Many messages that do not match, around three that do.
    for i in 0..40 {
        let text = match i {
            3 => "Can I book balayage for Saturday?".to_string(),
            20 => "Balayage again next month please".to_string(),
            37 => "Is the balayage booking still on?".to_string(),
            _ => format!("Message number {i}, nothing to see"),
        };
        stack
            .post_whatsapp(
                &whatsapp,
                &whatsapp_text(&format!("wamid.q{i}"), PHONE, start + i * 60, &text),
            )
            .await;
    }
    stack.drain().await;
    let contact = stack.only_contact("salon").await;

    let found = search(&stack, &contact, "q=BALAY").await;
    assert_eq!(
        bodies(&found),
        [
            "Is the balayage booking still on?",
            "Balayage again next month please",
            "Can I book balayage for Saturday?"
        ]
    );
    // The typed beginning is what is marked.
    assert_eq!(found["items"][1]["matches"], json!([[0, 5]]));
    // Word beginnings only: "ook" is inside "book", not the start of a word.
    assert_eq!(bodies(&search(&stack, &contact, "q=ook").await).len(), 0);
    let phrase = search(&stack, &contact, "q=%22balayage+booking%22").await;
    assert_eq!(bodies(&phrase), ["Is the balayage booking still on?"]);
    // Both words, in any order.
    let both = search(&stack, &contact, "q=saturday+balayage").await;
    assert_eq!(bodies(&both), ["Can I book balayage for Saturday?"]);

    // Pages follow the cursor to the end.
    let first = search(&stack, &contact, "q=balayage&limit=2").await;
    assert_eq!(bodies(&first).len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = search(
        &stack,
        &contact,
        &format!("q=balayage&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(bodies(&rest), ["Can I book balayage for Saturday?"]);
    assert!(rest["next_cursor"].is_null(), "{rest}");

    // The index is read page after page: "message" is in 37 messages, and
    // "3" starts a word in 9 of them (30..39 without 37).
    let first = search(&stack, &contact, "q=message+3&limit=5").await;
    assert_eq!(
        bodies(&first),
        (["39", "38", "36", "35", "34"]).map(|i| format!("Message number {i}, nothing to see"))
    );
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = search(
        &stack,
        &contact,
        &format!("q=message+3&limit=5&cursor={cursor}"),
    )
    .await;
    assert_eq!(bodies(&rest).len(), 4, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");

    // Words too short for the index are still found, by reading.
    let short = search(&stack, &contact, "q=on").await;
    assert_eq!(bodies(&short), ["Is the balayage booking still on?"]);
}

#[tokio::test]
async fn unsent_messages_leave_no_words_and_merges_move_the_index() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let instagram_conn = stack.connection("salon", Provider::Instagram).await;
    let at = 1_792_515_731_000_i64;
    for (mid, offset, text) in [
        ("ig.keep", 0, "Zanzibar-style highlights, do you do them?"),
        ("ig.unsend", 60_000, "Quixotically private words"),
    ] {
        stack
            .post_instagram(&instagram_conn, &instagram_text(mid, at + offset, text))
            .await;
    }
    stack.drain().await;
    let instagram_contact = stack.only_contact("salon").await;
    assert_eq!(
        bodies(&search(&stack, &instagram_contact, "q=quixotic").await),
        ["Quixotically private words"]
    );
    // Unsent after it was indexed, then the unsend is redelivered.
    let unsend = instagram(json!({
        "sender": { "id": INSTAGRAM_USER }, "recipient": { "id": "17841405822304914" },
        "timestamp": at + 120_000, "message": { "mid": "ig.unsend", "is_deleted": true }
    }));
    stack.post_instagram(&instagram_conn, &unsend).await;
    stack.post_instagram(&instagram_conn, &unsend).await;
    stack.drain().await;
    assert_eq!(
        bodies(&search(&stack, &instagram_contact, "q=quixotic").await).len(),
        0
    );
    let dump = stack.table_dump().await.to_lowercase();
    assert!(
        !dump.contains("quixo"),
        "a deleted message's words are still stored"
    );
    assert!(
        !dump.contains("privat"),
        "a deleted message's words are still stored"
    );
    assert!(dump.contains("zanzib"), "the kept message is indexed");

    // A WhatsApp contact joins: the index moves with the messages.
    stack
        .post_whatsapp(
            &whatsapp,
            &whatsapp_text("wamid.z1", PHONE, 1_792_600_000, "Zanzibar again?"),
        )
        .await;
    stack.drain().await;
    let contacts = stack
        .get("/contacts", &stack.token("salon", "agent"))
        .await
        .json();
    let maya = contacts["items"][0]["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(maya, instagram_contact);
    let auth = format!("Bearer {}", stack.token("salon", "agent"));
    let merged = stack
        .request(
            "POST",
            &format!("/contacts/{maya}/merge"),
            &[("authorization", &auth)],
            json!({ "contact_id": instagram_contact })
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(merged.status, 200, "{merged:?}");
    assert_eq!(
        bodies(&search(&stack, &maya, "q=zanzibar").await),
        [
            "Zanzibar again?",
            "Zanzibar-style highlights, do you do them?"
        ]
    );
    let dump = stack.table_dump().await;
    let old_partition = format!("S(\"T#salon#C#{instagram_contact}");
    // All but the record of the merge, which stays.
    let left: Vec<&str> = dump
        .lines()
        .filter(|item| item.contains(&old_partition) && !item.contains("merged_into"))
        .collect();
    assert!(
        left.is_empty(),
        "items of the merged contact remain: {left:?}"
    );
}
