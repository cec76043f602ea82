//! Opaque page cursors. A cursor is bound to the listing it came from; one
//! taken from another contact's listing is rejected.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::http::ApiError;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    /// What was listed (a contact id, or "contacts").
    scope: String,
    /// Where the previous page stopped.
    position: Vec<String>,
}

pub fn encode(scope: &str, position: Vec<String>) -> String {
    let cursor = Cursor {
        scope: scope.to_string(),
        position,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

pub fn decode(scope: &str, raw: &str) -> Result<Vec<String>, ApiError> {
    let invalid = || ApiError::bad_request("cursor", "cursor is not valid for this listing");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.scope != scope {
        return Err(invalid());
    }
    Ok(cursor.position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_its_scope_only() {
        let raw = encode("c1", vec!["EV#2026".into()]);
        assert_eq!(decode("c1", &raw).unwrap(), vec!["EV#2026".to_string()]);
        assert!(decode("c2", &raw).is_err());
        assert!(decode("c1", "!!!").is_err());
        assert!(decode("c1", &URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }
}
