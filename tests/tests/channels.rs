//! Every messaging channel from webhook POST to timeline item, plus a wrong
//! signature and a malformed delivery per channel that queue nothing.

use integration_tests::{CHAT_KEY, CHAT_ORIGIN, HOST, TestStack, fixture};
use serde_json::json;
use shared::model::Provider;
use shared::store::TenantSettings;

async fn only_item(stack: &TestStack, tenant: &str) -> serde_json::Value {
    let contact = stack.only_contact(tenant).await;
    let timeline = stack.timeline(tenant, &contact, "").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].clone()
}

async fn assert_nothing_queued(stack: &TestStack, reply: integration_tests::Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
}

#[tokio::test]
async fn instagram_message_reaches_the_timeline() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Instagram).await;
    let reply = stack
        .post_instagram(&connection, &fixture("instagram/message.json"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let item = only_item(&stack, "salon").await;
    assert_eq!(item["channel"], "instagram");
    assert_eq!(item["direction"], "inbound");
    assert_eq!(item["occurred_at"], "2026-10-20T17:02:11.482Z");
    assert!(
        item["body"]
            .as_str()
            .unwrap()
            .starts_with("Hi! Do you do balayage?")
    );
}

#[tokio::test]
async fn instagram_echo_read_and_unsend() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Instagram).await;
    // Delivered out of order: the unsend and the read before their messages.
    for name in [
        "deleted.json",
        "read.json",
        "message.json",
        "image_message.json",
        "echo.json",
    ] {
        let reply = stack
            .post_instagram(&connection, &fixture(&format!("instagram/{name}")))
            .await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
    }
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let timeline = stack.timeline("salon", &contact, "?order=oldest").await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items[0]["body"].as_str().unwrap().contains("balayage"));
    // The unsent photo: the event stays, its content is gone.
    assert_eq!(items[1]["deleted"], true);
    assert!(items[1].get("body").is_none());
    assert!(items[1].get("attachments").is_none());
    // The salon's reply, read by the customer.
    assert_eq!(items[2]["direction"], "outbound");
    assert_eq!(items[2]["author"]["kind"], "human");
    assert_eq!(items[2]["status"], "read");

    // Nothing of the unsent photo's URL is stored anywhere in the table.
    let scan = stack
        .clients
        .dynamodb
        .scan()
        .table_name(&stack.local.table)
        .send()
        .await
        .unwrap();
    let dump = format!("{:?}", scan.items());
    assert!(
        !dump.contains("lookaside.fbsbx.com"),
        "deleted content still stored"
    );
}

#[tokio::test]
async fn instagram_rejects_bad_signature_and_malformed_body() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Instagram).await;
    let body = fixture("instagram/message.json");
    let reply = stack
        .request(
            "POST",
            &format!("/webhooks/instagram/{connection}"),
            &[("x-hub-signature-256", "sha256=00")],
            &body,
        )
        .await;
    assert_nothing_queued(&stack, reply, 401).await;
    let reply = stack
        .post_instagram(&connection, br#"{"object":"instagram","entry":[{"messaging":[{"sender":{"id":"1"},"timestamp":"later","message":{"mid":"m1","text":"x"}}]}]}"#)
        .await;
    assert_eq!(reply.json()["field"], "entry[0].messaging[0].timestamp");
    assert_nothing_queued(&stack, reply, 400).await;
    // Meta's subscription handshake on the Instagram webhook.
    let handshake = stack
        .request(
            "GET",
            &format!("/webhooks/instagram/{connection}?hub.mode=subscribe&hub.challenge=77&hub.verify_token=test_verify_token"),
            &[],
            b"",
        )
        .await;
    assert_eq!(&handshake.body[..], b"77");
    // The WhatsApp connection's webhook is not the Instagram one.
    let whatsapp = stack.connection("salon", Provider::Whatsapp).await;
    let reply = stack.post_instagram(&whatsapp, &body).await;
    assert_nothing_queued(&stack, reply, 404).await;
}

#[tokio::test]
async fn sms_inbound_and_status_reach_the_timeline() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::TwilioSms).await;
    let reply = stack
        .post_sms(&connection, "", &fixture("twilio_sms/inbound.form"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.content_type, "text/xml");
    assert!(String::from_utf8_lossy(&reply.body).contains("<Response/>"));
    stack.drain().await;
    let item = only_item(&stack, "salon").await;
    assert_eq!(item["channel"], "sms");
    assert_eq!(
        item["body"],
        "C - see you tomorrow! Is there parking nearby? 🚗"
    );
    let contact = stack.only_contact("salon").await;
    let profile = stack
        .get(
            &format!("/contacts/{contact}"),
            &stack.token("salon", "admin"),
        )
        .await
        .json();
    assert_eq!(profile["identities"][0]["value"], "+447700900123");

    // A status callback signed over its own URL, query string included.
    let reply = stack
        .post_sms(
            &connection,
            "?ref=reminder-4830",
            &fixture("twilio_sms/status_delivered.form"),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(stack.drain().await, 1);
}

#[tokio::test]
async fn sms_rejects_bad_signature_and_malformed_form() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::TwilioSms).await;
    let body = fixture("twilio_sms/inbound.form");
    // Signed for another URL (the query is part of what Twilio signs).
    let path = format!("/webhooks/sms/{connection}?extra=1");
    let signature = shared::channels::twilio_signature::compute_signature(
        integration_tests::APP_SECRET,
        &format!("http://{HOST}/webhooks/sms/{connection}"),
        &body,
    );
    let reply = stack
        .request(
            "POST",
            &path,
            &[("host", HOST), ("x-twilio-signature", &signature)],
            &body,
        )
        .await;
    assert_nothing_queued(&stack, reply, 401).await;
    let reply = stack
        .post_sms(
            &connection,
            "",
            b"Body=hello&From=not-a-phone&MessageSid=SM1",
        )
        .await;
    assert_eq!(reply.json()["field"], "From");
    assert_nothing_queued(&stack, reply, 400).await;
}

fn chat_message(visitor: &str, id: &str, extra: serde_json::Value) -> Vec<u8> {
    let mut body = json!({
        "visitor_id": visitor,
        "message_id": id,
        "sent_at": "2026-10-20T16:55:00.000Z",
        "text": "Do you do balayage?",
        "page": { "url": "https://salon.example/prices?utm_source=google&utm_medium=cpc", "referrer": "https://www.google.com/" }
    });
    if let (Some(target), Some(more)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            target.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn chat_message_keeps_its_first_touch_source() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Chat).await;
    let reply = stack
        .post_chat(&connection, &chat_message("v1", "m1", json!({})))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let item = only_item(&stack, "salon").await;
    assert_eq!(item["channel"], "chat");
    assert_eq!(item["source"]["kind"], "chat_widget");
    assert_eq!(item["source"]["utm_source"], "google");
    assert_eq!(item["source"]["referrer"], "https://www.google.com/");
}

#[tokio::test]
async fn a_chat_visitor_who_types_a_known_customers_phone_is_suggested_not_merged() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let chat = stack.connection("salon", Provider::Chat).await;
    // The business's region reads national formats.
    stack
        .store()
        .put_settings(
            "salon",
            &TenantSettings {
                timezone: "Europe/London".into(),
                phone_region: Some("GB".into()),
                ..TenantSettings::default()
            },
        )
        .await
        .unwrap();
    // Maya is known from WhatsApp.
    stack
        .post_whatsapp(&whatsapp, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let maya = stack.only_contact("salon").await;
    // An anonymous visitor chats twice...
    stack
        .post_chat(&chat, &chat_message("v9", "m1", json!({})))
        .await;
    stack
        .post_chat(
            &chat,
            &chat_message("v9", "m2", json!({"text": "How much is it?"})),
        )
        .await;
    stack.drain().await;
    let contacts = stack
        .get("/contacts", &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(contacts["items"].as_array().unwrap().len(), 2);
    // ...then types Maya's phone number, in a national format. Typed is not
    // proven: the visitor stays its own contact and staff are asked.
    stack
        .post_chat(
            &chat,
            &chat_message(
                "v9",
                "m3",
                json!({"text": "It's Maya", "visitor": {"phone": "07700 900123"}}),
            ),
        )
        .await;
    stack.drain().await;
    let contacts = stack
        .get("/contacts", &stack.token("salon", "admin"))
        .await
        .json();
    let ids: Vec<&str> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "not merged: {contacts}");
    let visitor = ids.iter().find(|id| **id != maya).unwrap().to_string();
    assert_eq!(
        stack.timeline("salon", &visitor, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let counters = stack.store().metric_counters("salon", &maya).await.unwrap();
    assert_eq!(counters["messages_in"], 1);
    assert_eq!(counters.get("channel_chat"), None);
    let duplicates = stack
        .get(
            &format!("/contacts/{maya}/duplicates"),
            &stack.token("salon", "admin"),
        )
        .await
        .json();
    let suggestion = &duplicates["items"][0];
    assert_eq!(suggestion["contact"]["contact_id"], visitor.as_str());
    // The national number was read with the business's region.
    assert!(
        suggestion["reasons"].to_string().contains("+447700900123"),
        "{duplicates}"
    );
    let profile = stack
        .get(&format!("/contacts/{maya}"), &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(profile["identities"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn chat_rejects_wrong_key_wrong_origin_and_malformed_body() {
    let stack = TestStack::new().await;
    let connection = stack.connection("salon", Provider::Chat).await;
    let path = format!("/webhooks/chat/{connection}");
    let body = chat_message("v1", "m1", json!({}));
    let reply = stack
        .request(
            "POST",
            &path,
            &[("x-chat-key", "pk_guess"), ("origin", CHAT_ORIGIN)],
            &body,
        )
        .await;
    assert_nothing_queued(&stack, reply, 401).await;
    let reply = stack
        .request(
            "POST",
            &path,
            &[("x-chat-key", CHAT_KEY), ("origin", "https://evil.example")],
            &body,
        )
        .await;
    assert_nothing_queued(&stack, reply, 401).await;
    let reply = stack
        .post_chat(
            &connection,
            &chat_message("v1", "m1", json!({"visitor": {"email": "not-an-email"}})),
        )
        .await;
    assert_eq!(reply.json()["field"], "visitor.email");
    assert_nothing_queued(&stack, reply, 400).await;
}
