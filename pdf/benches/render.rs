//! Time and size of a 1,000-message conversation PDF (mixed scripts, chat-
//! length and e-mail-length messages, a call/booking/payment now and then).
//! A plain main, not criterion: one render takes long enough that a median
//! of a few runs says what a Lambda invocation costs.
//!
//! `cargo bench -p export-pdf --bench render`; `EXPORT_PDF_BENCH_ENTRIES=5000`
//! measures another size (the limit, say).

use std::time::{Duration, Instant};

use export_pdf::PdfRenderer;
use shared::export::{Document, Entry, EntryKind};

const MESSAGES: usize = 1_000;
const RUNS: usize = 5;

const SAMPLES: [&str; 10] = [
    "Hi! Do you have anything on Saturday morning for a cut and blow-dry?",
    "Yes, 10:30 with Marcus is free. Shall I book it for you? It takes about 45 minutes and costs £48.",
    "Perfect, thank you 😊",
    "Здравствуйте! Можно перенести мою запись на пятницу после обеда?",
    "مرحبا، هل يمكنني حجز موعد لقص الشعر يوم الخميس بعد الظهر؟",
    "你好，我想预约周六下午的剪发，请问还有空位吗？",
    "明日の予約を午後三時に変更できますか？よろしくお願いします。",
    "안녕하세요, 토요일 오전에 염색 예약 가능할까요?",
    "Running 10 minutes late, sorry! 🏃‍♀️ Be there by 2:10 👍🏽",
    "Thanks again for squeezing me in last week. The colour has held up really well, \
     even after a few washes, and several friends asked where I had it done, so you \
     may hear from them. Could we book the same balayage and toner for early \
     December? Any weekday after 4pm works for me, or a Saturday morning. Also, is \
     the olaplex treatment something you would recommend with it, and how much \
     would it add?",
];

/// Deterministic and dependency-free: the same document on every run.
fn document(messages: usize) -> Document {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let entries = (0..messages)
        .map(|i| {
            let r = next();
            let at = format!(
                "2026-{:02}-{:02} {:02}:{:02}:{:02} +00:00",
                1 + (i / 90) % 12,
                1 + (i / 3) % 28,
                9 + i % 9,
                r % 60,
                (r >> 8) % 60
            );
            let inbound = r % 3 != 0;
            let kind = match (r >> 16) % 40 {
                0 => EntryKind::Call,
                1 => EntryKind::Booking,
                2 => EntryKind::Payment,
                _ => EntryKind::Message,
            };
            let text = match kind {
                EntryKind::Call => "Call inbound: completed, 3:12".to_string(),
                EntryKind::Booking => {
                    "Booking confirmed: Cut and blow-dry at 2026-11-14 10:30:00 +00:00".into()
                }
                EntryKind::Payment => "Payment succeeded: 48.00 GBP (Cut and blow-dry)".into(),
                _ => SAMPLES[(r >> 24) as usize % SAMPLES.len()].to_string(),
            };
            let message = kind == EntryKind::Message;
            Entry {
                kind,
                at,
                channel: if message { "WhatsApp" } else { "" }.into(),
                direction: if !message {
                    ""
                } else if inbound {
                    "inbound"
                } else {
                    "outbound"
                }
                .into(),
                author: match (message, inbound) {
                    (false, _) => "",
                    (true, true) => "Customer",
                    (true, false) => "Staff (Chloé)",
                }
                .into(),
                status: if message { "read" } else { "" }.into(),
                text,
                attachments: if (r >> 32) % 25 == 0 {
                    vec!["image: photo.jpg".into()]
                } else {
                    Vec::new()
                },
                deleted: false,
            }
        })
        .collect();
    Document {
        business: "Maison Lumière Hair Studio".into(),
        contact: "Layla Mori".into(),
        contact_id: "01JD3K8Q2W9M7ZC4T6X1B5N0RA".into(),
        period: "2026-01-01 to 2026-12-31".into(),
        timezone: "Europe/London".into(),
        generated_at: "2026-12-31 18:00:00 +00:00".into(),
        entries,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo test --benches` runs this too: one quick pass is enough there.
    let runs = if std::env::args().any(|a| a == "--bench") {
        RUNS
    } else {
        1
    };
    let messages = std::env::var("EXPORT_PDF_BENCH_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MESSAGES);
    let document = document(messages);
    let t = Instant::now();
    let renderer = PdfRenderer::new()?;
    let started = t.elapsed();

    let mut times = Vec::with_capacity(runs);
    let mut pdf = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        pdf = renderer.render(&document)?;
        times.push(t.elapsed());
    }
    let size = pdf.len();
    // Kept for a look (pdfinfo, pdftoppm) after the run.
    let out = std::env::temp_dir().join("export-pdf-bench.pdf");
    std::fs::write(&out, &pdf)?;
    let first = times[0];
    times.sort();
    println!(
        "pdf render, {messages} entries: PdfRenderer::new {:.1} ms; first render {:.0} ms; \
         median of {runs} {:.0} ms (min {:.0}, max {:.0}); {:.0} KB ({size} bytes) -> {}",
        ms(started),
        ms(first),
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1]),
        size as f64 / 1024.0,
        out.display(),
    );
    Ok(())
}
