//! The PDF of one conversation export (issue #11): a typst template laid out
//! over [`shared::export::Document`], with Noto fonts embedded in the binary.
//!
//! The document reaches the template only as JSON bytes in `sys.inputs`,
//! decoded there with `json(..)`: customer text is a string value, never
//! markup, so `#read(..)`, `*bold*` or `$x$` in a message print as typed. The
//! typst world knows one file (the template) and the fonts below: no file
//! system, no packages, no system fonts.

use shared::export::{Document, PdfRender};
use typst::diag::{SourceDiagnostic, Warned};
use typst::ecow::EcoVec;
use typst::foundations::{Bytes, Dict, Value};
use typst::text::Font;
use typst_as_lib::{TypstAsLibError, TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;
use typst_pdf::PdfOptions;

/// Most entries a PDF holds; past it [`PdfRenderer::render`] refuses (the
/// worker stops reading there already).
pub use shared::export::worker::MAX_PDF_ENTRIES;

const TEMPLATE_NAME: &str = "conversation.typ";
const TEMPLATE: &str = include_str!("conversation.typ");

/// An embedded face and the family name the template's font list uses for
/// it: checked at start-up, because typst silently falls back to another
/// font when a family name does not match.
struct EmbeddedFont {
    file: &'static str,
    data: &'static [u8],
    /// The face's index in a collection (TTC); 0 for a single font.
    index: u32,
    family: &'static str,
}

/// Latin, Greek and Cyrillic; Arabic; Chinese, Japanese and Korean; emoji.
/// Only the Simplified Chinese face of the CJK collection is loaded: every
/// face covers Han, kana and Hangul, and the template asks for Japanese or
/// Korean glyph forms through `lang` (the fonts' `locl` feature).
const FONTS: [EmbeddedFont; 5] = [
    EmbeddedFont {
        file: "NotoSans-Regular.ttf",
        data: include_bytes!("../fonts/NotoSans-Regular.ttf"),
        index: 0,
        family: "Noto Sans",
    },
    EmbeddedFont {
        file: "NotoSans-Bold.ttf",
        data: include_bytes!("../fonts/NotoSans-Bold.ttf"),
        index: 0,
        family: "Noto Sans",
    },
    EmbeddedFont {
        file: "NotoSansArabic-Regular.ttf",
        data: include_bytes!("../fonts/NotoSansArabic-Regular.ttf"),
        index: 0,
        family: "Noto Sans Arabic",
    },
    EmbeddedFont {
        file: "NotoSansCJK-Regular.ttc",
        data: include_bytes!("../fonts/NotoSansCJK-Regular.ttc"),
        index: 2,
        family: "Noto Sans CJK SC",
    },
    EmbeddedFont {
        file: "NotoColorEmoji.ttf",
        data: include_bytes!("../fonts/NotoColorEmoji.ttf"),
        index: 0,
        family: "Noto Color Emoji",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "the conversation has {entries} entries; a PDF holds at most {max}: \
         export it as CSV or TXT, or choose a shorter period"
    )]
    TooManyEntries { entries: usize, max: usize },
    #[error("embedded font {file} (face {index}) could not be loaded as {expected:?}")]
    Font {
        file: &'static str,
        index: u32,
        expected: &'static str,
    },
    #[error("could not encode the document as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the PDF template failed: {0}")]
    Template(String),
    #[error("PDF export failed: {0}")]
    Export(String),
}

/// Lays out conversation exports. Build one per process: it parses the fonts
/// and the template once, and `render` only lays out and writes.
pub struct PdfRenderer {
    engine: TypstEngine<TypstTemplateMainFile>,
}

impl PdfRenderer {
    /// Parses the embedded fonts (no copy: typst reads the static bytes in
    /// place) and the template.
    pub fn new() -> Result<Self, PdfError> {
        let mut fonts = Vec::with_capacity(FONTS.len());
        for f in &FONTS {
            let font = Font::new(Bytes::new(f.data), f.index)
                .filter(|font| font.info().family.eq_ignore_ascii_case(f.family))
                .ok_or(PdfError::Font {
                    file: f.file,
                    index: f.index,
                    expected: f.family,
                })?;
            fonts.push(font);
        }
        Ok(Self {
            engine: engine(TEMPLATE, fonts),
        })
    }

    /// The PDF of `document`, or [`PdfError::TooManyEntries`] past
    /// [`MAX_PDF_ENTRIES`].
    pub fn render(&self, document: &Document) -> Result<Vec<u8>, PdfError> {
        let (laid_out, _warnings) = self.lay_out(document)?;
        // No timestamp: the export's own time is printed in its header, and
        // the same document then gives the same bytes.
        typst_pdf::pdf(&laid_out, &PdfOptions::default())
            .map_err(|diagnostics| PdfError::Export(messages(&diagnostics)))
    }

    /// The pages, and typst's warnings (an unknown font family, say), which
    /// only the tests look at: none of them stops a PDF.
    fn lay_out(
        &self,
        document: &Document,
    ) -> Result<(PagedDocument, EcoVec<SourceDiagnostic>), PdfError> {
        if document.entries.len() > MAX_PDF_ENTRIES {
            return Err(PdfError::TooManyEntries {
                entries: document.entries.len(),
                max: MAX_PDF_ENTRIES,
            });
        }
        let json = serde_json::to_vec(document)?;
        let mut inputs = Dict::new();
        // Bytes, not a string: typst's json() reads a string argument as a
        // file path, bytes as the data itself.
        inputs.insert("document".into(), Value::Bytes(Bytes::new(json)));

        let Warned { output, warnings } = self.engine.compile_with_input(inputs);
        Ok((output.map_err(template_error)?, warnings))
    }
}

impl PdfRender for PdfRenderer {
    fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, String> {
        self.render(document).map_err(|e| e.to_string())
    }
}

/// A typst world with one file, `template`, and `fonts`. No file resolver
/// beyond the template and no package resolver: `read`, `image`, `json`,
/// `include` or `import` of anything else fails.
fn engine(template: &str, fonts: Vec<Font>) -> TypstEngine<TypstTemplateMainFile> {
    TypstEngine::builder()
        .main_file((TEMPLATE_NAME, template))
        .fonts(fonts)
        .build()
}

fn template_error(error: TypstAsLibError) -> PdfError {
    match error {
        TypstAsLibError::TypstSource(diagnostics) => PdfError::Template(messages(&diagnostics)),
        other => PdfError::Template(other.to_string()),
    }
}

fn messages(diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::export::{Entry, EntryKind};

    #[test]
    fn the_template_names_exactly_the_embedded_families() {
        for f in &FONTS {
            assert!(
                TEMPLATE.contains(&format!("\"{}\"", f.family)),
                "{}",
                f.family
            );
        }
    }

    #[test]
    fn the_world_has_no_file_system_and_no_packages() {
        for source in [
            r#"#read("/etc/passwd")"#,
            r#"#read("../../../../etc/passwd")"#,
            r#"#image("/usr/share/pixmaps/debian-logo.png")"#,
            r#"#include "/etc/hostname""#,
            r#"#import "@preview/cetz:0.3.4": canvas"#,
        ] {
            let world = engine(source, Vec::new());
            let result = world.compile::<PagedDocument>().output;
            assert!(result.is_err(), "{source} compiled");
        }
    }

    #[test]
    fn every_script_lays_out_without_a_warning() {
        let text = "Hello Здравствуйте مرحبا 你好 こんにちは 안녕하세요 💇‍♀️ 👍🏽 🇫🇷";
        let entry = Entry {
            kind: EntryKind::Message,
            at: "2026-10-21 09:14:01 +01:00".into(),
            channel: "WhatsApp".into(),
            direction: "inbound".into(),
            author: "Customer".into(),
            status: "read".into(),
            text: text.into(),
            attachments: vec!["image: a.jpg".into()],
            deleted: false,
        };
        let document = Document {
            business: "Salon".into(),
            contact: "Ana".into(),
            contact_id: "C".into(),
            period: "all time".into(),
            timezone: "UTC".into(),
            generated_at: "2026-11-02 10:00:00 +00:00".into(),
            entries: vec![entry],
        };
        let renderer = PdfRenderer::new().unwrap();
        let (_, warnings) = renderer.lay_out(&document).unwrap();
        assert!(warnings.is_empty(), "{}", messages(&warnings));
    }
}
