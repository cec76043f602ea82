//! The SQS consumer: turns queued deliveries into timeline writes. Each record
//! succeeds or fails on its own; failures are reported back to SQS (partial
//! batch response) and retried, then dead-lettered.
//!
//! A batch's records run concurrently, except that records naming the same
//! customer (or the same provider object) run one after another in the order
//! they came: one slow, failing or panicking record costs only itself. The
//! handler stops before the invocation's deadline and reports every record it
//! did not finish, so a timeout never fails the records that were done.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use thiserror::Error;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::channels::{
    self, BookingStatus, BookingUpdate, CallUpdate, CanonicalEvent, IncomingMessage, ParseError,
    PaymentUpdate,
};
use crate::delivery::{Delivery, DeliveryError, DeliveryQueue, Payload};
use crate::identity::{Identity, Named};
use crate::model::{Booking, Call, Channel, EventDetail, Payment, Provider};
use crate::store::{ObjectReport, Resolved, Store, StoreError, rank};

/// The handler returns this long before the invocation's deadline: time to
/// build the response and hand it to the Lambda service, which otherwise
/// counts a timeout and retries the whole batch, finished records included.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Records in flight at once. The template's batch size is 10, so a batch
/// runs whole; the bound keeps a larger batch from opening more DynamoDB
/// connections than a 256 MB function should.
pub const MAX_CONCURRENT_RECORDS: usize = 10;

/// A record whose writes keep meeting a merge re-resolves its contact this
/// often; after that SQS redelivers it later.
const MERGE_RETRIES: usize = 4;

/// How a batch is run; `Default` is what the function uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub concurrency: usize,
    /// Stop this long before the deadline.
    pub margin: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            concurrency: MAX_CONCURRENT_RECORDS,
            margin: DEADLINE_MARGIN,
        }
    }
}

/// The Lambda context's deadline (milliseconds since the Unix epoch) as an
/// instant of the monotonic clock; a deadline already past is now.
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    let now = Instant::now();
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    now + Duration::from_millis(deadline_ms).saturating_sub(since_epoch)
}

pub struct NormalizeDeps {
    pub store: Store,
    /// Only read from: loads claim-checked bodies.
    pub deliveries: DeliveryQueue,
}

impl NormalizeDeps {
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::SettingsError> {
        Ok(Self {
            store: Store::from_settings(clients, settings)?,
            deliveries: DeliveryQueue::from_settings(clients, settings)?,
        })
    }
}

// Displayed in logs, so no variant shows what the delivery said: parse and
// JSON errors can quote phone numbers, addresses and message text.
#[derive(Debug, Error)]
pub enum NormalizeError {
    #[error("record has no body")]
    EmptyRecord,
    #[error("envelope: {}", json_error_shape(.0))]
    Envelope(#[from] serde_json::Error),
    #[error("payload: {0}")]
    Payload(#[from] ParseError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where JSON went wrong, without the offending value.
fn json_error_shape(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a delivery",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// Why a record goes back to SQS.
#[derive(Debug)]
enum RecordFailure<E> {
    Error(E),
    /// The record's code panicked; only this record failed.
    Panicked,
    /// Not finished before the deadline.
    Unfinished,
}

/// What records whose relative order matters have in common: a customer
/// identity (the contact is resolved from it) or a provider object, within
/// a tenant. Hashed: only equality matters, and a key holds no personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct OrderKey(u64);

impl OrderKey {
    fn of(parts: &[&str]) -> Self {
        let mut hasher = DefaultHasher::new();
        parts.hash(&mut hasher);
        Self(hasher.finish())
    }

    fn identity(tenant: &str, identity: &Identity) -> Self {
        Self::of(&[tenant, "identity", identity.kind.as_str(), &identity.value])
    }

    fn object(tenant: &str, provider: Provider, id: &str) -> Self {
        Self::of(&[tenant, "object", provider.as_str(), id])
    }
}

/// The keys a delivery's events are ordered by: the customers they name (a
/// contact is resolved from them) and the provider objects (a message and
/// its statuses, a call's reports) they change.
fn order_keys(tenant: &str, events: &[CanonicalEvent]) -> Vec<OrderKey> {
    let mut keys = Vec::new();
    let people = |keys: &mut Vec<OrderKey>, customer: Option<&Identity>, linked: &[Identity]| {
        keys.extend(
            customer
                .into_iter()
                .chain(linked)
                .map(|identity| OrderKey::identity(tenant, identity)),
        );
    };
    for event in events {
        match event {
            CanonicalEvent::Message(m) => {
                people(&mut keys, Some(&m.customer), &m.linked_identities);
                keys.push(OrderKey::object(tenant, m.provider, &m.provider_message_id));
            }
            CanonicalEvent::Status(s) => {
                people(&mut keys, s.customer.as_ref(), &[]);
                keys.push(OrderKey::object(tenant, s.provider, &s.provider_message_id));
            }
            CanonicalEvent::Deletion(d) => {
                keys.push(OrderKey::object(tenant, d.provider, &d.provider_message_id));
            }
            CanonicalEvent::Call(c) => {
                people(&mut keys, Some(&c.customer), &[]);
                keys.push(OrderKey::object(tenant, c.provider, &c.call_id));
            }
            CanonicalEvent::Booking(b) => {
                people(&mut keys, Some(&b.customer), &b.linked_identities);
                keys.push(OrderKey::object(tenant, b.provider, &b.booking_id));
                if let Some(old) = &b.replaces_booking_id {
                    keys.push(OrderKey::object(tenant, b.provider, old));
                }
            }
            CanonicalEvent::Payment(p) => {
                people(&mut keys, p.customer.as_ref(), &p.linked_identities);
                keys.push(OrderKey::object(tenant, p.provider, &p.payment_id));
            }
        }
    }
    keys.sort_unstable_by_key(|k| k.0);
    keys.dedup();
    keys
}

/// A parsed delivery, ready to write.
struct Parsed {
    tenant_id: String,
    connected_at: DateTime<Utc>,
    events: Vec<CanonicalEvent>,
}

/// Runs one SQS batch of the ingest queue, stopping `limits.margin` before
/// `deadline`; the response lists every record not stored.
pub async fn handle_batch(
    deps: &NormalizeDeps,
    event: SqsEvent,
    deadline: Instant,
    limits: BatchLimits,
) -> SqsBatchResponse {
    // Inline bodies (nearly all) are parsed here, in the batch's order, so
    // records of one customer keep that order; a claim-checked body's keys
    // are known only once it is read from S3.
    let starts: Vec<Start<Delivery, Parsed, NormalizeError>> =
        event.records.iter().map(start_record).collect();
    let outcomes = run_ordered(
        starts,
        limits,
        deadline.checked_sub(limits.margin).unwrap_or(deadline),
        |delivery| fetch_and_parse(deps, delivery),
        |parsed| apply_parsed(&deps.store, parsed),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        let Err(failure) = outcome else { continue };
        let id = record.message_id.clone().unwrap_or_default();
        match &failure {
            RecordFailure::Error(error) => {
                tracing::warn!(message_id = %id, %error, "delivery failed; SQS will retry it");
            }
            RecordFailure::Panicked => {
                tracing::error!(message_id = %id, "delivery panicked; SQS will retry it");
            }
            RecordFailure::Unfinished => {
                tracing::warn!(message_id = %id, "delivery unfinished at the deadline; SQS will retry it");
            }
        }
        let mut item = BatchItemFailure::default();
        item.item_identifier = id;
        response.batch_item_failures.push(item);
    }
    response
}

/// One record on its own, start to end, with no deadline and no panic
/// guard: what `handle_batch` does for each record.
pub async fn process_record(
    deps: &NormalizeDeps,
    record: &SqsMessage,
) -> Result<(), NormalizeError> {
    let delivery = envelope(record)?;
    let (parsed, _) = fetch_and_parse(deps, delivery).await?;
    apply_parsed(&deps.store, parsed).await
}

fn envelope(record: &SqsMessage) -> Result<Delivery, NormalizeError> {
    let body = record.body.as_deref().ok_or(NormalizeError::EmptyRecord)?;
    Ok(serde_json::from_str(body)?)
}

fn start_record(record: &SqsMessage) -> Start<Delivery, Parsed, NormalizeError> {
    let delivery = match envelope(record) {
        Ok(delivery) => delivery,
        Err(e) => return Start::Failed(RecordFailure::Error(e)),
    };
    let Payload::Inline { body } = &delivery.payload else {
        return Start::Fetch(delivery);
    };
    // An adapter bug must cost this record only.
    match std::panic::catch_unwind(AssertUnwindSafe(|| parse(&delivery, body))) {
        Ok(Ok(parsed)) => {
            let keys = order_keys(&parsed.tenant_id, &parsed.events);
            Start::Ready(parsed, keys)
        }
        Ok(Err(e)) => Start::Failed(RecordFailure::Error(e)),
        Err(_) => Start::Failed(RecordFailure::Panicked),
    }
}

fn parse(delivery: &Delivery, body: &str) -> Result<Parsed, NormalizeError> {
    let events = channels::parse(
        delivery.provider,
        body.as_bytes(),
        &delivery.parse_context(),
    )?;
    Ok(Parsed {
        tenant_id: delivery.tenant_id.clone(),
        connected_at: delivery.connected_at,
        events,
    })
}

async fn fetch_and_parse(
    deps: &NormalizeDeps,
    delivery: Delivery,
) -> Result<(Parsed, Vec<OrderKey>), NormalizeError> {
    let body = deps.deliveries.body(&delivery.payload).await?;
    let parsed = parse(&delivery, &body)?;
    let keys = order_keys(&parsed.tenant_id, &parsed.events);
    Ok((parsed, keys))
}

async fn apply_parsed(store: &Store, parsed: Parsed) -> Result<(), NormalizeError> {
    for event in &parsed.events {
        if event.occurred_at() < parsed.connected_at {
            continue;
        }
        apply(store, &parsed.tenant_id, event).await?;
    }
    Ok(())
}

/// How a record enters `run_ordered`.
enum Start<D, T, E> {
    /// Ready to apply once the records before it with a shared key are done.
    Ready(T, Vec<OrderKey>),
    /// Needs I/O before its keys are known; it then queues behind the
    /// records already holding them.
    Fetch(D),
    Failed(RecordFailure<E>),
}

/// Runs every record to an outcome, in its position: records with no key in
/// common run concurrently (`limits.concurrency` at once), records sharing a
/// key one after another, in the order they were queued. What has not
/// finished at `cutoff` is dropped (every write is idempotent, so SQS's
/// redelivery completes it) and reported `Unfinished`; a panic fails its
/// record only.
async fn run_ordered<D, T, E, F, FF, A, AF>(
    starts: Vec<Start<D, T, E>>,
    limits: BatchLimits,
    cutoff: Instant,
    fetch: F,
    apply: A,
) -> Vec<Result<(), RecordFailure<E>>>
where
    F: Fn(D) -> FF,
    FF: Future<Output = Result<(T, Vec<OrderKey>), E>>,
    A: Fn(T) -> AF,
    AF: Future<Output = Result<(), E>>,
{
    let permits = Semaphore::new(limits.concurrency.max(1));
    let queues = Queues::default();
    let (permits, queues, fetch, apply) = (&permits, &queues, &fetch, &apply);
    let mut outcomes: Vec<Option<Result<(), RecordFailure<E>>>> = Vec::new();
    let running = FuturesUnordered::new();
    for (index, start) in starts.into_iter().enumerate() {
        outcomes.push(None);
        // Registered now, in queue order; fetched records when their keys are known.
        let job = match start {
            Start::Failed(failure) => {
                outcomes[index] = Some(Err(failure));
                continue;
            }
            Start::Ready(value, keys) => Job::Ready(value, queues.join(&keys)),
            Start::Fetch(data) => Job::Fetch(data),
        };
        let record = async move {
            let (value, mut turn) = match job {
                Job::Ready(value, turn) => (value, turn),
                Job::Fetch(data) => {
                    let fetched = {
                        let _permit = permits.acquire().await;
                        fetch(data).await
                    };
                    let (value, keys) = fetched.map_err(RecordFailure::Error)?;
                    (value, queues.join(&keys))
                }
            };
            turn.wait().await;
            let _permit = permits.acquire().await;
            // `turn` is dropped after this, which lets the next record of its keys go.
            apply(value).await.map_err(RecordFailure::Error)
        };
        running.push(
            AssertUnwindSafe(record)
                .catch_unwind()
                .map(move |result| (index, result.unwrap_or(Err(RecordFailure::Panicked)))),
        );
    }
    let mut running = running;
    let deadline = tokio::time::sleep_until(cutoff);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            next = running.next() => match next {
                Some((index, outcome)) => outcomes[index] = Some(outcome),
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Err(RecordFailure::Unfinished)))
        .collect()
}

enum Job<D, T> {
    Ready(T, Turn),
    Fetch(D),
}

/// Per key, the last record that joined its queue: a record waits for the
/// records that joined before it, and only for those, so waits never cycle.
#[derive(Default)]
struct Queues(Mutex<HashMap<OrderKey, watch::Receiver<()>>>);

/// A record's place in the queues of its keys: it may run once every
/// record ahead of it is done, and its own end (a drop, whatever the
/// outcome) lets the records behind it go.
struct Turn {
    ahead: Vec<watch::Receiver<()>>,
    _done: watch::Sender<()>,
}

impl Queues {
    fn join(&self, keys: &[OrderKey]) -> Turn {
        let (done, finished) = watch::channel(());
        // Nothing panics while the lock is held; a poisoned map is still sound.
        let mut last = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ahead = keys
            .iter()
            .filter_map(|key| last.insert(*key, finished.clone()))
            .collect();
        Turn { ahead, _done: done }
    }
}

impl Turn {
    async fn wait(&mut self) {
        for ahead in &mut self.ahead {
            // Never sent to: this returns when the record ahead drops its sender.
            while ahead.changed().await.is_ok() {}
        }
    }
}

/// Every step is idempotent, so a redelivered record converges to the same state.
pub async fn apply(store: &Store, tenant: &str, event: &CanonicalEvent) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        match apply_once(store, tenant, event).await {
            // The contact it resolved to was merged meanwhile (the write was
            // refused, nothing landed there): the identities moved with the
            // merge, so resolving again finds the surviving contact.
            Err(StoreError::Merged(_)) if attempt < MERGE_RETRIES => attempt += 1,
            outcome => return outcome,
        }
    }
}

async fn apply_once(store: &Store, tenant: &str, event: &CanonicalEvent) -> Result<(), StoreError> {
    match event {
        CanonicalEvent::Message(message) => {
            let sender = message
                .message
                .thread
                .as_ref()
                .and_then(|t| t.sender_authentication);
            let named = Named::all(
                message.provider,
                &message.customer,
                &message.linked_identities,
                sender,
            );
            let Resolved { contact, via } = store
                .resolve_named(
                    tenant,
                    &named,
                    message.customer_name.as_deref(),
                    message.occurred_at,
                )
                .await?;
            if via == message.customer {
                store.record_message(tenant, &contact, message).await?;
            } else {
                // Recorded as arriving through the identity that placed it.
                let placed = IncomingMessage {
                    customer: via,
                    ..message.clone()
                };
                store.record_message(tenant, &contact, &placed).await?;
            }
            store
                .touch_contact(tenant, &contact, message.occurred_at)
                .await
        }
        CanonicalEvent::Status(status) => store.apply_status(tenant, status).await,
        CanonicalEvent::Deletion(deletion) => store.apply_deletion(tenant, deletion).await,
        CanonicalEvent::Call(call) => apply_call(store, tenant, call).await,
        CanonicalEvent::Booking(booking) => apply_booking(store, tenant, booking).await,
        CanonicalEvent::Payment(payment) => apply_payment(store, tenant, payment).await,
    }
}

async fn apply_call(store: &Store, tenant: &str, call: &CallUpdate) -> Result<(), StoreError> {
    // A final report carries the duration, so it also tells when the call began.
    let began = match (call.status.is_final(), call.duration_secs) {
        (true, Some(secs)) => call.at - chrono::Duration::seconds(i64::from(secs)),
        _ => call.at,
    };
    // A contact the call creates was first active when the call began, as
    // if its first report had come first.
    let named = Named::all(call.provider, &call.customer, &[], None);
    let Resolved { contact, via } = store.resolve_named(tenant, &named, None, began).await?;
    let report = ObjectReport {
        provider: call.provider,
        object_id: &call.call_id,
        contact: &contact,
        via: &via,
        channel: Some(Channel::Phone),
        instant: began,
        rank: rank(&[
            i64::from(call.status.is_final()),
            call.sequence.map(i64::from).unwrap_or(0),
            call.status as i64,
            call.at.timestamp_millis(),
        ]),
        detail: EventDetail::Call(Call {
            direction: call.direction,
            status: call.status.as_str().to_string(),
            duration_secs: call.duration_secs,
            recording_url: call.recording_url.clone(),
        }),
    };
    store.upsert_object_event(tenant, report).await?;
    store.touch_contact(tenant, &contact, began).await
}

async fn apply_booking(
    store: &Store,
    tenant: &str,
    booking: &BookingUpdate,
) -> Result<(), StoreError> {
    let named = Named::all(
        booking.provider,
        &booking.customer,
        &booking.linked_identities,
        None,
    );
    let Resolved { contact, via } = store
        .resolve_named(tenant, &named, booking.customer_name.as_deref(), booking.at)
        .await?;
    // A reschedule is a new, live booking; the one it replaces is retired.
    let status = match (booking.status, &booking.replaces_booking_id) {
        (BookingStatus::Rescheduled, Some(_)) => BookingStatus::Created,
        (status, _) => status,
    };
    store
        .upsert_object_event(
            tenant,
            booking_report(
                booking,
                &contact,
                &via,
                &booking.booking_id,
                status,
                booking.replaces_booking_id.clone(),
            ),
        )
        .await?;
    if let Some(old) = &booking.replaces_booking_id {
        let mut retired = booking_report(
            booking,
            &contact,
            &via,
            old,
            BookingStatus::Rescheduled,
            None,
        );
        if let EventDetail::Booking(b) = &mut retired.detail {
            // The new slot belongs to the new booking.
            b.starts_at = None;
            b.ends_at = None;
        }
        store.upsert_object_event(tenant, retired).await?;
    }
    store.touch_contact(tenant, &contact, booking.at).await
}

fn booking_report<'a>(
    booking: &'a BookingUpdate,
    contact: &'a str,
    via: &'a Identity,
    id: &'a str,
    status: BookingStatus,
    replaces: Option<String>,
) -> ObjectReport<'a> {
    ObjectReport {
        provider: booking.provider,
        object_id: id,
        contact,
        via,
        channel: None,
        instant: booking.at,
        rank: rank(&[status as i64, booking.at.timestamp_millis()]),
        detail: EventDetail::Booking(Booking {
            booking_id: id.to_string(),
            status: status.as_str().to_string(),
            service: booking.service.clone(),
            starts_at: booking.starts_at,
            ends_at: booking.ends_at,
            replaces_booking_id: replaces,
        }),
    }
}

async fn apply_payment(
    store: &Store,
    tenant: &str,
    payment: &PaymentUpdate,
) -> Result<(), StoreError> {
    let Some(customer) = &payment.customer else {
        // Nobody to put it on: kept in the dead-letter queue for a person to
        // look at rather than dropped.
        return Err(StoreError::Unattributable(payment.payment_id.clone()));
    };
    let named = Named::all(payment.provider, customer, &payment.linked_identities, None);
    let Resolved { contact, via } = store
        .resolve_named(tenant, &named, payment.customer_name.as_deref(), payment.at)
        .await?;
    let report = ObjectReport {
        provider: payment.provider,
        object_id: &payment.payment_id,
        contact: &contact,
        via: &via,
        channel: None,
        instant: payment.at,
        rank: rank(&[payment.status as i64, payment.at.timestamp_millis()]),
        detail: EventDetail::Payment(Payment {
            payment_id: payment.payment_id.clone(),
            status: payment.status.as_str().to_string(),
            amount_minor: payment.amount_minor,
            currency: payment.currency.clone(),
            refunded_minor: payment.refunded_minor,
            description: payment.description.clone(),
        }),
    };
    store.upsert_object_event(tenant, report).await?;
    store.touch_contact(tenant, &contact, payment.at).await
}

#[cfg(test)]
mod tests {
    use super::*;

    type Log = Mutex<Vec<String>>;

    fn limits(concurrency: usize) -> BatchLimits {
        BatchLimits {
            concurrency,
            ..BatchLimits::default()
        }
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    fn ready(name: &'static str, millis: u64, keys: &[u64]) -> Start<u64, (&'static str, u64), ()> {
        Start::Ready((name, millis), keys.iter().copied().map(OrderKey).collect())
    }

    /// Logs `+name` when a record starts applying and `-name` when it ends.
    async fn record(log: &Log, (name, millis): (&'static str, u64)) -> Result<(), ()> {
        log.lock().unwrap().push(format!("+{name}"));
        if name.starts_with("panic") {
            panic!("injected");
        }
        tokio::time::sleep(Duration::from_millis(millis)).await;
        log.lock().unwrap().push(format!("-{name}"));
        if name.starts_with("error") {
            Err(())
        } else {
            Ok(())
        }
    }

    fn position(log: &[String], entry: &str) -> usize {
        log.iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry} not in {log:?}"))
    }

    /// Fetched records: `n` is how long the fetch takes, then they are
    /// named `fetched` and hold key 1.
    async fn fetch(n: u64) -> Result<((&'static str, u64), Vec<OrderKey>), ()> {
        tokio::time::sleep(Duration::from_millis(n)).await;
        Ok((("fetched", 0), vec![OrderKey(1)]))
    }

    #[tokio::test]
    async fn records_sharing_a_key_run_in_order_and_others_alongside() {
        let log = Log::default();
        let starts = vec![
            ready("a1", 150, &[1]),
            ready("b1", 50, &[2]),
            ready("a2", 0, &[1]),
            ready("ab", 0, &[2, 1]),
            Start::Fetch(20),
        ];
        let outcomes = run_ordered(starts, limits(10), later(), fetch, |r| record(&log, r)).await;
        assert!(outcomes.iter().all(Result::is_ok));
        let log = log.into_inner().unwrap();
        // Different customers overlap; one customer's records follow each other.
        assert!(position(&log, "+b1") < position(&log, "-a1"), "{log:?}");
        assert!(position(&log, "-a1") < position(&log, "+a2"), "{log:?}");
        assert!(position(&log, "-a2") < position(&log, "+ab"), "{log:?}");
        assert!(position(&log, "-b1") < position(&log, "+ab"), "{log:?}");
        // A claim-checked record queues behind what holds its key when it is read.
        assert!(
            position(&log, "-ab") < position(&log, "+fetched"),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn the_limit_bounds_records_in_flight() {
        let log = Log::default();
        let starts = vec![
            ready("a", 30, &[1]),
            ready("b", 30, &[2]),
            ready("c", 30, &[3]),
        ];
        let outcomes = run_ordered(starts, limits(1), later(), fetch, |r| record(&log, r)).await;
        assert!(outcomes.iter().all(Result::is_ok));
        assert_eq!(
            log.into_inner().unwrap(),
            ["+a", "-a", "+b", "-b", "+c", "-c"]
        );
    }

    #[tokio::test]
    async fn a_panic_or_an_error_fails_its_record_only() {
        let log = Log::default();
        let starts = vec![
            ready("panic", 0, &[1]),
            ready("error", 0, &[2]),
            ready("after-panic", 0, &[1]),
            ready("other", 0, &[3]),
            Start::Failed(RecordFailure::Error(())),
        ];
        let outcomes = run_ordered(starts, limits(10), later(), fetch, |r| record(&log, r)).await;
        assert!(matches!(outcomes[0], Err(RecordFailure::Panicked)));
        assert!(matches!(outcomes[1], Err(RecordFailure::Error(()))));
        assert!(outcomes[2].is_ok(), "the record behind a panic still runs");
        assert!(outcomes[3].is_ok());
        assert!(matches!(outcomes[4], Err(RecordFailure::Error(()))));
    }

    #[tokio::test]
    async fn what_is_unfinished_at_the_cutoff_is_reported_and_the_rest_kept() {
        let log = Log::default();
        let starts = vec![
            ready("stuck", 60_000, &[1]),
            ready("behind-stuck", 0, &[1]),
            ready("quick", 0, &[2]),
            Start::Fetch(60_000),
        ];
        let began = Instant::now();
        let cutoff = began + Duration::from_millis(300);
        let outcomes = run_ordered(starts, limits(10), cutoff, fetch, |r| record(&log, r)).await;
        assert!(began.elapsed() < Duration::from_secs(5));
        assert!(matches!(outcomes[0], Err(RecordFailure::Unfinished)));
        assert!(matches!(outcomes[1], Err(RecordFailure::Unfinished)));
        assert!(outcomes[2].is_ok());
        assert!(matches!(outcomes[3], Err(RecordFailure::Unfinished)));
    }

    #[test]
    fn a_deadline_in_the_past_is_now() {
        let now = Instant::now();
        assert!(deadline_from_epoch_millis(0) <= Instant::now());
        let in_ten = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 10_000;
        let deadline = deadline_from_epoch_millis(u64::try_from(in_ten).unwrap());
        let left = deadline - now;
        let about_ten = Duration::from_millis(9_500)..Duration::from_millis(10_500);
        assert!(about_ten.contains(&left), "{left:?}");
    }

    #[test]
    fn one_customer_and_one_message_share_keys_across_deliveries() {
        let ctx = crate::channels::ParseContext {
            received_at: Utc::now(),
            default_region: None,
        };
        let body = |from: &str, id: &str| {
            format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"447700900100","phone_number_id":"1"}},"contacts":[{{"profile":{{"name":"A"}},"wa_id":"{from}"}}],"messages":[{{"from":"{from}","id":"{id}","timestamp":"1792570441","type":"text","text":{{"body":"Hi"}}}}]}}}}]}}]}}"#
            )
        };
        let keys = |tenant: &str, from: &str, id: &str| {
            let events = channels::parse(Provider::Whatsapp, body(from, id).as_bytes(), &ctx)
                .expect("parses");
            order_keys(tenant, &events)
        };
        let shared = |a: &[OrderKey], b: &[OrderKey]| a.iter().any(|k| b.contains(k));
        let first = keys("salon", "447700900123", "wamid.1");
        assert!(shared(&first, &keys("salon", "447700900123", "wamid.2")));
        assert!(shared(&first, &keys("salon", "447700900999", "wamid.1")));
        assert!(!shared(&first, &keys("salon", "447700900999", "wamid.2")));
        assert!(!shared(&first, &keys("other", "447700900123", "wamid.1")));
    }
}
