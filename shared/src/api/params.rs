//! Query-string parameters, validated with errors that name the parameter.

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
