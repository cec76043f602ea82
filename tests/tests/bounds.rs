//! What one message may cost is bounded: a message of any length is stored
//! (cut and flagged) within DynamoDB's 400 KB item limit and writes a
//! bounded number of search postings.
//!
//! DynamoDB Local may not refuse an item over 400 KB as DynamoDB does, so
//! these tests measure every stored item themselves, by AWS's rules.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{Item, TestStack, whatsapp_text};
use serde_json::Value;

const PHONE: &str = "447700900123";
/// DynamoDB's item size limit.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// An item's size as DynamoDB counts it: attribute names and values (UTF-8
/// bytes; numbers about one byte per two significant digits plus one; lists
/// and maps 3 bytes plus one per element).
fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n
                .trim_start_matches('-')
                .replace('.', "")
                .trim_matches('0')
                .len();
            digits.div_ceil(2) + 1
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(items) => items.iter().map(|b| b.as_ref().len()).sum(),
        other => panic!("unexpected attribute type {other:?}"),
    }
}

#[test]
fn item_size_follows_the_documented_rules() {
    let item: Item = [
        ("pk".to_string(), AttributeValue::S("héllo".into())),
        ("n".to_string(), AttributeValue::N("-12300".into())),
        ("ok".to_string(), AttributeValue::Bool(true)),
        (
            "l".to_string(),
            AttributeValue::L(vec![AttributeValue::S("ab".into())]),
        ),
        (
            "m".to_string(),
            AttributeValue::M([("k".to_string(), AttributeValue::S("v".into()))].into()),
        ),
    ]
    .into();
    // 2+6, 1+(2+1), 2+1, 1+(3+1+2), 1+(3+1+1+1)
    assert_eq!(item_size(&item), 8 + 4 + 3 + 7 + 7);
}

/// Every item of the table whose `pk` starts with `prefix` and `sk` with `sk_prefix`.
async fn items(stack: &TestStack, prefix: &str, sk_prefix: &str) -> Vec<Item> {
    let mut found = stack.items_with_pk_prefix(prefix).await;
    found.retain(
        |item| matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with(sk_prefix)),
    );
    found
}

/// Salon's customer sends `text` on WhatsApp, and it is normalized.
async fn deliver_text(stack: &TestStack, wamid: &str, text: &str) {
    let connection = stack.whatsapp_connection("salon").await;
    let reply = stack
        .post_whatsapp(
            &connection,
            &whatsapp_text(wamid, PHONE, 1_792_570_441, text),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    assert_eq!(
        stack.queue_depth("IngestDeadLetterQueue").await,
        0,
        "nothing dead-lettered"
    );
}

/// The one message event of the tenant's only contact, as the API shows it
/// and as stored.
async fn only_message(stack: &TestStack, tenant: &str) -> (String, Value, Item) {
    let contact = stack.only_contact(tenant).await;
    let timeline = stack.timeline(tenant, &contact, "").await;
    let items_shown = timeline["items"].as_array().unwrap();
    assert_eq!(items_shown.len(), 1, "{timeline}");
    let pk = format!("T#{tenant}#C#{contact}");
    let mut stored = items(stack, &pk, "EV#").await;
    stored.retain(|item| item.get("pk") == Some(&AttributeValue::S(pk.clone())));
    assert_eq!(stored.len(), 1);
    (pk, items_shown[0].clone(), stored.remove(0))
}

#[tokio::test]
async fn a_megabyte_of_text_is_stored_cut_and_flagged() {
    let stack = TestStack::new().await;
    // Multi-byte characters, so the cut must fall between characters.
    let text = "Balayage é 😊 ".repeat(1024 * 1024 / 16);
    assert!(text.len() >= 1024 * 1024);
    deliver_text(&stack, "wamid.long", &text).await;

    let (_, shown, stored) = only_message(&stack, "salon").await;
    assert_eq!(shown["truncated"], true, "flagged");
    let body = shown["body"].as_str().unwrap();
    assert!(text.starts_with(body), "the beginning is kept");
    assert!(
        (60 * 1024..=64 * 1024).contains(&body.len()),
        "{} bytes kept",
        body.len()
    );
    let size = item_size(&stored);
    assert!(size <= MAX_ITEM_BYTES, "the event item is {size} bytes");
}

#[tokio::test]
async fn ten_thousand_distinct_words_write_at_most_the_posting_cap() {
    let stack = TestStack::new().await;
    let words: Vec<String> = (0..10_000).map(|i| format!("w{i:04}")).collect();
    let text = words.join(" ");
    deliver_text(&stack, "wamid.words", &text).await;

    let (pk, shown, stored) = only_message(&stack, "salon").await;
    assert_eq!(shown["body"], text.as_str(), "the text itself is whole");
    let postings = items(&stack, &format!("{pk}#W#"), "EV#").await.len();
    assert!(
        (1..=1_000).contains(&postings),
        "{postings} postings written"
    );
    let size = item_size(&stored);
    assert!(size <= MAX_ITEM_BYTES, "the event item is {size} bytes");

    // The first words are searchable.
    let contact = stack.only_contact("salon").await;
    let found = stack
        .get(
            &format!("/contacts/{contact}/messages?q=w0001"),
            &stack.token("salon", "agent"),
        )
        .await
        .json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
}

#[tokio::test]
async fn messages_recorded_through_the_api_keep_the_same_bounds() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_text("wamid.first", PHONE, 1_792_570_441, "hi"),
        )
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let agent = stack.token("salon", "agent");
    let messages = format!("/contacts/{contact}/messages");
    let send = |body: Value| stack.post_json(&messages, &agent, body);
    let long_id = "w".repeat(300);
    for (body, field) in [
        (
            serde_json::json!({ "channel": "whatsapp", "body": "x", "author": "ai", "provider_message_id": long_id }),
            "provider_message_id",
        ),
        (
            serde_json::json!({ "channel": "whatsapp", "body": "x", "author": "ai", "sent_at": "1969-12-31T23:59:59Z" }),
            "sent_at",
        ),
    ] {
        let reply = send(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }

    let text = "Your appointment. ".repeat(10_000);
    let reply =
        send(serde_json::json!({ "channel": "whatsapp", "body": text, "author": "ai" })).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let timeline = stack.timeline("salon", &contact, "").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{timeline}");
    let sent = &items[0];
    assert_eq!(sent["truncated"], true);
    assert!(text.starts_with(sent["body"].as_str().unwrap()));
}
