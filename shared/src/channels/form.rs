//! `application/x-www-form-urlencoded` bodies (Twilio's webhooks).

use std::borrow::Cow;
use std::collections::HashMap;

use super::ParseError;

/// The decoded parameters; for a repeated name the first value counts.
pub(crate) struct Form<'a> {
    params: HashMap<Cow<'a, str>, Cow<'a, str>>,
}

impl<'a> Form<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            params.entry(name).or_insert(value);
        }
        Self { params }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|v| v.as_ref())
    }

    /// The value as sent, if present and not blank.
    pub(crate) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// The trimmed value, if present and not blank.
    pub(crate) fn trimmed(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// An optional unsigned number; present but not a number is an error.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u32>, ParseError> {
        self.trimmed(name)
            .map(|raw| {
                raw.parse::<u32>().map_err(|_| {
                    ParseError::new(name, format!("'{raw}' is not a non-negative integer"))
                })
            })
            .transpose()
    }
}
