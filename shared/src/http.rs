//! The HTTP layer's error type and the one place errors become status codes
//! and `application/problem+json` bodies.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;
use thiserror::Error;

use crate::channels::ParseError;
use crate::delivery::DeliveryError;
use crate::store::StoreError;

/// What a 503 asks the caller to wait before retrying.
const RETRY_AFTER_SECS: u32 = 1;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    /// The path exists without this method; `allow` lists the ones it has.
    #[error("{detail}")]
    MethodNotAllowed {
        allow: Vec<&'static str>,
        detail: String,
    },
    #[error("the body is larger than {limit} bytes, the most this endpoint takes")]
    PayloadTooLarge { limit: usize },
    /// Over a rate limit; worth retrying after this many seconds.
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: i64,
    },
    /// A service we depend on failed; the caller should retry.
    #[error("upstream: {0}")]
    Upstream(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::BadRequest {
            field: Some(e.field),
            detail: e.detail,
        }
    }
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn method_not_allowed(allow: Vec<&'static str>, detail: impl Into<String>) -> Self {
        ApiError::MethodNotAllowed {
            allow,
            detail: detail.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            // Optimistic writes that kept losing to concurrent ones: the
            // same request succeeds once the others are done.
            ApiError::Store(StoreError::Contention(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Delivery(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "request lost to concurrent writes");
            format!(
                "the data was being changed by other requests; retry after {RETRY_AFTER_SECS} s"
            )
        } else if status.is_server_error() {
            // Internals go to the log, never to the caller.
            tracing::error!(error = %self, "request failed");
            "an internal error occurred; the request can be retried".to_string()
        } else {
            self.to_string()
        };
        let slug = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "-");
        let mut body = json!({
            "type": format!("/problems/{slug}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let ApiError::BadRequest {
            field: Some(field), ..
        } = &self
        {
            body["field"] = json!(field);
        }
        let mut response = respond(status, "application/problem+json", body.to_string());
        let extra = match &self {
            ApiError::MethodNotAllowed { allow, .. } => {
                Some((http::header::ALLOW, allow.join(", ")))
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some((
                http::header::RETRY_AFTER,
                (*retry_after_secs).max(1).to_string(),
            )),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                Some((http::header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            }
            _ => None,
        };
        if let Some((name, value)) = extra
            && let Ok(value) = http::HeaderValue::from_str(&value)
        {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => respond(status, "application/json", text),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                String::new(),
            )
        }
    }
}

pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body.into())
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// Handlers return `Result`; this is where every error becomes a response.
pub fn finish(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn bad_request_names_the_field() {
        let response = ApiError::bad_request("entry[0].id", "missing").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = body_json(&response);
        assert_eq!(body["field"], "entry[0].id");
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Bad Request");
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let response = ApiError::TooManyRequests {
            detail: "slow down".into(),
            retry_after_secs: 17,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "17");
        assert_eq!(body_json(&response)["status"], 429);
        let soon = ApiError::TooManyRequests {
            detail: "slow down".into(),
            retry_after_secs: 0,
        }
        .into_response();
        assert_eq!(soon.headers()[http::header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_lost_optimistic_race_answers_503_with_retry_after() {
        let response =
            ApiError::Store(StoreError::Contention("T#salon#C#01J0".into())).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = body_json(&response);
        assert_eq!(body["status"], 503);
        assert_eq!(body["title"], "Service Unavailable");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("retry"), "{detail}");
        assert!(!detail.contains("salon"), "internals leaked: {detail}");
        // Any other store failure is still a plain 500, without Retry-After.
        let other = ApiError::Store(StoreError::Dynamo("boom".into())).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(other.headers().get(http::header::RETRY_AFTER).is_none());
    }

    #[test]
    fn too_large_is_413_saying_the_limit() {
        let response = ApiError::PayloadTooLarge { limit: 1024 }.into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = body_json(&response);
        assert_eq!(body["status"], 413);
        assert_eq!(body["type"], "/problems/payload-too-large");
        assert!(body["detail"].as_str().unwrap().contains("1024 bytes"));
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let response =
            ApiError::Store(StoreError::Dynamo("secret table arn".into())).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !body_json(&response)["detail"]
                .as_str()
                .unwrap()
                .contains("arn")
        );
    }
}
