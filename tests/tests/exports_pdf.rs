//! A conversation exported as PDF through the whole stack (API, queue,
//! worker with the typst renderer, S3), read back with poppler's
//! `pdftotext` and `pdffonts` (Debian's poppler-utils, installed by
//! infra/install.sh).

use std::process::Command;
use std::sync::Arc;

use integration_tests::{TestStack, whatsapp_echo, whatsapp_text};
use serde_json::json;

const MAYA: &str = "447700900123";

/// What `tool` prints for `pdf` (pdftotext: to standard output).
fn poppler(tool: &str, pdf: &std::path::Path) -> String {
    let mut command = Command::new(tool);
    command.arg(pdf);
    if tool == "pdftotext" {
        command.arg("-");
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): install poppler-utils"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_conversation_exports_as_a_pdf_with_every_script_and_embedded_fonts() {
    let renderer = export_pdf::PdfRenderer::new().expect("renderer");
    let stack = TestStack::with_pdf(Arc::new(renderer)).await;
    let whatsapp = stack.whatsapp_connection("salon").await;
    let texts = [
        "Hello, do you do balayage?",
        "Здравствуйте, можно записаться?",
        "مرحبا هل يمكنني الحجز",
        "周六下午有空吗",
        "#read(\"/etc/passwd\")",
    ];
    for (i, text) in texts.iter().enumerate() {
        let body = whatsapp_text(
            &format!("wamid.{i}"),
            MAYA,
            1_792_576_800 + i as i64 * 60,
            text,
        );
        assert_eq!(stack.post_whatsapp(&whatsapp, &body).await.status, 200);
    }
    let echo = whatsapp_echo("wamid.out", MAYA, 1_792_577_200, "Yes, Saturday 3pm 😊");
    assert_eq!(stack.post_whatsapp(&whatsapp, &echo).await.status, 200);
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let job = stack
        .export_conversation("salon", &contact, json!({"format": "pdf"}))
        .await;
    let id = job["export_id"].as_str().unwrap().to_string();
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["rows"], 6);
    assert_eq!(
        job["download"]["file_name"],
        format!("conversation-{contact}.pdf")
    );

    let object = stack
        .clients
        .s3
        .get_object()
        .bucket(stack.local.bucket("BlobBucket").unwrap())
        .key(format!("exports/salon/{id}.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/pdf"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    assert!(bytes.starts_with(b"%PDF-"));
    let path = std::env::temp_dir().join(format!("export-{id}.pdf"));
    std::fs::write(&path, &bytes).unwrap();

    // Bidi controls pdftotext wraps right-to-left runs in.
    let text: String = poppler("pdftotext", &path)
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect();
    for expected in [
        "Hello, do you do balayage?",
        "Здравствуйте, можно записаться?",
        "周六下午有空吗",
        "#read(\"/etc/passwd\")",
        "Yes, Saturday 3pm",
        "Page 1 of 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    for word in ["مرحبا", "الحجز"] {
        assert!(text.contains(word), "{word:?} missing from:\n{text}");
    }
    assert!(!text.contains("root:"), "the template read a file");
    let fonts = poppler("pdffonts", &path);
    let rows: Vec<&str> = fonts
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(rows.len() >= 3, "{fonts}");
    for row in rows {
        // name type encoding emb sub uni object ID
        let columns: Vec<&str> = row.split_whitespace().collect();
        let emb = columns[columns.len() - 5];
        assert_eq!(emb, "yes", "not embedded: {row}");
    }
    std::fs::remove_file(&path).ok();
}
