//! Renders real PDFs and reads them back with poppler (pdftotext, pdffonts,
//! pdfinfo): what a person opening the file would see. The poppler tools are
//! required, not optional: infra/install.sh installs them (poppler-utils).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use export_pdf::{MAX_PDF_ENTRIES, PdfError, PdfRenderer};
use shared::export::document::DELETED_MESSAGE;
use shared::export::{Document, Entry, EntryKind, PdfRender};

const ENGLISH: &str = "Could you move my appointment to Friday afternoon?";
const CYRILLIC: &str = "Здравствуйте! Можно записаться на стрижку в субботу?";
/// No Arabic comma inside: pdftotext (poppler 22.12) moves the word before a
/// "،" to the end of the line it extracts, though the page shows it right.
const ARABIC: &str = "مرحبا هل يمكنني حجز موعد يوم الخميس؟";
const CHINESE: &str = "你好，我想预约周六下午的剪发。";
const JAPANESE: &str = "明日の予約を変更できますか？";
const KOREAN: &str = "안녕하세요, 토요일에 예약할 수 있나요?";
const EMOJI: &str = "Thanks 👍🏽 see you in Paris 🇫🇷 soon 😀";
/// Typst markup, code and math that must print as typed.
const INJECTION: &str = r#"#read("/etc/passwd") #import "@preview/x:0.1.0": * ] *bold* _it_ $x^2$ <label> @ref #eval("1 + 1") // not a comment"#;
const CALL: &str = "Call inbound: completed, 2:05";
const BOOKING: &str = "Booking confirmed: Balayage at 2026-10-24 10:00:00 +01:00";
const PAYMENT: &str = "Payment succeeded: 45.00 GBP (Deposit)";
const NOTE: &str = "Internal note: prefers afternoon slots";

fn renderer() -> &'static PdfRenderer {
    static RENDERER: OnceLock<PdfRenderer> = OnceLock::new();
    RENDERER.get_or_init(|| PdfRenderer::new().expect("the embedded fonts load"))
}

fn entry(kind: EntryKind, direction: &str, text: &str) -> Entry {
    let message = kind == EntryKind::Message;
    Entry {
        kind,
        at: "2026-10-21 09:14:01 +01:00".into(),
        channel: if kind == EntryKind::Note {
            ""
        } else {
            "WhatsApp"
        }
        .into(),
        direction: direction.into(),
        author: match (message, direction) {
            (true, "inbound") => "Customer",
            (true, _) => "Staff (u-7)",
            _ => "",
        }
        .into(),
        status: if message { "read" } else { "" }.into(),
        text: text.into(),
        attachments: Vec::new(),
        deleted: false,
    }
}

fn document(entries: Vec<Entry>) -> Document {
    Document {
        business: "Salon Étoile".into(),
        contact: "Ana Петрова".into(),
        contact_id: "01JCONTACT".into(),
        period: "2026-10-01 to 2026-10-31".into(),
        timezone: "Europe/London".into(),
        generated_at: "2026-11-02 10:00:00 +00:00".into(),
        entries,
    }
}

fn multilingual() -> Document {
    let mut with_attachment = entry(EntryKind::Message, "outbound", ENGLISH);
    with_attachment.attachments = vec!["image: price-list.jpg".into()];
    let mut deleted = entry(EntryKind::Message, "inbound", DELETED_MESSAGE);
    deleted.deleted = true;
    document(vec![
        with_attachment,
        entry(EntryKind::Message, "inbound", CYRILLIC),
        entry(EntryKind::Message, "inbound", ARABIC),
        entry(EntryKind::Message, "outbound", CHINESE),
        entry(EntryKind::Message, "inbound", JAPANESE),
        entry(EntryKind::Message, "inbound", KOREAN),
        entry(EntryKind::Message, "inbound", EMOJI),
        entry(EntryKind::Message, "inbound", INJECTION),
        deleted,
        entry(EntryKind::Call, "inbound", CALL),
        entry(EntryKind::Booking, "", BOOKING),
        entry(EntryKind::Payment, "", PAYMENT),
        entry(EntryKind::Note, "", NOTE),
    ])
}

/// A PDF written to a file of its own, removed when dropped.
struct PdfFile(PathBuf);

impl PdfFile {
    fn write(name: &str, bytes: &[u8]) -> Self {
        let path =
            std::env::temp_dir().join(format!("export-pdf-{name}-{}.pdf", std::process::id()));
        std::fs::write(&path, bytes).expect("write the PDF to the temp dir");
        Self(path)
    }
}

impl Drop for PdfFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs a poppler tool on `pdf` and returns its standard output. Fails, not
/// skips, when the tool is missing: a skipped check would pass CI unseen.
fn poppler(tool: &str, args: &[&str], pdf: &PdfFile) -> String {
    let output = Command::new(tool)
        .args(args)
        .arg(&pdf.0)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[] })
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {tool} ({e}): install poppler-utils \
                 (`apt-get install poppler-utils`, or run infra/install.sh)"
            )
        });
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("poppler prints UTF-8")
}

/// pdftotext's text with the bidi controls it wraps right-to-left runs in
/// removed and every run of whitespace made one space.
fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn page_count(pdf: &PdfFile) -> usize {
    let info = poppler("pdfinfo", &[], pdf);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in pdfinfo's output:\n{info}"))
}

#[test]
fn every_script_and_every_kind_of_entry_reads_back() {
    let pdf = PdfFile::write("scripts", &renderer().render(&multilingual()).unwrap());
    let text = normalized(&poppler("pdftotext", &[], &pdf));
    for sample in [
        ENGLISH, CYRILLIC, ARABIC, CHINESE, JAPANESE, KOREAN, CALL, BOOKING, PAYMENT, NOTE,
    ] {
        assert!(text.contains(sample), "{sample:?} missing from:\n{text}");
    }
    // Emoji are pictures (Type 3 glyphs), not text: the words around them
    // must still be there.
    for words in ["Thanks", "see you in Paris", "soon"] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
    for header in [
        "Conversation with Ana Петрова",
        "Salon Étoile",
        "2026-10-01 to 2026-10-31",
        "Europe/London",
        "2026-11-02 10:00:00 +00:00",
        "2026-10-21 09:14:01 +01:00",
        "WhatsApp · inbound · Customer · read",
        "Attachment: image: price-list.jpg",
        DELETED_MESSAGE,
    ] {
        assert!(text.contains(header), "{header:?} missing from:\n{text}");
    }
}

#[test]
fn typst_markup_in_a_message_prints_literally_and_reads_no_file() {
    let pdf = PdfFile::write("injection", &renderer().render(&multilingual()).unwrap());
    let text = normalized(&poppler("pdftotext", &[], &pdf));
    assert!(
        text.contains(INJECTION),
        "{INJECTION:?} missing from:\n{text}"
    );
    assert!(!text.contains("root:"), "/etc/passwd leaked:\n{text}");
    // #eval("1 + 1") would have printed 2 where the call stands.
    assert!(!text.contains("@ref 2"));
}

#[test]
fn every_font_is_embedded() {
    let pdf = PdfFile::write("fonts", &renderer().render(&multilingual()).unwrap());
    let listing = poppler("pdffonts", &[], &pdf);
    // After two header lines, one font a line: name, type, encoding, then
    // emb sub uni and the object number and generation. Names may be long
    // enough to shift the columns, so count from the right.
    let fonts: Vec<&str> = listing
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        fonts.len() >= 5,
        "expected Noto Sans regular and bold, Arabic, CJK and emoji:\n{listing}"
    );
    for font in fonts {
        let columns: Vec<&str> = font.split_whitespace().collect();
        let emb = columns.len().checked_sub(5).map(|i| columns[i]);
        assert_eq!(emb, Some("yes"), "not embedded: {font}\n{listing}");
    }
}

#[test]
fn pages_are_numbered_and_a_long_conversation_spans_pages() {
    let entries = (0..300)
        .map(|i| match i % 10 {
            0 => entry(EntryKind::Call, "inbound", CALL),
            3 => entry(EntryKind::Message, "inbound", ARABIC),
            5 => entry(
                EntryKind::Message,
                "outbound",
                &format!("{ENGLISH} {CHINESE} {i}"),
            ),
            7 => entry(EntryKind::Message, "inbound", &[CYRILLIC; 4].join(" ")),
            _ => entry(EntryKind::Message, "inbound", &format!("{ENGLISH} ({i})")),
        })
        .collect();
    let pdf = PdfFile::write("long", &renderer().render(&document(entries)).unwrap());
    let pages = page_count(&pdf);
    assert!(pages >= 5, "300 entries on only {pages} pages");
    let text = normalized(&poppler("pdftotext", &[], &pdf));
    for n in [1, 2, pages] {
        let footer = format!("Page {n} of {pages}");
        assert!(text.contains(&footer), "{footer:?} missing");
    }
    // Every page after the first repeats who the conversation is with.
    assert_eq!(
        text.matches("Conversation with Ana Петрова").count(),
        pages,
        "title on page 1, running header on the others"
    );
}

#[test]
fn an_empty_conversation_is_one_page() {
    let pdf = PdfFile::write("empty", &renderer().render(&document(Vec::new())).unwrap());
    assert_eq!(page_count(&pdf), 1);
    let text = normalized(&poppler("pdftotext", &[], &pdf));
    assert!(text.contains("Page 1 of 1"), "{text}");
}

#[test]
fn more_entries_than_the_limit_are_refused() {
    let entries = vec![entry(EntryKind::Message, "inbound", ENGLISH); MAX_PDF_ENTRIES + 1];
    let doc = document(entries);
    match renderer().render(&doc) {
        Err(PdfError::TooManyEntries { entries, max }) => {
            assert_eq!((entries, max), (5_001, 5_000));
        }
        other => panic!("expected TooManyEntries, got {other:?}"),
    }
    let message = renderer().render_pdf(&doc).unwrap_err();
    assert!(
        message.contains("5001") && message.contains("CSV"),
        "{message}"
    );
}

#[test]
fn control_characters_long_words_and_long_mails_stay_on_the_page() {
    let word = "ж".repeat(500);
    let mail = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(400);
    let link = format!("https://example.com/{}", "abcdefghij".repeat(30));
    let texts = [
        "nul \u{0} bell \u{7} escape \u{1b} end",
        "\u{202E}override\u{202C} and \u{2067}isolate without its pop",
        "unassigned \u{FFFF} \u{10FFFF} private \u{E000}",
        &word,
        &link,
        &mail,
    ];
    let entries = texts
        .iter()
        .map(|t| entry(EntryKind::Message, "inbound", t))
        .collect();
    let pdf = PdfFile::write("hostile", &renderer().render(&document(entries)).unwrap());
    assert!(page_count(&pdf) >= 3, "a 23,000-character mail spans pages");

    let text = poppler("pdftotext", &[], &pdf);
    assert_eq!(text.matches('ж').count(), 500, "the long word was cut");
    // Every word's right edge inside the right margin (A4 is 595 pt wide,
    // the margin 18 mm = 51 pt).
    let boxes = poppler("pdftotext", &["-bbox"], &pdf);
    let right_edges: Vec<f64> = boxes
        .split("xMax=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    assert!(right_edges.len() > 100, "{boxes}");
    let widest = right_edges.iter().cloned().fold(0.0, f64::max);
    assert!(widest <= 595.3 - 51.0 + 0.5, "text reaches x = {widest} pt");
}
