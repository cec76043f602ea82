//! The chat widget's parser and Origin check at 64 KiB, 256 KiB and 1 MiB,
//! for shapes an attacker controls: one long text, escapes, padding after the
//! object, deep nesting, many attachments, unknown fields, a long Origin.
//! Ingest refuses bodies over `chat::MAX_BODY_BYTES` (100 KiB) before parsing;
//! the larger sizes show the parser itself stays linear behind that cap.
//! Linear time shows as a flat MiB/s column across the three sizes.
//!
//! `cargo bench -p shared --bench chat_sizes`, or without a release build of
//! every dependency:
//! `cargo test -p shared --bench chat_sizes --config 'profile.dev.package.shared.opt-level=3' --config 'profile.dev.package.serde_json.opt-level=3'`

use std::hint::black_box;

mod common;

use common::{line, time};
use shared::channels::{ParseContext, chat};

const SIZES: [usize; 3] = [64 << 10, 256 << 10, 1 << 20];

fn message(text: &str, tail: &str) -> String {
    format!(
        r#"{{"visitor_id":"v-1","message_id":"m-1","sent_at":"2026-10-25T10:00:00Z","text":"{text}"{tail}}}"#
    )
}

fn shapes(size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("long_text", message(&"a".repeat(size), "")),
        ("escapes", message(&r"\u00e9\n".repeat(size / 8), "")),
        ("trailing_blanks", message("hi", "") + &" ".repeat(size)),
        (
            "deep_nesting",
            message("hi", &format!(r#","attachments":{}"#, "[".repeat(size))),
        ),
        (
            "many_attachments",
            message(
                "hi",
                &format!(
                    r#","attachments":[{}{{}}]"#,
                    r#"{"url":"https://a.example/x.png"},"#.repeat(size / 34)
                ),
            ),
        ),
        (
            "unknown_fields",
            message("hi", &r#","x":"y""#.repeat(size / 8)),
        ),
    ]
}

fn main() {
    let budget = common::budget();
    let ctx = ParseContext {
        received_at: chrono::Utc::now(),
        default_region: None,
    };
    println!("chat::parse (best of up to 5 runs)");
    for size in SIZES {
        for (name, body) in shapes(size) {
            let took = time(budget, || {
                black_box(chat::parse(black_box(body.as_bytes()), &ctx).ok());
            });
            line(name, body.len(), took);
        }
    }
    println!("chat::origin_is_allowed, one long forged Origin");
    let allowed = vec!["https://salon.example".to_string()];
    for size in SIZES {
        let origin = format!("https://{}.example", "a".repeat(size));
        let took = time(budget, || {
            black_box(chat::origin_is_allowed(&allowed, black_box(&origin)));
        });
        line("long_origin", origin.len(), took);
    }
}
