//! Settings a function reads from its environment (set by template.yaml).

use thiserror::Error;

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const INGEST_QUEUE_URL: &str = "INGEST_QUEUE_URL";
pub const BLOB_BUCKET: &str = "BLOB_BUCKET";
pub const CURSOR_KEY: &str = "CURSOR_KEY";

#[derive(Debug, Error)]
#[error("environment variable {0} is not set")]
pub struct MissingSetting(pub &'static str);

pub fn required(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(MissingSetting(name))
}
