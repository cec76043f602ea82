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

/// For an optional field of a request body, with `#[serde(default,
/// deserialize_with = "body::present")]`: left out it is `None`, and `null`
/// is refused like any other value of the wrong type (the document gives
/// optional fields a type, never null).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The whitespace a text field may not consist of alone, nor (where it is
/// a name) begin or end with: what the document's patterns spell
/// `[\t\n\r ]`, so a request the document calls valid is one accepted here.
pub const BLANK: [char; 4] = [' ', '\t', '\n', '\r'];

/// No character other than `BLANK` ones (the document's `[^\t\n\r ]` fails).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| BLANK.contains(&c))
}

/// `text` without `BLANK` characters at either end.
pub fn trim_blank(text: &str) -> &str {
    text.trim_matches(&BLANK[..])
}

/// A name the document patterns as `^[^\t\n\r ]([\s\S]*[^\t\n\r ])?$`:
/// not empty, and no `BLANK` character at either end.
pub fn is_trimmed_name(text: &str) -> bool {
    !text.is_empty() && trim_blank(text).len() == text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_the_four_whitespace_characters_the_document_names() {
        assert!(is_blank(""));
        assert!(is_blank(" \t\r\n"));
        // Other Unicode spaces count as text, as they do in the patterns.
        assert!(!is_blank("\u{a0}"));
        assert!(!is_blank("\u{85}"));
        assert_eq!(trim_blank(" \u{a0}a \n"), "\u{a0}a");
        assert!(is_trimmed_name("a b"));
        assert!(!is_trimmed_name(" a"));
        assert!(!is_trimmed_name("a\n"));
        assert!(!is_trimmed_name(""));
    }
}
