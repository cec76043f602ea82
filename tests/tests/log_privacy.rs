//! No personal data reaches a log: customers' phone numbers, addresses,
//! names, provider ids and message text. Everything the functions log while
//! deliveries from several providers are ingested and normalized (well
//! formed, refused at the webhook, and failing in normalize with parse and
//! envelope errors) and the API is used on them is captured at the most
//! verbose log level a deployment can choose, as `secrets_in_logs` does.

use chrono::{TimeZone, Utc};
use integration_tests::logs::CapturedLogs;
use integration_tests::{CHAT_ORIGIN, TestStack, fixture, whatsapp_change};
use serde_json::json;
use shared::delivery::{Delivery, Payload};
use shared::model::Provider;

/// The personal data of the test: none of it may appear in a log.
const PERSONAL: &[&str] = &[
    // WhatsApp
    "447700900555",
    "Zelda Quixote",
    "purple giraffe",
    // Instagram (the user's id is an identity too)
    "9988776655443322",
    "lavender fields",
    // SMS
    "447700900666",
    "marigold parking",
    // Chat
    "zelda.chat@example.net",
    "447700900777",
    "Zelda Chatter",
    "turquoise fringe",
    // Email (Postmark)
    "zelda.mail@example.org",
    "Zelda Mailer",
    "saffron highlights",
    // Cal.com
    "zelda.cal@example.org",
    "Zelda Calendar",
    "447700900444",
    // Malformed: refused at the webhook, or failing in normalize
    "4477009009zz",
    "zelda.broken@@example.org",
    "zelda.envelope@example.org",
    "Zelda Refused",
    "crimson refusal",
    // Staff's own words about the customer
    "allergic to ammonia",
];

fn whatsapp_message(from: &str, name: &str, id: &str, text: &str) -> Vec<u8> {
    whatsapp_change(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "447700900100", "phone_number_id": "110923456789012" },
            "contacts": [{ "profile": { "name": name }, "wa_id": from }],
            "messages": [{
                "from": from, "id": id, "timestamp": "1792570441",
                "type": "text", "text": { "body": text }
            }]
        }),
    )
}

fn chat_message(id: &str, text: &str, visitor: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "visitor_id": format!("v_{id}"),
        "message_id": id,
        "sent_at": "2026-10-20T16:55:00.000Z",
        "text": text,
        "visitor": visitor,
        "page": { "url": format!("{CHAT_ORIGIN}/prices"), "referrer": "" }
    }))
    .unwrap()
}

/// A fixture with the fixture customer's data replaced by this test's.
fn fixture_with(path: &str, replacements: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from_utf8(fixture(path)).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{path} has no {from}");
        text = text.replace(from, to);
    }
    text.into_bytes()
}

#[tokio::test]
async fn no_personal_data_is_ever_logged() {
    let captured = CapturedLogs::install();
    let stack = TestStack::new().await;
    let tenant = "salon";

    // Well-formed deliveries from five providers.
    let whatsapp = stack.whatsapp_connection(tenant).await;
    let body = whatsapp_message(
        "447700900555",
        "Zelda Quixote",
        "wamid.z1",
        "A purple giraffe?",
    );
    assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    let instagram = stack.connection(tenant, Provider::Instagram).await;
    let body = fixture_with(
        "instagram/message.json",
        &[
            ("1203956471823346", "9988776655443322"),
            ("Hi! Do you do balayage?", "Do you do lavender fields?"),
        ],
    );
    assert_eq!(stack.post_instagram(&instagram, &body).await.status, 200);
    let sms = stack.connection(tenant, Provider::TwilioSms).await;
    let body = fixture_with(
        "twilio_sms/inbound.form",
        &[
            ("From=%2B447700900123", "From=%2B447700900666"),
            ("Is+there+parking+nearby", "Is+there+marigold+parking"),
        ],
    );
    assert_eq!(stack.post_sms(&sms, "", &body).await.status, 200);
    let chat = stack.connection(tenant, Provider::Chat).await;
    let body = chat_message(
        "c1",
        "A turquoise fringe, please",
        json!({ "name": "Zelda Chatter", "email": "zelda.chat@example.net", "phone": "+447700900777" }),
    );
    assert_eq!(stack.post_chat(&chat, &body).await.status, 200);
    let postmark = stack.connection(tenant, Provider::Postmark).await;
    let body = fixture_with(
        "postmark/inbound.json",
        &[
            ("maya.lopez@example.com", "zelda.mail@example.org"),
            ("Maya Lopez", "Zelda Mailer"),
            (
                "Thanks! Can I rebook?",
                "Saffron highlights? I mean saffron highlights",
            ),
        ],
    );
    assert_eq!(
        stack
            .post_postmark(&postmark, integration_tests::APP_SECRET, &body)
            .await
            .status,
        200
    );
    let calcom = stack.connection(tenant, Provider::Calcom).await;
    let body = fixture_with(
        "calcom/booking_created.json",
        &[
            ("maya.lopez@example.com", "zelda.cal@example.org"),
            ("Maya López", "Zelda Calendar"),
            ("+447700900123", "+447700900444"),
        ],
    );
    assert_eq!(stack.post_calcom(&calcom, &body).await.status, 200);

    // Malformed but well signed: refused at the webhook (400).
    let refused = whatsapp_message(
        "4477009009zz",
        "Zelda Refused",
        "wamid.z2",
        "crimson refusal",
    );
    assert_eq!(stack.post_whatsapp(&whatsapp, &refused).await.status, 400);
    let refused = chat_message(
        "c2",
        "crimson refusal",
        json!({ "name": "Zelda Refused", "email": "zelda.broken@@example.org" }),
    );
    assert_eq!(stack.post_chat(&chat, &refused).await.status, 400);

    // Malformed deliveries that reach normalize anyway (queued by an
    // earlier adapter version, or damaged): its parse and envelope errors.
    let queue = stack.local.queue("IngestQueue").unwrap();
    let deliveries = stack.ingest_queue(stack.clients.s3.clone());
    let delivery = |provider: Provider, connection: &str, body: Vec<u8>| Delivery {
        delivery_id: ulid::Ulid::new().to_string(),
        tenant_id: tenant.into(),
        connection_id: connection.into(),
        provider,
        received_at: Utc::now(),
        connected_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        default_region: None,
        payload: Payload::Inline {
            body: String::from_utf8(body).unwrap(),
        },
    };
    let broken_whatsapp = whatsapp_message(
        "4477009009zz",
        "Zelda Refused",
        "wamid.z3",
        "crimson refusal",
    );
    deliveries
        .enqueue(delivery(Provider::Whatsapp, &whatsapp, broken_whatsapp))
        .await
        .unwrap();
    let broken_chat = chat_message(
        "c3",
        "crimson refusal",
        json!({ "name": "Zelda Refused", "email": "zelda.broken@@example.org" }),
    );
    deliveries
        .enqueue(delivery(Provider::Chat, &chat, broken_chat))
        .await
        .unwrap();
    let mut envelope =
        serde_json::to_value(delivery(Provider::Chat, &chat, b"{}".to_vec())).unwrap();
    envelope["provider"] = json!("zelda.envelope@example.org");
    stack
        .clients
        .sqs
        .send_message()
        .queue_url(&queue.url)
        .message_body(envelope.to_string())
        .send()
        .await
        .unwrap();
    stack.drain().await;
    assert_eq!(
        stack.queue_depth("IngestDeadLetterQueue").await,
        3,
        "the three malformed deliveries failed until dead-lettered"
    );

    // Staff look the customers up and write about one.
    let admin = stack.token(tenant, "admin");
    for q in ["zelda.mail@example.org", "%2B447700900555", "Zelda"] {
        let found = stack.get(&format!("/contacts?q={q}"), &admin).await;
        assert_eq!(found.status, 200, "{found:?}");
    }
    let ids = stack.contact_ids(tenant).await;
    assert!(ids.len() >= 6, "{ids:?}");
    for id in &ids {
        stack.timeline(tenant, id, "").await;
        let searched = stack
            .get(&format!("/contacts/{id}/messages?q=giraffe"), &admin)
            .await;
        assert_eq!(searched.status, 200, "{searched:?}");
    }
    let note = stack
        .post_json(
            &format!("/contacts/{}/notes", ids[0]),
            &admin,
            json!({ "body": "Zelda Quixote is allergic to ammonia" }),
        )
        .await;
    assert_eq!(note.status, 201, "{note:?}");

    let log = captured.text().to_lowercase();
    assert!(
        log.contains("delivery failed"),
        "the capture saw normalize's failures"
    );
    let leaks: Vec<String> = log
        .lines()
        .filter_map(|line| {
            let found: Vec<&str> = PERSONAL
                .iter()
                .filter(|p| line.contains(&p.to_lowercase()))
                .copied()
                .collect();
            (!found.is_empty()).then(|| format!("{found:?} in {line}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "personal data was logged:\n{}",
        leaks.join("\n")
    );
}
