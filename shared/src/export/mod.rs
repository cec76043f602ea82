//! Exports: one contact's conversation (PDF, CSV, TXT), bulk CSV of the
//! business's timeline and a per-contact analytics CSV. Nothing is exported
//! in an API response body: a job writes the file to S3 and `GET
//! /exports/{id}` hands out a short-lived presigned URL (docs/exports.md).

pub mod document;

pub use document::{Document, Entry, EntryKind};

/// Renders a conversation export as PDF bytes; implemented outside `shared`
/// so that only the function that makes PDFs links the typesetter.
pub trait PdfRender: Send + Sync {
    fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, String>;
}
