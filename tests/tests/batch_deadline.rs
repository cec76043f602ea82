//! One slow, failing or panicking record of a normalize batch costs only
//! itself: the other records of the batch are stored, and the handler
//! answers before the invocation's deadline, naming the records it did not
//! finish. The fault is real: the S3 read of the record's claim-checked body
//! is held back, refused or panics under the SDK (`faults`).

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use integration_tests::faults::{Fault, Faults, When};
use integration_tests::{TestStack, sqs_event, whatsapp_text};
use shared::normalize::{self, BatchLimits, NormalizeDeps};
use shared::store::Store;
use tokio::time::Instant;

/// Bodies this large never fit inline: they travel through S3.
const OVERSIZED: usize = 300 * 1024;

/// Ten deliveries of ten customers of `tenant`, as one SQS batch; the first
/// one's body is claim-checked in S3 under `deliveries/{tenant}/`.
async fn batch_of_ten(stack: &TestStack, tenant: &str) -> SqsEvent {
    let connection = stack.whatsapp_connection(tenant).await;
    let long = "balayage ".repeat(OVERSIZED / 9);
    let slow = whatsapp_text("wamid.slow", "447700900100", 1_792_570_441, &long);
    assert_eq!(stack.post_whatsapp(&connection, &slow).await.status, 200);
    for n in 1..=9 {
        let body = whatsapp_text(
            &format!("wamid.fast{n}"),
            &format!("44770090020{n}"),
            1_792_570_441 + n,
            "Hello",
        );
        assert_eq!(stack.post_whatsapp(&connection, &body).await.status, 200);
    }
    let mut records = stack.receive_ingest(10).await;
    // The claim-checked delivery first: the batch's head is the slow one.
    records.sort_by_key(|r| !r.body.as_deref().unwrap_or_default().contains("\"s3\""));
    sqs_event(records)
}

/// Normalize's dependencies, its S3 reads going through `faults`.
fn deps_with(stack: &TestStack, faults: &Faults) -> NormalizeDeps {
    NormalizeDeps {
        store: Store::new(stack.clients.dynamodb.clone(), stack.local.table.clone()),
        deliveries: stack.ingest_queue(faults.s3()),
    }
}

async fn contacts(stack: &TestStack, tenant: &str) -> usize {
    let reply = stack
        .get("/contacts?limit=50", &stack.token(tenant, "admin"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["items"].as_array().unwrap().len()
}

/// Runs the batch with the first record's S3 read meeting `fault`; checks
/// that only that record failed and the nine others were stored.
async fn only_the_faulty_record_fails(fault: Fault, tenant: &str) {
    let stack = TestStack::new().await;
    let event = batch_of_ten(&stack, tenant).await;
    let faults = Faults::new();
    faults.always(When::PathContains(format!("deliveries/{tenant}/")), fault);
    let deps = deps_with(&stack, &faults);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(10);
    let response =
        normalize::handle_batch(&deps, event.clone(), deadline, BatchLimits::default()).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "answered after the deadline: {took:?}"
    );
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [event.records[0].message_id.as_deref().unwrap()],
        "only the faulty record is reported"
    );
    assert_eq!(contacts(&stack, tenant).await, 9, "the nine others stored");

    // SQS hands the failed record back; without the fault it is stored.
    faults.clear();
    let again = normalize::handle_batch(
        &deps,
        sqs_event(vec![event.records[0].clone()]),
        Instant::now() + Duration::from_secs(10),
        BatchLimits::default(),
    )
    .await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(contacts(&stack, tenant).await, 10);
}

#[tokio::test]
async fn a_stalled_record_is_reported_unfinished_before_the_deadline() {
    // Far longer than the invocation: only the deadline ends the wait.
    only_the_faulty_record_fails(Fault::Delay(Duration::from_secs(600)), "stall").await;
}

#[tokio::test]
async fn a_failing_record_fails_alone() {
    only_the_faulty_record_fails(Fault::Fail, "fail").await;
}

#[tokio::test]
async fn a_panicking_record_fails_alone() {
    only_the_faulty_record_fails(Fault::Panic, "panic").await;
}

/// The figures in the report: a batch of ten whose first record's S3 read
/// is slow, run the old way (one record after another, no deadline) and by
/// `handle_batch` (10 s deadline), side by side, each on fresh customers.
/// `infra/test.sh -p integration-tests --test batch_deadline -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement, not a check: prints timings"]
async fn measure_a_batch_with_one_slow_record() {
    const DEADLINE: Duration = Duration::from_secs(10);
    let stack = TestStack::new().await;
    let faults = Faults::new();
    let deps = deps_with(&stack, &faults);
    println!("batch of 10 WhatsApp deliveries, {DEADLINE:?} deadline for handle_batch");
    println!(
        "{:<34} {:>14} {:>22}",
        "first record's S3 read", "sequential", "handle_batch (stored)"
    );
    let cases = [
        ("not delayed", None),
        ("delayed 3 s", Some(Duration::from_secs(3))),
        (
            "delayed 20 s (past the deadline)",
            Some(Duration::from_secs(20)),
        ),
    ];
    for (n, (case, delay)) in cases.into_iter().enumerate() {
        let mut took = Vec::new();
        let mut stored = 0;
        for way in ["sequential", "concurrent"] {
            let tenant = format!("case{n}-{way}");
            let event = batch_of_ten(&stack, &tenant).await;
            faults.clear();
            if let Some(delay) = delay {
                faults.always(
                    When::PathContains(format!("deliveries/{tenant}/")),
                    Fault::Delay(delay),
                );
            }
            let started = Instant::now();
            if way == "sequential" {
                // What handle_batch did before: each record in turn.
                for record in &event.records {
                    normalize::process_record(&deps, record).await.unwrap();
                }
            } else {
                normalize::handle_batch(&deps, event, started + DEADLINE, BatchLimits::default())
                    .await;
            }
            took.push(started.elapsed());
            stored = contacts(&stack, &tenant).await;
        }
        println!(
            "{case:<34} {:>12.0}ms {:>14.0}ms ({stored}/10)",
            took[0].as_secs_f64() * 1000.0,
            took[1].as_secs_f64() * 1000.0
        );
    }
}
