//! HTML mail bodies to text at 64 KiB, 256 KiB and 1 MiB, for ordinary
//! mail and for shapes that make a careless converter quadratic (many
//! `<style>` elements, deep nesting, entities, tags never closed, runs of
//! line breaks). Prints one line per case: time and throughput. Linear time
//! shows as a flat MB/s column across the three sizes.
//!
//! `cargo bench -p shared --bench email_html`. On a busy machine, the same
//! numbers at opt-level 3 without LTO and without a release build of every
//! dependency:
//! `cargo test -p shared --bench email_html --config 'profile.dev.package.shared.opt-level=3' --config 'profile.dev.package.html5gum.opt-level=3'`

use std::hint::black_box;

mod common;

use common::{line, time};
use shared::channels::email::html_to_text;
use shared::channels::{ParseContext, postmark, ses};

const SIZES: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];

/// `unit` repeated to `size` bytes, between `head` and `tail`.
fn repeat(head: &str, unit: &str, tail: &str, size: usize) -> String {
    let mut html = String::with_capacity(size + unit.len());
    html.push_str(head);
    while html.len() + unit.len() + tail.len() <= size {
        html.push_str(unit);
    }
    html.push_str(tail);
    html
}

fn shapes(size: usize) -> Vec<(&'static str, String)> {
    let nested = size / 11;
    vec![
        (
            "newsletter",
            repeat(
                "<html><head><style>p{margin:0}</style></head><body>",
                "<div class=\"row\"><p>Hi Maya, your <b>balayage</b> is booked for Saturday &amp; \
                 we&#39;ll see you at 10:00.</p><table><tr><td>Cut</td><td>&pound;40</td></tr>\
                 </table><a href=\"https://salon.example/?a=1&amp;b=2\">Manage</a><br></div>\n",
                "</body></html>",
                size,
            ),
        ),
        ("many_style", repeat("", "<style>p{}</style>x", "", size)),
        (
            "deep_nesting",
            format!(
                "{}deep{}",
                "<div>".repeat(nested / 2),
                "</div>".repeat(nested / 2)
            ),
        ),
        (
            "entities",
            repeat("", "&amp;&lt;&#x1F600;&nbsp;&eacute;&#8212;", "", size),
        ),
        ("never_closed", repeat("", "<p><span><b>x", "", size)),
        (
            "breaks_then_paragraphs",
            format!("x{}{}", "<br>".repeat(size / 8), "<p>".repeat(size / 6)),
        ),
    ]
}

fn main() {
    let budget = common::budget();
    println!("html_to_text (best of up to 5 runs)");
    for size in SIZES {
        for (name, html) in shapes(size) {
            let took = time(budget, || {
                black_box(html_to_text(black_box(&html)));
            });
            line(name, html.len(), took);
        }
    }

    // Whole adapters, for a 1 MiB HTML-only mail of the worst shape above.
    let html = repeat("", "<style>p{}</style>x", "", 1 << 20);
    let ctx = ParseContext {
        received_at: chrono::Utc::now(),
        default_region: None,
    };
    let postmark_body = serde_json::to_vec(&serde_json::json!({
        "MessageID": "bench-1", "From": "maya@example.com", "Subject": "Hi",
        "HtmlBody": html,
    }))
    .unwrap_or_default();
    let mime = format!(
        "From: maya@example.com\r\nSubject: Hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    );
    println!("adapters, 1 MiB HTML-only mail of many <style> elements");
    let took = time(budget, || {
        black_box(postmark::parse(black_box(&postmark_body), &ctx).ok());
    });
    line("postmark::parse", postmark_body.len(), took);
    let took = time(budget, || {
        black_box(ses::parse_mime(black_box(mime.as_bytes())).ok());
    });
    line("ses::parse_mime", mime.len(), took);
}
