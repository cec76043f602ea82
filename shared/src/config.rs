//! The settings a function reads: its process environment in Lambda (set by
//! template.yaml), the template's `Environment` resolved against the local
//! stack in tests and `make dev`.

use std::collections::HashMap;

use thiserror::Error;

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const INGEST_QUEUE_URL: &str = "INGEST_QUEUE_URL";
pub const BLOB_BUCKET: &str = "BLOB_BUCKET";
/// Where finished exports go (under `exports/`), and the queue of export jobs.
pub const EXPORT_BUCKET: &str = "EXPORT_BUCKET";
pub const EXPORT_QUEUE_URL: &str = "EXPORT_QUEUE_URL";
/// Days an export file and its job are kept (the bucket's lifecycle rule).
pub const EXPORT_RETENTION_DAYS: &str = "EXPORT_RETENTION_DAYS";
/// The ARN of the Secrets Manager secret holding the page-cursor key.
pub const CURSOR_KEY_SECRET: &str = "CURSOR_KEY_SECRET";
/// Which provider's webhooks an ingest function receives (`Provider::as_str`).
pub const PROVIDER: &str = "PROVIDER";
/// Local stacks and tests only: where SNS certificates are fetched from.
pub const SNS_ENDPOINT_OVERRIDE: &str = "SNS_ENDPOINT_OVERRIDE";

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} has an unusable value")]
    Invalid { name: &'static str },
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    vars: HashMap<String, String>,
}

impl Settings {
    pub fn from_process() -> Self {
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self { vars }
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<&str, SettingsError> {
        self.optional(name).ok_or(SettingsError::Missing(name))
    }
}
