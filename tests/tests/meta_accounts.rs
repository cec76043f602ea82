//! A WhatsApp or Instagram connection takes only its own account's events:
//! one Meta app (and so one app secret) serves many phone numbers and
//! accounts, possibly of other businesses, and may batch their events into
//! one delivery.

use integration_tests::{TestStack, fixture, test_connection};
use serde_json::{Value, json};
use shared::model::Provider;

const PHONE: &str = "447700900123";
/// The phone number id in the WhatsApp fixtures and `whatsapp_text`.
const PHONE_NUMBER_ID: &str = "110923456789012";
/// The Instagram account id in the Instagram fixtures.
const INSTAGRAM_ACCOUNT: &str = "17841405822304914";

async fn assert_nothing_dead_lettered(stack: &TestStack) {
    assert_eq!(stack.queue_depth("IngestDeadLetterQueue").await, 0);
}

/// The bodies on the tenant's only contact's timeline.
async fn bodies(stack: &TestStack, tenant: &str) -> Vec<String> {
    let contact = stack.only_contact(tenant).await;
    let timeline = stack.timeline(tenant, &contact, "").await;
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A connection whose `external_id` is the provider's account id.
async fn account_connection(stack: &TestStack, provider: Provider, account: &str) -> String {
    let id = format!("{}-{}", provider.as_str(), ulid::Ulid::new()).to_ascii_lowercase();
    let mut connection = test_connection("salon", provider, &id);
    connection.external_id = Some(account.to_string());
    stack
        .store()
        .put_connection(&connection)
        .await
        .expect("put connection");
    id
}

fn whatsapp_message_for(phone_number_id: &str, wamid: &str, text: &str) -> Value {
    json!({
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "447700900100", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": "Test Customer" }, "wa_id": PHONE }],
            "messages": [{
                "from": PHONE, "id": wamid, "timestamp": "1792570441",
                "type": "text", "text": { "body": text }
            }]
        }
    })
}

#[tokio::test]
async fn whatsapp_changes_for_another_phone_number_are_skipped() {
    let stack = TestStack::new().await;
    let connection = account_connection(&stack, Provider::Whatsapp, PHONE_NUMBER_ID).await;
    // One app, two numbers: Meta may batch both into one delivery.
    let mixed = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102938475610293",
            "changes": [
                whatsapp_message_for("999999999999999", "wamid.other", "for the other number"),
                whatsapp_message_for(PHONE_NUMBER_ID, "wamid.ours", "for this number"),
            ]
        }]
    });
    let reply = stack
        .post_whatsapp(&connection, &serde_json::to_vec(&mixed).unwrap())
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Only another number's: accepted (Meta would retry a refusal), nothing kept.
    let foreign = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102938475610293", "changes": [
            whatsapp_message_for("999999999999999", "wamid.other2", "also not ours"),
        ] }]
    });
    let reply = stack
        .post_whatsapp(&connection, &serde_json::to_vec(&foreign).unwrap())
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    assert_nothing_dead_lettered(&stack).await;

    assert_eq!(bodies(&stack, "salon").await, ["for this number"]);
    let dump = stack.table_dump().await;
    assert!(!dump.contains("not ours") && !dump.contains("the other number"));
}

#[tokio::test]
async fn instagram_entries_for_another_account_are_skipped() {
    let stack = TestStack::new().await;
    let connection = account_connection(&stack, Provider::Instagram, INSTAGRAM_ACCOUNT).await;
    let mut ours: Value = serde_json::from_slice(&fixture("instagram/message.json")).unwrap();
    let mut other = ours["entry"][0].clone();
    other["id"] = json!("17841400000000001");
    other["messaging"][0]["recipient"]["id"] = json!("17841400000000001");
    other["messaging"][0]["message"]["mid"] = json!("m_other");
    other["messaging"][0]["message"]["text"] = json!("for another account");
    ours["entry"].as_array_mut().unwrap().insert(0, other);
    let reply = stack
        .post_instagram(&connection, &serde_json::to_vec(&ours).unwrap())
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    assert_nothing_dead_lettered(&stack).await;

    let shown = bodies(&stack, "salon").await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with("Hi! Do you do balayage?"));
    assert!(!stack.table_dump().await.contains("another account"));
}

#[tokio::test]
async fn meta_connections_need_the_account_they_receive_for() {
    let stack = TestStack::new().await;
    let admin = stack.token("salon", "admin");
    for provider in ["whatsapp", "instagram"] {
        let body = json!({ "provider": provider, "secrets": { "app_secret": "s" } });
        let reply = stack.post_json("/connections", &admin, body).await;
        assert_eq!(reply.status, 400, "{provider}: {reply:?}");
        assert_eq!(reply.json()["field"], "external_id", "{provider}");
    }
}
