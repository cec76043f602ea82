//! Query-string parameters, validated with errors that name the parameter.
//! A parameter given with an empty value (`?cursor=`) is the same as one
//! not given (the document says `allowEmptyValue`).

use chrono::{DateTime, Utc};
use lambda_http::{Request, RequestExt};

use crate::http::ApiError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

pub fn limit(request: &Request) -> Result<usize, ApiError> {
    match optional(request, "limit") {
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

/// A comma-separated list of known values (`types=message,call`), each
/// exactly as the document spells it.
pub fn list(request: &Request, name: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let Some(raw) = optional(request, name) else {
        return Ok(Vec::new());
    };
    let mut values = Vec::new();
    for value in raw.split(',') {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_http::RequestExt;

    use super::*;

    fn request(query: &[(&str, &str)]) -> Request {
        let map: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Request::default().with_query_string_parameters(map)
    }

    fn field(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_parameter_is_an_absent_one() {
        let empty = request(&[("limit", ""), ("types", ""), ("from", "")]);
        assert_eq!(limit(&empty).unwrap(), DEFAULT_LIMIT);
        assert!(list(&empty, "types", &["message"]).unwrap().is_empty());
        assert_eq!(instant(&empty, "from").unwrap(), None);
        assert_eq!(field(limit(&request(&[("limit", "0")]))), "limit");
        assert_eq!(field(limit(&request(&[("limit", "x")]))), "limit");
    }

    #[test]
    fn list_items_are_the_documented_values_exactly() {
        let allowed = ["message", "call"];
        let ok = request(&[("types", "call,message,call")]);
        assert_eq!(list(&ok, "types", &allowed).unwrap(), ["call", "message"]);
        for raw in ["message,,call", "message, call", "message,", "Message"] {
            let bad = request(&[("types", raw)]);
            assert_eq!(field(list(&bad, "types", &allowed)), "types", "{raw}");
        }
    }
}
