//! Throughput of the whole write path against the emulators:
//! signed webhooks -> ingest -> SQS -> normalize -> DynamoDB Local, next to
//! the raw BatchWriteItem throughput of the same DynamoDB Local. The ratio is
//! the figure that matters (the emulators' absolute speed is not AWS's).
//!
//! `make bench` runs it; `cargo run --release -p devtools --bin bench-pipeline -- N C`
//! with the emulators up pushes N deliveries with C concurrent consumers.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{TimeZone, Utc};
use devtools::BoxError;
use devtools::clients::LocalClients;
use devtools::gateway::{Functions, Gateway};
use devtools::poller::QueuePoller;
use devtools::provision::provision;
use devtools::template::Template;
use devtools::tokens::DevTokens;
use devtools::webhooks::signed_request;
use shared::model::Provider;
use shared::store::{Connection, Secrets};

const SECRET: &str = "bench_secret";

fn delivery(i: usize) -> Vec<u8> {
    let from = format!("4477009{:05}", i % 500);
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
            "metadata": { "phone_number_id": "110923456789012" },
            "contacts": [{ "profile": { "name": "Bench Customer" }, "wa_id": from }],
            "messages": [{ "from": from, "id": format!("wamid.bench.{i}"), "timestamp": (1_792_570_000 + i).to_string(),
                "type": "text", "text": { "body": "Hi, can I book balayage for Saturday morning?" } }]
        } }] }]
    }))
    .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let consumers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let clients = LocalClients::from_env()?;
    let template = Template::load_default()?;
    let prefix = format!(
        "bench{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let stack = provision(&clients, &template, &prefix).await?;
    let functions = Arc::new(Functions::new(&clients, &template, &stack, None, None).await?);
    let gateway = Gateway::new(template.routes(), functions.clone(), DevTokens::random());
    let connection = Connection {
        connection_id: format!("{prefix}-wa"),
        tenant_id: "bench".into(),
        provider: Provider::Whatsapp,
        external_id: None,
        connected_at: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
        config: Default::default(),
        secrets: Secrets::default().with("app_secret", SECRET),
    };
    functions.store.put_connection(&connection).await?;

    // 1. Webhooks in: verify, parse, queue.
    let started = Instant::now();
    for i in 0..n {
        let request = signed_request(&connection, "http://127.0.0.1", "", delivery(i), Utc::now())?;
        let status = gateway.handle(request).await.status();
        if !status.is_success() {
            return Err(format!("delivery {i} answered {status}").into());
        }
    }
    let ingest_secs = started.elapsed().as_secs_f64();

    // 2. SQS -> normalize -> DynamoDB, with `consumers` concurrent batches.
    let queue = stack.queue("IngestQueue")?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..consumers {
        let poller = QueuePoller {
            sqs: clients.sqs.clone(),
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
            region: clients.region.clone(),
            function: "NormalizeFunction".into(),
            batch_size: 10,
            functions: functions.clone(),
            retry_delay_secs: 0,
        };
        workers.push(tokio::spawn(async move {
            let (mut processed, mut batches, mut in_handler) = (0, 0, std::time::Duration::ZERO);
            loop {
                match poller.poll_once(0).await {
                    Ok(outcome) if outcome.received == 0 => {
                        return Ok::<_, String>((processed, batches, in_handler));
                    }
                    Ok(outcome) => {
                        processed += outcome.received - outcome.failed;
                        batches += 1;
                        in_handler += outcome.handler_time;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }));
    }
    let (mut processed, mut batches, mut in_handler) = (0, 0, 0.0);
    for worker in workers {
        let (p, b, h) = worker.await??;
        processed += p;
        batches += b;
        in_handler += h.as_secs_f64();
    }
    let normalize_secs = started.elapsed().as_secs_f64();

    // 3. The emulator's raw write speed: BatchWriteItem of similar items.
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..consumers {
        let db = clients.dynamodb.clone();
        let table = stack.table.clone();
        writers.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let mut batch = Vec::new();
                while batch.len() < 25 && i < n {
                    let item = [
                        ("pk", format!("RAW#{}", i % 500)),
                        ("sk", format!("EV#{i:08}")),
                        (
                            "body",
                            "Hi, can I book balayage for Saturday morning? ".repeat(6),
                        ),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), AttributeValue::S(v)))
                    .collect();
                    batch.push(
                        WriteRequest::builder()
                            .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                            .build(),
                    );
                    i += consumers;
                }
                db.batch_write_item()
                    .request_items(&table, batch)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), BoxError>(())
        }));
    }
    for writer in writers {
        writer.await?.map_err(|e| e.to_string())?;
    }
    let raw_secs = started.elapsed().as_secs_f64();

    let ingest_rate = n as f64 / ingest_secs;
    let pipeline_rate = processed as f64 / normalize_secs;
    let raw_rate = n as f64 / raw_secs;
    println!("deliveries: {n} (1 message each, 500 customers), consumers: {consumers}");
    println!("ingest (verify + parse + SQS send):      {ingest_rate:>9.0} deliveries/s");
    println!(
        "normalize (SQS -> DynamoDB, exactly once): {pipeline_rate:>7.0} events/s ({processed} records in {batches} batches)"
    );
    println!(
        "  of which inside the normalize handler:  {:>7.0} events/s per consumer (the rest is moto's SQS)",
        processed as f64 / in_handler
    );
    println!("raw BatchWriteItem, same emulator:       {raw_rate:>9.0} items/s");
    println!(
        "pipeline / raw write ratio:              {:>9.3}",
        pipeline_rate / raw_rate
    );
    Ok(())
}
