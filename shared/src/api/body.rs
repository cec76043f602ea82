//! JSON request bodies, with errors that name the offending field.

use lambda_http::Request;
use serde::de::DeserializeOwned;

use crate::channels::from_json;
use crate::http::ApiError;

pub fn parse_json<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = request.body().as_ref();
    if bytes.is_empty() {
        return Err(ApiError::bad_request("body", "a JSON body is required"));
    }
    Ok(from_json(bytes)?)
}
