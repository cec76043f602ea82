//! The pure ingest path per channel: raw webhook bytes -> authenticated ->
//! canonical events. Run with `make bench` (or `cargo bench -p shared`);
//! criterion prints time per delivery and events per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::channels::{
    CanonicalEvent, ParseContext, ParseError, chat, instagram, meta, twilio_signature, twilio_sms,
    whatsapp,
};
use shared::signature::hmac_sha256_hex;

const SECRET: &str = "test_secret";
const SMS_URL: &str = "https://api.lumierehair.example/webhooks/sms/demo-sms";

fn ctx() -> ParseContext<'static> {
    ParseContext {
        received_at: chrono::Utc::now(),
        default_region: Some("GB"),
    }
}

fn meta_signature(body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body))
}

/// A busy WhatsApp delivery: 20 inbound texts and 30 statuses in one POST.
fn whatsapp_batch() -> Vec<u8> {
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

type Pipeline = Box<dyn Fn(&[u8]) -> Result<Vec<CanonicalEvent>, ParseError>>;

fn meta_pipeline(
    parse: fn(&[u8], &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError>,
    signature: String,
) -> Pipeline {
    Box::new(move |body| {
        assert!(meta::signature_is_valid(SECRET, body, Some(&signature)));
        parse(body, &ctx())
    })
}

fn bench(c: &mut Criterion) {
    let whatsapp_text = include_bytes!("../../tests/fixtures/whatsapp/text_message.json").to_vec();
    let whatsapp_batch = whatsapp_batch();
    let instagram_message = include_bytes!("../../tests/fixtures/instagram/message.json").to_vec();
    let sms_inbound = include_bytes!("../../tests/fixtures/twilio_sms/inbound.form").to_vec();
    let sms_signature = twilio_signature::compute_signature(SECRET, SMS_URL, &sms_inbound);
    let chat_message = serde_json::to_vec(&serde_json::json!({
        "visitor_id": "v_bench", "message_id": "m_1", "sent_at": "2026-10-20T17:00:00Z",
        "text": "Do you do balayage?", "visitor": { "email": "maya@example.com", "phone": "07700 900123" },
        "page": { "url": "https://salon.example/?utm_source=google" }
    }))
    .unwrap_or_default();
    let origins = vec!["https://salon.example".to_string()];

    let cases: Vec<(&str, Vec<u8>, Pipeline)> = vec![
        (
            "whatsapp_text",
            whatsapp_text.clone(),
            meta_pipeline(whatsapp::parse, meta_signature(&whatsapp_text)),
        ),
        (
            "whatsapp_batch_of_50",
            whatsapp_batch.clone(),
            meta_pipeline(whatsapp::parse, meta_signature(&whatsapp_batch)),
        ),
        (
            "instagram_message",
            instagram_message.clone(),
            meta_pipeline(instagram::parse, meta_signature(&instagram_message)),
        ),
        (
            "sms_inbound",
            sms_inbound,
            Box::new(move |body| {
                assert!(twilio_signature::signature_is_valid(
                    SECRET,
                    SMS_URL,
                    body,
                    Some(&sms_signature)
                ));
                twilio_sms::parse(body, &ctx())
            }),
        ),
        (
            "chat_message",
            chat_message,
            Box::new(move |body| {
                assert!(chat::request_is_authorized(
                    "pk",
                    &origins,
                    Some("pk"),
                    Some("https://salon.example")
                ));
                chat::parse(body, &ctx())
            }),
        ),
    ];
    let mut group = c.benchmark_group("verify_parse");
    for (name, body, pipeline) in &cases {
        let events = pipeline(body).map(|e| e.len()).unwrap_or(0);
        assert!(events > 0, "{name} produced no events");
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(*name, |b| b.iter(|| pipeline(black_box(body))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
