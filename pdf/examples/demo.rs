//! Writes the demo conversation (a salon booking a balayage over WhatsApp)
//! as a PDF; the README's picture is its first page:
//!
//! ```sh
//! cargo run --release -p export-pdf --example demo -- /tmp/demo.pdf
//! pdftoppm -png -r 60 -f 1 -l 1 -singlefile /tmp/demo.pdf docs/images/export-page1
//! ```
//!
//! Prints how long the renderer took to start and to render, so the release
//! build of this file is also the measure of a PDF function's cold start.

use std::time::Instant;

use export_pdf::PdfRenderer;
use shared::export::{Document, Entry, EntryKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "conversation-demo.pdf".into());

    let t0 = Instant::now();
    let renderer = PdfRenderer::new()?;
    let started = t0.elapsed();
    let t1 = Instant::now();
    let pdf = renderer.render(&demo())?;
    let rendered = t1.elapsed();
    std::fs::write(&out, &pdf)?;
    eprintln!(
        "PdfRenderer::new {:.1} ms, first render {:.1} ms, {} bytes -> {out}",
        started.as_secs_f64() * 1e3,
        rendered.as_secs_f64() * 1e3,
        pdf.len()
    );
    Ok(())
}

fn message(at: &str, inbound: bool, author: &str, status: &str, text: &str) -> Entry {
    Entry {
        kind: EntryKind::Message,
        at: format!("2026-11-{at} +00:00"),
        channel: "WhatsApp".into(),
        direction: if inbound { "inbound" } else { "outbound" }.into(),
        author: author.into(),
        status: status.into(),
        text: text.into(),
        attachments: Vec::new(),
        deleted: false,
    }
}

fn one_line(kind: EntryKind, at: &str, channel: &str, direction: &str, text: &str) -> Entry {
    Entry {
        kind,
        at: format!("2026-11-{at} +00:00"),
        channel: channel.into(),
        direction: direction.into(),
        author: String::new(),
        status: String::new(),
        text: text.into(),
        attachments: Vec::new(),
        deleted: false,
    }
}

fn demo() -> Document {
    let chloe = "Staff (Chloé)";
    let mut examples = message(
        "02 19:02:40",
        false,
        chloe,
        "read",
        "Of course! Here are two recent ones on dark brown hair. We need a quick \
         patch test 48 hours before the colour: could you pop in on Thursday?",
    );
    examples.attachments = vec![
        "image: balayage-dark-1.jpg".into(),
        "image: balayage-dark-2.jpg".into(),
    ];
    let mut deleted = message(
        "03 08:15:31",
        true,
        "Customer",
        "",
        shared::export::document::DELETED_MESSAGE,
    );
    deleted.deleted = true;

    Document {
        business: "Maison Lumière Hair Studio".into(),
        contact: "Layla Mori".into(),
        contact_id: "01JD3K8Q2W9M7ZC4T6X1B5N0RA".into(),
        period: "2026-11-01 to 2026-11-30".into(),
        timezone: "Europe/London".into(),
        generated_at: "2026-11-29 10:05:12 +00:00".into(),
        entries: vec![
            message(
                "02 18:41:07",
                true,
                "Customer",
                "read",
                "Hi! I'd love to book a balayage. Do you have anything on Saturday \
                 the 14th? My hair is shoulder length, dark brown at the moment.",
            ),
            message(
                "02 18:41:19",
                false,
                "AI",
                "read",
                "Hi Layla, thanks for getting in touch! For shoulder-length hair a \
                 balayage takes about 3 hours and starts at £145. On Saturday 14 \
                 November we have 10:00 with Chloé or 13:30 with Marcus. Which \
                 suits you?",
            ),
            message(
                "02 18:47:52",
                true,
                "Customer",
                "read",
                "10:00 with Chloé please! Could you send me a few examples first?",
            ),
            examples,
            deleted,
            one_line(
                EntryKind::Call,
                "03 08:17:04",
                "Phone",
                "inbound",
                "Call inbound: completed, 3:12",
            ),
            one_line(
                EntryKind::Booking,
                "03 08:21:40",
                "",
                "",
                "Booking confirmed: Balayage and toner with Chloé at 2026-11-14 10:00:00 +00:00",
            ),
            one_line(
                EntryKind::Payment,
                "03 08:22:15",
                "",
                "",
                "Payment succeeded: 30.00 GBP (Deposit, balayage 14 Nov)",
            ),
            message(
                "03 08:24:02",
                false,
                chloe,
                "read",
                "All booked, see you Thursday for the patch test and on the 14th at \
                 10:00. Please come with dry, unwashed hair. 💇‍♀️",
            ),
            message(
                "03 08:30:45",
                true,
                "Customer",
                "read",
                "شكراً جزيلاً! والدتي تريد حجز موعد أيضاً، هل تتحدثون العربية؟",
            ),
            message(
                "03 08:36:10",
                false,
                "Staff (Nadia)",
                "read",
                "أهلاً وسهلاً! نعم، أنا نادية وأتحدث العربية. يسعدني مساعدة والدتك في الحجز.",
            ),
            message(
                "05 17:58:33",
                true,
                "Customer",
                "delivered",
                "友達も来月予約したいそうです。日本語で大丈夫ですか？",
            ),
            message(
                "05 18:03:27",
                false,
                "Staff (Aiko)",
                "read",
                "はい、大丈夫です！アイコと申します。ご予約をお待ちしております 😊",
            ),
            one_line(
                EntryKind::Booking,
                "14 13:12:09",
                "",
                "",
                "Booking completed: Balayage and toner with Chloé at 2026-11-14 10:00:00 +00:00",
            ),
            one_line(
                EntryKind::Payment,
                "14 13:14:51",
                "",
                "",
                "Payment succeeded: 130.00 GBP (Balayage and toner, balance)",
            ),
            message(
                "14 16:20:00",
                false,
                "AI",
                "delivered",
                "Thank you for visiting today, Layla! To keep the colour fresh, wash \
                 with lukewarm water and a sulphate-free shampoo, and book a toner \
                 refresh in 6 to 8 weeks. Reply here any time.",
            ),
            message(
                "14 16:45:38",
                true,
                "Customer",
                "read",
                "I love it!! ✨ Chloé is amazing, see you in January 👍🏽",
            ),
        ],
    }
}
