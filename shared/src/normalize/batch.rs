//! Runs one SQS batch's records: concurrently up to a limit, in queue order
//! where they share a key, each behind its own panic guard, and never past
//! the invocation's deadline.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::identity::Identity;
use crate::model::Provider;

/// The handler returns this long before the invocation's deadline: time to
/// build the response and hand it to the Lambda service, which otherwise
/// counts a timeout and retries the whole batch, finished records included.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// Records in flight at once. The template's batch size is 10, so a batch
/// runs whole; the bound keeps a larger batch from opening more DynamoDB
/// connections than a 256 MB function should.
pub const MAX_CONCURRENT_RECORDS: usize = 10;

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

/// Why a record goes back to SQS.
#[derive(Debug)]
pub(super) enum RecordFailure<E> {
    Error(E),
    /// The record's code panicked; only this record failed.
    Panicked,
    /// Not finished before the deadline.
    Unfinished,
}

/// What records whose relative order matters have in common: a customer
/// identity (the contact is resolved from it) or a provider object, within
/// a tenant. Hashed: only equality matters, and a key holds no personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct OrderKey(u64);

impl OrderKey {
    fn of(parts: &[&str]) -> Self {
        let mut hasher = DefaultHasher::new();
        parts.hash(&mut hasher);
        Self(hasher.finish())
    }

    pub(super) fn identity(tenant: &str, identity: &Identity) -> Self {
        Self::of(&[tenant, "identity", identity.kind.as_str(), &identity.value])
    }

    pub(super) fn object(tenant: &str, provider: Provider, id: &str) -> Self {
        Self::of(&[tenant, "object", provider.as_str(), id])
    }
}

/// How a record enters `run_ordered`.
pub(super) enum Start<D, T, E> {
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
pub(super) async fn run_ordered<D, T, E, F, FF, A, AF>(
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
}
