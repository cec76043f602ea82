//! The pure ingest path: raw WhatsApp webhook bytes -> signature verified ->
//! canonical events. Run with `make bench` (or `cargo bench -p shared`);
//! criterion prints time per delivery and events per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::channels::{ParseContext, meta, whatsapp};
use shared::signature::hmac_sha256_hex;
use std::hint::black_box;

const SECRET: &str = "test_secret";

fn signed(body: &[u8]) -> (Vec<u8>, String) {
    (
        body.to_vec(),
        format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body)),
    )
}

/// A realistic busy delivery: 20 inbound texts and 30 statuses in one POST.
fn batch_body() -> Vec<u8> {
    let messages: Vec<_> = (0..20)
        .map(|i| {
            serde_json::json!({
                "from": "447700900123", "id": format!("wamid.bench{i}"), "timestamp": "1792570441",
                "type": "text", "text": { "body": "Hi, can I book balayage for Saturday morning? \u{1F60A}" }
            })
        })
        .collect();
    let statuses: Vec<_> = (0..30)
        .map(|i| {
            serde_json::json!({
                "id": format!("wamid.out{i}"), "status": "delivered", "timestamp": "1792570934",
                "recipient_id": "447700900123"
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1", "changes": [
            { "field": "messages", "value": {
                "metadata": { "phone_number_id": "110923456789012" },
                "contacts": [{ "profile": { "name": "Maya" }, "wa_id": "447700900123" }],
                "messages": messages } },
            { "field": "messages", "value": { "statuses": statuses } }
        ] }]
    }))
    .unwrap_or_default()
}

fn verify_and_parse(body: &[u8], signature: &str) -> usize {
    assert!(meta::signature_is_valid(SECRET, body, Some(signature)));
    let ctx = ParseContext {
        received_at: chrono::Utc::now(),
        default_region: None,
    };
    whatsapp::parse(body, &ctx)
        .map(|events| events.len())
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "text_message",
            signed(include_bytes!(
                "../../tests/fixtures/whatsapp/text_message.json"
            )),
        ),
        (
            "statuses_batch",
            signed(include_bytes!(
                "../../tests/fixtures/whatsapp/statuses_batch.json"
            )),
        ),
        ("batch_of_50", signed(&batch_body())),
    ];
    let mut group = c.benchmark_group("whatsapp_verify_parse");
    for (name, (body, signature)) in &cases {
        let events = verify_and_parse(body, signature);
        assert!(events > 0);
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(*name, |b| {
            b.iter(|| verify_and_parse(black_box(body), black_box(signature)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
