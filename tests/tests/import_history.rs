//! Importing a contact's past events (history from another tool) in bulk.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use integration_tests::{TestStack, whatsapp_text};
use serde_json::Value;
use shared::identity::Identity;
use shared::model::{
    Author, Booking, Channel, DeliveryStatus, Direction, EventDetail, Message, Payment, Provider,
    TimelineEvent,
};

const PHONE: &str = "447700900123";

fn message(
    contact: &str,
    at: DateTime<Utc>,
    channel: Channel,
    direction: Direction,
    body: &str,
) -> TimelineEvent {
    let outbound = direction == Direction::Outbound;
    TimelineEvent {
        event_id: ulid::Ulid::from_datetime(at.into()).to_string(),
        contact_id: contact.to_string(),
        occurred_at: at,
        recorded_at: Utc::now(),
        channel: Some(channel),
        provider: Some(match channel {
            Channel::Sms => Provider::TwilioSms,
            _ => Provider::Whatsapp,
        }),
        provider_ref: Some(format!("import-{}", at.timestamp())),
        detail: EventDetail::Message(if outbound {
            let stylist = Author::Human {
                user_id: Some("stylist-1".into()),
            };
            Message {
                status: Some(DeliveryStatus::Delivered),
                ..Message::outbound(stylist, Some(body.to_string()), Vec::new())
            }
        } else {
            Message::inbound(Some(body.to_string()), Vec::new())
        }),
    }
}

fn other(contact: &str, at: DateTime<Utc>, detail: EventDetail) -> TimelineEvent {
    TimelineEvent {
        event_id: ulid::Ulid::from_datetime(at.into()).to_string(),
        contact_id: contact.to_string(),
        occurred_at: at,
        recorded_at: Utc::now(),
        channel: None,
        provider: None,
        provider_ref: None,
        detail,
    }
}

/// 60 messages ten minutes apart, alternating WhatsApp and SMS, in runs of
/// two inbound and one outbound (each reply 20 minutes after the run began),
/// plus a booking and a payment, which are not messages.
fn history(contact: &str, phone: &Identity) -> Vec<(TimelineEvent, Identity)> {
    let base = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let mut events: Vec<TimelineEvent> = (0..60)
        .map(|i| {
            let channel = if i % 2 == 0 {
                Channel::Whatsapp
            } else {
                Channel::Sms
            };
            let direction = if i % 3 == 2 {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            let body = match i {
                7 => "Could I try Balayage next time?".to_string(),
                _ => format!("old message {i}"),
            };
            message(
                contact,
                base + Duration::minutes(10 * i),
                channel,
                direction,
                &body,
            )
        })
        .collect();
    events.push(other(
        contact,
        base + Duration::minutes(35),
        EventDetail::Payment(Payment {
            payment_id: "pi_import_1".into(),
            status: "succeeded".into(),
            amount_minor: 4500,
            currency: "gbp".into(),
            refunded_minor: None,
            description: Some("Cut and colour deposit".into()),
        }),
    ));
    events.push(other(
        contact,
        base + Duration::minutes(305),
        EventDetail::Booking(Booking {
            booking_id: "bk_import_1".into(),
            status: "accepted".into(),
            service: Some("Balayage".into()),
            starts_at: Some(base + Duration::days(7)),
            ends_at: None,
            replaces_booking_id: None,
        }),
    ));
    // Given out of order: the import must not depend on it.
    events.reverse();
    events.into_iter().map(|e| (e, phone.clone())).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["event_id"].as_str().expect("event id").to_string())
        .collect()
}

/// `want` holds, and no other message count, channel or reply bucket is set
/// (other counters may be added without breaking this).
fn assert_counters(counters: &BTreeMap<String, i64>, want: &BTreeMap<String, i64>) {
    for (name, value) in want {
        assert_eq!(counters.get(name), Some(value), "{name} in {counters:?}");
    }
    for name in counters.keys() {
        let ours = ["messages_", "channel_", "reply_"]
            .iter()
            .any(|p| name.starts_with(p));
        assert!(
            !ours || want.contains_key(name),
            "unexpected {name} in {counters:?}"
        );
    }
}

#[tokio::test]
async fn imported_history_joins_the_timeline_in_order_with_exact_metrics() {
    let stack = TestStack::new().await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let live_at = Utc.with_ymd_and_hms(2026, 10, 21, 9, 0, 0).unwrap();
    let reply = stack
        .post_whatsapp(
            &whatsapp,
            &whatsapp_text(
                "wamid.import.live",
                PHONE,
                live_at.timestamp(),
                "Is Saturday still free?",
            ),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let phone = Identity::whatsapp_id(PHONE).unwrap();

    let events = history(&contact, &phone);
    let mut expected: Vec<(DateTime<Utc>, String)> = events
        .iter()
        .map(|(e, _)| (e.occurred_at, e.event_id.clone()))
        .collect();
    expected.sort();
    let mut expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let written = stack
        .store()
        .import_history("salon", &contact, events.clone())
        .await
        .unwrap();
    assert_eq!(written, 62);

    // The history comes before the live message, oldest first.
    let timeline = stack
        .timeline("salon", &contact, "?order=oldest&limit=100")
        .await;
    let listed = ids(&timeline);
    assert_eq!(listed.len(), 63, "{timeline}");
    assert_eq!(timeline["next_cursor"], Value::Null);
    assert_eq!(listed[..62], expected[..]);
    assert_eq!(timeline["items"][62]["body"], "Is Saturday still free?");
    expected.push(listed[62].clone());
    let first = &timeline["items"][0];
    assert_eq!(first["body"], "old message 0");
    assert_eq!(first["channel"], "whatsapp");
    assert_eq!(first["direction"], "inbound");
    assert_eq!(timeline["items"][4]["type"], "payment");

    // Newest first too, and the channel index knows the imported SMS.
    let newest = stack.timeline("salon", &contact, "?limit=100").await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ids(&newest), reversed);
    let sms = stack
        .timeline("salon", &contact, "?channels=sms&limit=100")
        .await;
    assert_eq!(ids(&sms).len(), 30);
    assert!(
        sms["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["channel"] == "sms")
    );

    // Imported messages are searchable like delivered ones.
    let admin = stack.token("salon", "admin");
    let found = stack
        .get(&format!("/contacts/{contact}/messages?q=balayage"), &admin)
        .await;
    assert_eq!(found.status, 200, "{found:?}");
    let found = found.json();
    assert_eq!(ids(&found), [expected[8].clone()], "{found}");
    assert_eq!(found["items"][0]["matches"], serde_json::json!([[12, 20]]));

    // 40 + 1 inbound, 20 outbound; 20 replies of 20 minutes each; the live
    // message is still unanswered. The booking and payment count nowhere.
    let counters = stack
        .store()
        .metric_counters("salon", &contact)
        .await
        .unwrap();
    let want: BTreeMap<String, i64> = [
        ("channel_sms", 30),
        ("channel_whatsapp", 31),
        ("messages_in", 41),
        ("messages_out", 20),
        // 1,200 s falls in the bucket from 1,184 s.
        ("reply_b1184", 20),
        ("reply_s1184", 20 * 20 * 60 * 1000),
        ("reply_count", 20),
        ("reply_sum_ms", 20 * 20 * 60 * 1000),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_counters(&counters, &want);

    // Importing again overwrites the same items: nothing doubles.
    assert_eq!(
        stack
            .store()
            .import_history("salon", &contact, events)
            .await
            .unwrap(),
        62
    );
    let again = stack
        .timeline("salon", &contact, "?order=oldest&limit=100")
        .await;
    assert_eq!(ids(&again), expected);
    assert_counters(
        &stack
            .store()
            .metric_counters("salon", &contact)
            .await
            .unwrap(),
        &want,
    );
    // History does not move last activity back.
    let profile = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert_eq!(
        profile.json()["last_activity_at"],
        "2026-10-21T09:00:00.000Z"
    );
}

#[tokio::test]
async fn import_moves_last_activity_forward_and_refuses_foreign_events() {
    let stack = TestStack::new().await;
    let store = stack.store();
    let phone = Identity::phone("+447700900555", None).unwrap();
    let created = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
    let contact = store
        .resolve_contact("salon", &phone, Some("Ana"), created)
        .await
        .unwrap();
    let other_phone = Identity::phone("+447700900556", None).unwrap();
    let other = store
        .resolve_contact("salon", &other_phone, None, created)
        .await
        .unwrap();
    let at = |day| Utc.with_ymd_and_hms(2026, 3, day, 10, 0, 0).unwrap();
    let mine = |day, direction| {
        (
            message(&contact, at(day), Channel::Sms, direction, "hello"),
            phone.clone(),
        )
    };

    // One event of another contact: refused, and nothing is written.
    let mixed = vec![
        mine(1, Direction::Inbound),
        (
            message(&other, at(2), Channel::Sms, Direction::Inbound, "hi"),
            other_phone.clone(),
        ),
    ];
    assert!(
        store
            .import_history("salon", &contact, mixed)
            .await
            .is_err()
    );
    // Two events with one key: refused too.
    let once = mine(1, Direction::Inbound);
    let twice = vec![once.clone(), once];
    assert!(
        store
            .import_history("salon", &contact, twice)
            .await
            .is_err()
    );
    // A contact that does not exist: refused.
    let ghost = "01JGHOSTGHOSTGHOSTGHOSTGHO";
    let orphan = vec![(
        message(ghost, at(1), Channel::Sms, Direction::Inbound, "hi"),
        phone.clone(),
    )];
    assert!(store.import_history("salon", ghost, orphan).await.is_err());
    let admin = stack.token("salon", "admin");
    let empty = stack.timeline("salon", &contact, "").await;
    assert_eq!(ids(&empty).len(), 0, "{empty}");

    let written = store
        .import_history(
            "salon",
            &contact,
            vec![
                mine(1, Direction::Inbound),
                mine(2, Direction::Outbound),
                mine(3, Direction::Inbound),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, 3);
    let profile = stack.get(&format!("/contacts/{contact}"), &admin).await;
    assert_eq!(profile.status, 200, "{profile:?}");
    assert_eq!(
        profile.json()["last_activity_at"],
        "2026-03-03T10:00:00.000Z"
    );
    let metrics = stack
        .get(&format!("/contacts/{contact}/metrics"), &admin)
        .await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    let metrics = metrics.json();
    assert_eq!(metrics["messages_total"], 3);
    assert_eq!(metrics["messages_in"], 2);
    assert_eq!(metrics["response_time"]["replies"], 1);
    assert_eq!(metrics["response_time"]["median_seconds"], 86400.0);
    // The other contact got nothing.
    assert_eq!(
        store.metric_counters("salon", &other).await.unwrap(),
        BTreeMap::new()
    );
}
