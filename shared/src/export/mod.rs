//! Exports: one contact's conversation (PDF, CSV, TXT), a bulk CSV of the
//! business's timeline events and a per-contact analytics CSV. Nothing is
//! exported in an API response body: a job on the export queue writes the
//! file to S3 and `GET /exports/{id}` hands out a short-lived presigned URL
//! (docs/exports.md).

pub mod csv;
pub mod document;
pub mod job;
pub mod presign;
mod sources;
pub use sources::BULK_EVENT_TYPES;
pub mod upload;
pub mod worker;

pub use document::{Document, Entry, EntryKind};
pub use job::{Dataset, ExportFilters, ExportJob, ExportStatus, Format};
pub use worker::{ExportDeps, ExportLimits};

/// Renders a conversation as PDF. The renderer (typst and its fonts) lives
/// in its own crate, linked only into the export function.
pub trait PdfRender: Send + Sync {
    fn render_pdf(&self, document: &Document) -> Result<Vec<u8>, String>;
}

/// Days a finished export (and its job) is kept: `EXPORT_RETENTION_DAYS`,
/// which the bucket's lifecycle rule is set from too; 7 when unset.
pub fn retention_days(
    settings: &crate::config::Settings,
) -> Result<i64, crate::config::SettingsError> {
    let name = crate::config::EXPORT_RETENTION_DAYS;
    match settings.optional(name) {
        None => Ok(7),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or(crate::config::SettingsError::Invalid { name }),
    }
}
