//! One contact cannot slow the pipeline for everyone: however long its
//! history (here, hundreds of messages nobody answered, as a flooding chat
//! visitor makes), storing one more message reads a bounded number of items
//! for the metrics, and the metrics stay what a rebuild from the whole
//! history gives. DynamoDB calls are counted by an interceptor on the
//! store's own client.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::{DateTime, Duration, TimeZone, Utc};
use integration_tests::TestStack;
use shared::channels::IncomingMessage;
use shared::identity::Identity;
use shared::model::{Author, Channel, Direction, Message, Provider};
use shared::store::Store;

const TENANT: &str = "salon";
/// Longer than any page the store reads at once, many times over.
const RUN: i64 = 320;

/// Counts the DynamoDB operations a client sends (`X-Amz-Target`).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut c| std::mem::take(&mut *c)).unwrap()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

fn counting_store(stack: &TestStack) -> (Store, Calls) {
    let calls = Calls::default();
    let config = stack
        .clients
        .dynamodb
        .config()
        .to_builder()
        .interceptor(calls.clone())
        .build();
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        &stack.local.table,
    );
    (store, calls)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 9, 0, 0).unwrap()
}

fn at(minute: i64) -> DateTime<Utc> {
    start() + Duration::minutes(minute)
}

fn customer() -> Identity {
    Identity::phone("+447700900123", None).unwrap()
}

fn message(id: &str, when: DateTime<Utc>, direction: Direction) -> IncomingMessage {
    IncomingMessage {
        provider: Provider::Whatsapp,
        provider_message_id: id.to_string(),
        channel: Channel::Whatsapp,
        customer: customer(),
        customer_name: None,
        linked_identities: Vec::new(),
        occurred_at: when,
        message: match direction {
            Direction::Inbound => Message::inbound(Some(format!("message {id}")), Vec::new()),
            Direction::Outbound => Message::outbound(
                Author::Human { user_id: None },
                Some(format!("message {id}")),
                Vec::new(),
            ),
        },
    }
}

/// The customer's contact, new at `start()`.
async fn new_contact(store: &Store) -> String {
    store
        .resolve_contact(TENANT, &customer(), None, start())
        .await
        .unwrap()
}

async fn record(store: &Store, contact: &str, message: IncomingMessage) {
    store
        .record_message(TENANT, contact, &message)
        .await
        .unwrap();
}

/// Stores `message` through the counting store; returns the Query calls
/// (the metrics' reads of neighbouring messages) and all calls it made.
async fn store_counted(
    store: &Store,
    calls: &Calls,
    contact: &str,
    message: IncomingMessage,
) -> (usize, usize) {
    calls.take();
    record(store, contact, message).await;
    let made = calls.take();
    let queries = made.iter().filter(|op| *op == "Query").count();
    (queries, made.len())
}

async fn assert_exact(stack: &TestStack, contact: &str) {
    let store = stack.store();
    let incremental = store.stored_metrics(TENANT, contact).await.unwrap();
    store.rebuild_metrics(TENANT, contact).await.unwrap();
    let rebuilt = store.stored_metrics(TENANT, contact).await.unwrap();
    assert_eq!(
        incremental
            .as_ref()
            .map(|m| (&m.counters, m.last_message_at)),
        rebuilt.as_ref().map(|m| (&m.counters, m.last_message_at)),
        "the incremental metrics differ from a rebuild"
    );
}

#[tokio::test]
async fn a_long_unanswered_run_costs_later_messages_a_bounded_number_of_reads() {
    let stack = TestStack::new().await;
    let store = stack.store();
    let contact = new_contact(store).await;
    for i in 0..RUN {
        let inbound = message(&format!("in{i}"), at(i), Direction::Inbound);
        record(store, &contact, inbound).await;
    }
    let (counting, calls) = counting_store(&stack);

    // One more unanswered message: nothing to read back.
    let (queries, total) = store_counted(
        &counting,
        &calls,
        &contact,
        message("in-next", at(RUN), Direction::Inbound),
    )
    .await;
    assert_eq!(queries, 0, "an in-order message reads no neighbours");
    assert!(total <= 8, "{total} calls");

    // Late messages inside the unanswered run: still bounded.
    for (id, minute, direction) in [
        ("late-in", RUN / 2, Direction::Inbound),
        ("late-out", RUN / 3, Direction::Outbound),
    ] {
        let late = message(id, at(minute) + Duration::seconds(30), direction);
        let (queries, _) = store_counted(&counting, &calls, &contact, late).await;
        assert!(queries <= 1, "{id}: {queries} queries");
    }

    // The business finally answers: one reply delay, from the first
    // message after its earlier (late) reply.
    let (queries, _) = store_counted(
        &counting,
        &calls,
        &contact,
        message("reply", at(RUN + 10), Direction::Outbound),
    )
    .await;
    assert_eq!(queries, 0, "a reply reads no neighbours");
    let counters = store.metric_counters(TENANT, &contact).await.unwrap();
    assert_eq!(counters["messages_in"], RUN + 2);
    assert_eq!(counters["messages_out"], 2);
    assert_eq!(counters["reply_count"], 2);
    let first_delay = at(RUN / 3) + Duration::seconds(30) - at(0);
    let second_delay = at(RUN + 10) - at(RUN / 3 + 1);
    assert_eq!(
        counters["reply_sum_ms"],
        (first_delay + second_delay).num_milliseconds()
    );
    assert_exact(&stack, &contact).await;
}

#[tokio::test]
async fn late_messages_next_to_replies_keep_the_metrics_exact_with_bounded_reads() {
    let stack = TestStack::new().await;
    let store = stack.store();
    let contact = new_contact(store).await;
    // Short conversations: 3 questions, 1 answer, ten times over.
    let mut minute = 0;
    for turn in 0..10 {
        for q in 0..3 {
            let question = message(&format!("q{turn}-{q}"), at(minute), Direction::Inbound);
            record(store, &contact, question).await;
            minute += 1;
        }
        let answer = message(&format!("a{turn}"), at(minute + 5), Direction::Outbound);
        record(store, &contact, answer).await;
        minute += 10;
    }
    // As an item written before the metrics kept a tail: the next message
    // finds the tail once, back to the latest reply.
    stack
        .clients
        .dynamodb
        .update_item()
        .table_name(&stack.local.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::keys::contact_pk(TENANT, &contact)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("METRICS".into()),
        )
        .update_expression("REMOVE tail_sk, run_sk, run_at")
        .send()
        .await
        .unwrap();
    record(
        store,
        &contact,
        message("q-last", at(minute), Direction::Inbound),
    )
    .await;
    let (counting, calls) = counting_store(&stack);
    // Each lands before, inside or after a run, out of order.
    let late = [
        ("early-q", at(0) - Duration::minutes(30), Direction::Inbound),
        ("mid-a", at(15) + Duration::seconds(20), Direction::Outbound),
        ("mid-q", at(24) - Duration::seconds(10), Direction::Inbound),
        ("dup-a", at(48) + Duration::seconds(1), Direction::Outbound),
        ("gap-q", at(60) + Duration::seconds(1), Direction::Inbound),
    ];
    for (id, when, direction) in late {
        let (queries, _) =
            store_counted(&counting, &calls, &contact, message(id, when, direction)).await;
        assert!(queries <= 4, "{id}: {queries} queries");
    }
    assert_exact(&stack, &contact).await;
}
