//! At-least-once delivery, exactly-once effect: duplicates, statuses before
//! their message, poison records and oversized bodies.

use integration_tests::{TestStack, fixture, whatsapp_echo, whatsapp_status, whatsapp_text};
use shared::channels::{CanonicalEvent, ParseContext, whatsapp};

const MAYA: &str = "447700900123";

#[tokio::test]
async fn the_same_webhook_twice_is_one_event() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let body = fixture("whatsapp/text_message.json");
    assert_eq!(stack.post_whatsapp(&connection, &body).await.status, 200);
    assert_eq!(stack.post_whatsapp(&connection, &body).await.status, 200);
    assert_eq!(stack.drain().await, 2, "both deliveries were processed");
    // Replayed again after processing, too.
    stack.post_whatsapp(&connection, &body).await;
    stack.drain().await;

    let contact = stack.only_contact("salon").await;
    let timeline = stack.timeline("salon", &contact, "").await;
    assert_eq!(timeline["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_before_its_message_is_applied_when_the_message_arrives() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let wamid = "wamid.outbound-1";

    stack
        .post_whatsapp(
            &connection,
            &whatsapp_status(wamid, MAYA, 1_792_570_934, "read"),
        )
        .await;
    stack.drain().await;
    let contacts = stack
        .get("/contacts", &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(
        contacts["items"].as_array().unwrap().len(),
        0,
        "a status alone makes no contact"
    );

    stack
        .post_whatsapp(
            &connection,
            &whatsapp_echo(wamid, MAYA, 1_792_570_930, "Your deposit link"),
        )
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let item = &stack.timeline("salon", &contact, "").await["items"][0];
    assert_eq!(item["direction"], "outbound");
    assert_eq!(item["status"], "read");
    assert_eq!(item["status_at"], "2026-10-21T08:22:14Z");

    // A late, older status does not move it back.
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_status(wamid, MAYA, 1_792_570_931, "delivered"),
        )
        .await;
    stack.drain().await;
    let item = &stack.timeline("salon", &contact, "").await["items"][0];
    assert_eq!(item["status"], "read");
}

#[tokio::test]
async fn statuses_after_the_message_move_it_forward_only() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    // The fixture's batch carries "sent" and "read" for this wamid in one POST.
    let wamid = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSNTU4NzBEMTI2MDRBMjU0NTY4AA==";
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_echo(wamid, MAYA, 1_792_570_929, "Deposit link"),
        )
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"][0]["status"],
        "sent"
    );

    stack
        .post_whatsapp(&connection, &fixture("whatsapp/statuses_batch.json"))
        .await;
    stack.drain().await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"][0]["status"],
        "read"
    );

    let failed = whatsapp_status(wamid, MAYA, 1_792_570_999, "sent");
    stack.post_whatsapp(&connection, &failed).await;
    stack.drain().await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"][0]["status"],
        "read"
    );
}

#[tokio::test]
async fn a_failed_status_keeps_the_provider_error() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    let wamid = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSOEJFOUM4OTc2N0UyMjBBNDE2AA==";
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/status_failed.json"))
        .await;
    stack
        .post_whatsapp(
            &connection,
            &whatsapp_echo(wamid, MAYA, 1_793_008_800, "Following up"),
        )
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let item = &stack.timeline("salon", &contact, "").await["items"][0];
    assert_eq!(item["status"], "failed");
    assert!(item["status_error"].as_str().unwrap().starts_with("131047"));
}

#[tokio::test]
async fn a_poison_record_is_dead_lettered_and_its_batch_is_still_written() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    let ingest = stack.local.queue("IngestQueue").unwrap();
    stack
        .clients
        .sqs
        .send_message()
        .queue_url(&ingest.url)
        .message_body("{\"this is\": \"not a delivery\"}")
        .send()
        .await
        .unwrap();

    let first = stack.poller.poll_once(0).await.unwrap();
    assert_eq!(first.received, 2, "both records in one batch");
    assert_eq!(first.failed, 1, "only the poison record failed");
    let contact = stack.only_contact("salon").await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Retried until maxReceiveCount (5 in template.yaml), then dead-lettered.
    stack.drain().await;
    assert_eq!(stack.queue_depth("IngestQueue").await, 0);
    assert_eq!(stack.queue_depth("IngestDeadLetterQueue").await, 1);
}

#[tokio::test]
async fn oversized_bodies_travel_through_s3() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    // Within what a message keeps (64 KiB), so it must arrive whole...
    let long_text = "balayage ".repeat(7_000);
    let mut body: serde_json::Value =
        serde_json::from_slice(&whatsapp_text("wamid.big", MAYA, 1_792_570_441, &long_text))
            .unwrap();
    // ...in a delivery made bigger by a field the adapter does not read.
    body["x_padding"] = serde_json::json!("x".repeat(300 * 1024));
    let body = serde_json::to_vec(&body).unwrap();
    assert!(body.len() > 256 * 1024, "bigger than an SQS message may be");
    assert_eq!(stack.post_whatsapp(&connection, &body).await.status, 200);

    assert_eq!(stack.blob_count("deliveries/salon/").await, 1);

    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let item = &stack.timeline("salon", &contact, "").await["items"][0];
    assert_eq!(item["body"].as_str().unwrap().len(), long_text.len());
}

#[tokio::test]
async fn racing_first_messages_from_one_person_make_one_contact() {
    let stack = TestStack::new().await;
    let ctx = ParseContext {
        received_at: chrono::Utc::now(),
        default_region: None,
    };
    let events: Vec<CanonicalEvent> = (0..6)
        .flat_map(|i| {
            let body = whatsapp_text(&format!("wamid.race{i}"), MAYA, 1_792_570_000 + i, "hi");
            whatsapp::parse(&body, &ctx).unwrap()
        })
        .collect();
    let store = stack.store();
    let writes = events
        .iter()
        .map(|event| shared::normalize::apply(store, "salon", event));
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    let contact = stack.only_contact("salon").await;
    assert_eq!(
        stack.timeline("salon", &contact, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}
