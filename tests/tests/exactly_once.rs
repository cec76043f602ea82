//! Exactly-once effect under at-least-once delivery: any shuffle of a
//! delivery script, with any redeliveries, converges to the state of the
//! in-order run without duplicates (timeline, identities, counters, last
//! activity), against DynamoDB Local.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use integration_tests::{TestStack, whatsapp_echo, whatsapp_status, whatsapp_text};
use proptest::prelude::*;
use serde_json::json;
use shared::channels::{self, CanonicalEvent, ParseContext};
use shared::model::{EventDetail, Provider};
use shared::store::Store;

const A: &str = "447700900123";
const B: &str = "447700900456";

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 21, 9, 0, 0).unwrap()
}

fn instagram(messaging: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "instagram",
        "entry": [{ "time": 1, "id": "17841405822304914", "messaging": [messaging] }]
    }))
    .unwrap()
}

fn chat(visitor: &str, id: &str, ts: &str, who: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "visitor_id": visitor, "message_id": id, "sent_at": ts, "text": format!("chat {id}"), "visitor": who
    }))
    .unwrap()
}

fn call(status: &str, sequence: u32, extra: &str) -> Vec<u8> {
    format!(
        "CallSid=CA1&CallStatus={status}&SequenceNumber={sequence}&Direction=inbound&From=%2B447700900123&To=%2B447700900200&Timestamp=Wed%2C+21+Oct+2026+10%3A0{sequence}%3A00+%2B0000{extra}"
    )
    .into_bytes()
}

fn fixture_bytes(path: &str) -> Vec<u8> {
    integration_tests::fixture(path)
}

/// Real provider payloads, parsed by the real adapters. Each entry is one
/// delivery (which may hold several events).
fn script() -> &'static Vec<Vec<CanonicalEvent>> {
    static SCRIPT: OnceLock<Vec<Vec<CanonicalEvent>>> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let ig_customer = "1203956471823346";
        let deliveries: Vec<(Provider, Vec<u8>)> = vec![
            (Provider::Whatsapp, whatsapp_text("wamid.m1", A, 1_792_570_100, "hello")),
            (Provider::Whatsapp, whatsapp_echo("wamid.o1", A, 1_792_570_110, "hi there")),
            (Provider::Whatsapp, whatsapp_status("wamid.o1", A, 1_792_570_111, "sent")),
            (Provider::Whatsapp, whatsapp_status("wamid.o1", A, 1_792_570_112, "delivered")),
            (Provider::Whatsapp, whatsapp_status("wamid.o1", A, 1_792_570_113, "read")),
            (Provider::Whatsapp, whatsapp_text("wamid.m2", B, 1_792_570_120, "book me")),
            (Provider::Whatsapp, whatsapp_text("wamid.m3", A, 1_792_570_150, "and Sunday?")),
            (Provider::Whatsapp, whatsapp_text("wamid.m4", A, 1_792_570_155, "any time")),
            (Provider::Whatsapp, whatsapp_echo("wamid.o3", A, 1_792_570_170, "Sunday 10:00")),
            (Provider::Whatsapp, whatsapp_echo("wamid.o2", B, 1_792_570_130, "done")),
            (Provider::Whatsapp, whatsapp_status("wamid.o2", B, 1_792_570_131, "failed")),
            (
                Provider::Instagram,
                instagram(json!({"sender": {"id": ig_customer}, "recipient": {"id": "17841405822304914"},
                    "timestamp": 1_792_570_140_000_i64, "message": {"mid": "ig.1", "text": "photo soon"}})),
            ),
            (
                Provider::Instagram,
                instagram(json!({"sender": {"id": ig_customer}, "recipient": {"id": "17841405822304914"},
                    "timestamp": 1_792_570_150_000_i64, "message": {"mid": "ig.1", "is_deleted": true}})),
            ),
            (
                Provider::TwilioSms,
                b"MessageSid=SM1&From=%2B447700900123&To=%2B447700900200&Body=on+my+way&NumMedia=0&SmsStatus=received".to_vec(),
            ),
            (Provider::Chat, chat("v1", "c1", "2026-10-21T08:20:00Z", json!({}))),
            (
                Provider::Chat,
                chat("v1", "c2", "2026-10-21T08:21:00Z", json!({"email": "b@example.com", "phone": "+447700900456"})),
            ),
            // A call reported three times, a booking's life, a payment's.
            (Provider::TwilioVoice, call("ringing", 1, "")),
            (Provider::TwilioVoice, call("in-progress", 2, "")),
            (Provider::TwilioVoice, call("completed", 3, "&CallDuration=47")),
            (Provider::Calcom, fixture_bytes("calcom/booking_created.json")),
            (Provider::Calcom, fixture_bytes("calcom/booking_rescheduled.json")),
            (Provider::Calcom, fixture_bytes("calcom/meeting_ended_wrapped.json")),
            (Provider::Stripe, fixture_bytes("stripe/payment_intent_succeeded.json")),
            (Provider::Stripe, fixture_bytes("stripe/checkout_session_completed.json")),
            (Provider::Stripe, fixture_bytes("stripe/charge_refunded.json")),
        ];
        let ctx = ParseContext {
            received_at: received_at(),
            default_region: Some("GB"),
        };
        deliveries
            .into_iter()
            .map(|(provider, body)| channels::parse(provider, &body, &ctx).expect("script parses"))
            .collect()
    })
}

/// Everything a tenant holds, minus what legitimately differs between runs
/// (generated ids, storage times, which contact id survived a merge).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ContactState {
    identities: BTreeSet<String>,
    events: Vec<String>,
    counters: Vec<(String, i64)>,
    last_activity: DateTime<Utc>,
}

async fn snapshot(store: &Store, tenant: &str) -> BTreeSet<ContactState> {
    let page = store.contacts_by_activity(tenant, 100, None).await.unwrap();
    let mut state = BTreeSet::new();
    for profile in page.contacts {
        let contact = &profile.contact_id;
        let view = store.contact(tenant, contact).await.unwrap().unwrap();
        let timeline = store
            .timeline(tenant, contact, 100, None, true)
            .await
            .unwrap();
        let events = timeline
            .events
            .iter()
            .map(|e| {
                let detail = match &e.detail {
                    EventDetail::Message(m) => format!(
                        "{:?} {:?} {:?} {:?} {:?} deleted={} att={}",
                        m.direction,
                        m.author,
                        m.body,
                        m.status,
                        m.status_error,
                        m.deleted,
                        m.attachments.len()
                    ),
                    EventDetail::Call(c) => {
                        format!("{:?} {} {:?}", c.direction, c.status, c.duration_secs)
                    }
                    other => format!("{other:?}"),
                };
                format!(
                    "{} {:?} {:?} {}",
                    e.occurred_at, e.channel, e.provider_ref, detail
                )
            })
            .collect();
        state.insert(ContactState {
            identities: view
                .identities
                .iter()
                .map(|i| format!("{}:{}", i.kind.as_str(), i.value))
                .collect(),
            events,
            counters: exact_counters(store, tenant, contact).await,
            last_activity: view.profile.last_activity_at,
        });
    }
    state
}

/// The incremental counters, checked against a rebuild from the history.
async fn exact_counters(store: &Store, tenant: &str, contact: &str) -> Vec<(String, i64)> {
    let incremental = store.metric_counters(tenant, contact).await.unwrap();
    store.rebuild_metrics(tenant, contact).await.unwrap();
    let rebuilt = store.metric_counters(tenant, contact).await.unwrap();
    assert_eq!(incremental, rebuilt, "incremental metrics of {contact}");
    incremental.into_iter().collect()
}

async fn run(store: &Store, tenant: &str, order: &[usize]) -> BTreeSet<ContactState> {
    for &i in order {
        for event in &script()[i] {
            shared::normalize::apply(store, tenant, event)
                .await
                .unwrap();
        }
    }
    snapshot(store, tenant).await
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    stack: TestStack,
    expected: BTreeSet<ContactState>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (stack, expected) = runtime.block_on(async {
            let stack = TestStack::new().await;
            let in_order: Vec<usize> = (0..script().len()).collect();
            let expected = run(stack.store(), "in-order", &in_order).await;
            (stack, expected)
        });
        Fixture {
            runtime,
            stack,
            expected,
        }
    })
}

#[test]
fn the_in_order_run_is_what_the_product_promises() {
    let f = fixture();
    // A (WhatsApp + SMS + call), B (WhatsApp), the chat visitor who typed
    // an email and B's phone, Maya's bookings and payments (filed by the
    // email they name) and the Instagram customer. Typed identities are
    // claims: B's phone stays with B, A's with A (suggestions for staff).
    assert_eq!(f.expected.len(), 5, "{:#?}", f.expected);
    let visitor = f
        .expected
        .iter()
        .find(|c| c.identities.contains("visitor:v1"))
        .unwrap();
    let typed: BTreeSet<String> = ["email:b@example.com", "visitor:v1"]
        .map(String::from)
        .into();
    assert_eq!(visitor.identities, typed);
    assert_eq!(visitor.events.len(), 2, "{:#?}", visitor.events);
    let b = f
        .expected
        .iter()
        .find(|c| c.identities.contains("phone:+447700900456"))
        .unwrap();
    assert_eq!(b.identities.len(), 1);
    assert_eq!(b.events.len(), 2, "{:#?}", b.events);
    let ig = f
        .expected
        .iter()
        .find(|c| c.identities.contains("instagram_id:1203956471823346"))
        .unwrap();
    assert!(ig.events[0].contains("deleted=true") && ig.events[0].contains("None"));
    let a = f
        .expected
        .iter()
        .find(|c| c.identities.contains("phone:+447700900123"))
        .unwrap();
    assert!(a.events.iter().any(|e| e.contains("Some(Read)")));
    assert!(a.counters.contains(&("messages_in".to_string(), 4)));
    // Replies after 10 s (m1 -> o1) and 20 s (m3, m4 -> o3); the SMS waits.
    for counter in [
        ("reply_count", 2),
        ("reply_sum_ms", 30_000),
        ("reply_b10", 1),
        ("reply_b20", 1),
    ] {
        assert!(
            a.counters.contains(&(counter.0.to_string(), counter.1)),
            "{:?}",
            a.counters
        );
    }
    assert!(
        a.events
            .iter()
            .any(|e| e.contains("Inbound completed Some(47)"))
    );
    // Maya's bookings and payments name her email and A's phone, both
    // typed: they are filed under the email, and the phone is not linked.
    assert_eq!(a.identities.len(), 1, "{:?}", a.identities);
    let maya = f
        .expected
        .iter()
        .find(|c| c.identities.contains("email:maya.lopez@example.com"))
        .unwrap();
    assert_eq!(maya.identities.len(), 1, "{:?}", maya.identities);
    let bookings: Vec<_> = maya
        .events
        .iter()
        .filter(|e| e.contains("Booking"))
        .collect();
    assert_eq!(bookings.len(), 2, "{bookings:#?}");
    let payments: Vec<_> = maya
        .events
        .iter()
        .filter(|e| e.contains("Payment"))
        .collect();
    assert_eq!(payments.len(), 2, "{payments:#?}");
}

fn shuffled_with_redeliveries() -> impl Strategy<Value = Vec<usize>> {
    let n = script().len();
    prop::collection::vec(0..n, 0..n).prop_flat_map(move |extra| {
        let all: Vec<usize> = (0..n).chain(extra).collect();
        Just(all).prop_shuffle()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_any_redelivery_converge(order in shuffled_with_redeliveries()) {
        let f = fixture();
        let tenant = format!("p{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        let state = f.runtime.block_on(run(f.stack.store(), &tenant, &order));
        prop_assert_eq!(&state, &f.expected, "order {:?}", order);
    }
}
