//! An export job as stored: what was asked, by whom, how far it got.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Channel;

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    /// One contact's conversation.
    Conversation,
    /// Every timeline event of the business in a date range, one CSV row each.
    Events,
    /// One CSV row per contact first seen in a date range, for analysis.
    Contacts,
}

impl Dataset {
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Conversation => "conversation",
            Dataset::Events => "events",
            Dataset::Contacts => "contacts",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Pdf,
    Csv,
    Txt,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Csv => "csv",
            Format::Txt => "txt",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Txt => "text/plain; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Queued => "queued",
            ExportStatus::Running => "running",
            ExportStatus::Done => "done",
            ExportStatus::Failed => "failed",
        }
    }
}

/// What to export, as the admin asked. Instants are inclusive UTC bounds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExportFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Empty: every channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// Event types (`message`, `call`, ...); empty: the dataset's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// Only contacts at this lead stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Internal notes appear only when an admin asks for them.
    #[serde(default)]
    pub include_notes: bool,
    /// Start the CSV with a UTF-8 byte order mark (older Excel needs it to
    /// read UTF-8).
    #[serde(default)]
    pub bom: bool,
}

/// Progress a worker saved after each uploaded part, so a retry resumes
/// instead of starting over.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// The S3 multipart upload holding the parts written so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// The ETag of each part sent, in part order: what completing the
    /// upload needs. Kept here rather than listed from S3 again (at most
    /// `MAX_PARTS` of about 40 bytes each fit the item easily).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etags: Vec<String>,
    /// Where the source stands after the last row of the last part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub export_id: String,
    pub dataset: Dataset,
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub filters: ExportFilters,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub status: ExportStatus,
    /// Why it failed, in words for the admin (never customer content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub progress: Progress,
}

impl ExportJob {
    /// Where the finished file is: under `exports/`, which a lifecycle rule
    /// expires, named by ids only (no personal data in keys or URLs).
    pub fn object_key(&self, tenant: &str) -> String {
        format!(
            "exports/{tenant}/{}.{}",
            self.export_id,
            self.format.extension()
        )
    }

    /// The name a browser saves the download as.
    pub fn file_name(&self) -> String {
        let day = |at: Option<DateTime<Utc>>| at.map(|t| t.format("%Y%m%d").to_string());
        let range = match (day(self.filters.from), day(self.filters.to)) {
            (Some(from), Some(to)) => format!("-{from}-{to}"),
            (Some(from), None) => format!("-from-{from}"),
            (None, Some(to)) => format!("-to-{to}"),
            (None, None) => String::new(),
        };
        let subject = match (&self.dataset, &self.contact_id) {
            (Dataset::Conversation, Some(contact)) => format!("conversation-{contact}"),
            (dataset, _) => dataset.as_str().to_string(),
        };
        format!("{subject}{range}.{}", self.format.extension())
    }
}
