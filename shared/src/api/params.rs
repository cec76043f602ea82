//! Query-string parameters, validated with errors that name the parameter.

use chrono::{DateTime, Utc};
use lambda_http::{Request, RequestExt};

use crate::http::ApiError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

pub fn limit(request: &Request) -> Result<usize, ApiError> {
    match request
        .query_string_parameters_ref()
        .and_then(|q| q.first("limit"))
    {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("limit", format!("limit must be 1..={MAX_LIMIT}"))
            }),
    }
}

pub fn optional<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .filter(|v| !v.is_empty())
}

/// A comma-separated list of known values (`types=message,call`).
pub fn list(request: &Request, name: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let Some(raw) = optional(request, name) else {
        return Ok(Vec::new());
    };
    let mut values = Vec::new();
    for value in raw.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        if !allowed.contains(&value) {
            return Err(ApiError::bad_request(
                name,
                format!("'{value}' is not one of {}", allowed.join(", ")),
            ));
        }
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
        }
    }
    Ok(values)
}

/// An RFC 3339 instant (`2026-10-21T08:00:00Z`, any offset).
pub fn instant(request: &Request, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    optional(request, name)
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_request(name, format!("'{raw}' is not an RFC 3339 instant"))
                })
        })
        .transpose()
}
