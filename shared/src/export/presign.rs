//! Downloads: a presigned GET of the finished file, signed again on every
//! `GET /exports/{id}` and valid for at most an hour (URLs signed with a
//! Lambda role's temporary credentials die with the session anyway). The
//! URL makes S3 answer with `Content-Disposition: attachment`.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};

/// The longest a download URL lives.
pub const MAX_URL_TTL: Duration = Duration::from_secs(3600);

/// `Content-Disposition` of a download saved as `file_name` (ids, digits,
/// dashes and dots only: no quoting or encoding needed).
pub fn attachment(file_name: &str) -> String {
    let safe: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}\"")
}

/// A presigned GET of `key`, valid from `now` for `ttl` (at most
/// [`MAX_URL_TTL`]); and when it expires.
pub async fn download_url(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    file_name: &str,
    content_type: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), String> {
    let ttl = ttl.min(MAX_URL_TTL);
    let config = PresigningConfig::builder()
        .start_time(now.into())
        .expires_in(ttl)
        .build()
        .map_err(|e| e.to_string())?;
    let request = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .response_content_disposition(attachment(file_name))
        .response_content_type(content_type)
        .presigned(config)
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or_default();
    Ok((request.uri().to_string(), expires))
}
