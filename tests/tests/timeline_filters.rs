//! Timeline filters: channels (through the per-channel index), types, time
//! range, combined with paging.

use integration_tests::{TestStack, whatsapp_text};
use serde_json::json;
use shared::model::Provider;

const MAYA: &str = "447700900123";

/// WhatsApp at :00, :02, :04; SMS (received now); a call at 10:01; a note (now).
async fn busy_contact(stack: &TestStack) -> String {
    let whatsapp = stack.whatsapp_connection("salon").await;
    let sms = stack.connection("salon", Provider::TwilioSms).await;
    let voice = stack.connection("salon", Provider::TwilioVoice).await;
    for (i, minute) in [0, 2, 4].iter().enumerate() {
        let ts = 1_792_576_800 + minute * 60; // 2026-10-21T10:00:00Z + minutes
        stack
            .post_whatsapp(
                &whatsapp,
                &whatsapp_text(&format!("w{i}"), MAYA, ts, &format!("wa {minute}")),
            )
            .await;
    }
    stack
        .post_sms(
            &sms,
            "",
            b"MessageSid=SM1&From=%2B447700900123&To=%2B447700900200&Body=sms+one&NumMedia=0",
        )
        .await;
    stack
        .post_voice(&voice, b"CallSid=CA1&CallStatus=completed&Direction=inbound&From=%2B447700900123&To=%2B447700900200&CallDuration=30&Timestamp=Wed%2C+21+Oct+2026+10%3A01%3A30+%2B0000")
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let auth = format!("Bearer {}", stack.token("salon", "agent"));
    let note = stack
        .request(
            "POST",
            &format!("/contacts/{contact}/notes"),
            &[("authorization", &auth)],
            json!({"body": "VIP"}).to_string().as_bytes(),
        )
        .await;
    assert_eq!(note.status, 201);
    contact
}

fn summary(page: &serde_json::Value) -> Vec<String> {
    page["items"]
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
        .collect()
}

#[tokio::test]
async fn channel_type_and_range_filters() {
    let stack = TestStack::new().await;
    let contact = busy_contact(&stack).await;
    let all = stack.timeline("salon", &contact, "").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 6);

    let sms = stack.timeline("salon", &contact, "?channels=sms").await;
    assert_eq!(summary(&sms), ["message:sms"]);
    let two = stack
        .timeline("salon", &contact, "?channels=whatsapp,phone&order=oldest")
        .await;
    assert_eq!(
        summary(&two),
        [
            "message:whatsapp",
            "call:phone",
            "message:whatsapp",
            "message:whatsapp"
        ]
    );
    let calls = stack.timeline("salon", &contact, "?types=call").await;
    assert_eq!(summary(&calls), ["call:phone"]);
    let notes = stack
        .timeline("salon", &contact, "?types=note,call&limit=1")
        .await;
    assert_eq!(summary(&notes), ["note:-"]);
    assert!(notes["next_cursor"].is_string());
    let range = stack
        .timeline(
            "salon",
            &contact,
            "?from=2026-10-21T10:01:00Z&to=2026-10-21T10:02:00Z&order=oldest",
        )
        .await;
    assert_eq!(summary(&range), ["call:phone", "message:whatsapp"]);
}

#[tokio::test]
async fn a_filtered_listing_pages_without_gaps_or_repeats() {
    let stack = TestStack::new().await;
    let contact = busy_contact(&stack).await;
    let mut seen = Vec::new();
    let mut query = "?channels=whatsapp,sms,phone&limit=2".to_string();
    for _ in 0..10 {
        let page = stack.timeline("salon", &contact, &query).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?channels=whatsapp,sms,phone&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let everything = stack
        .timeline("salon", &contact, "?types=message,call")
        .await;
    let expected: Vec<String> = everything["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn unknown_filters_are_refused() {
    let stack = TestStack::new().await;
    let contact = busy_contact(&stack).await;
    let token = stack.token("salon", "agent");
    for (query, field) in [
        ("?types=meeting", "types"),
        ("?channels=fax", "channels"),
        ("?from=yesterday", "from"),
        ("?from=2026-10-22T00:00:00Z&to=2026-10-21T00:00:00Z", "from"),
    ] {
        let reply = stack
            .get(&format!("/contacts/{contact}/timeline{query}"), &token)
            .await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json()["field"], field, "{query}");
    }
}
