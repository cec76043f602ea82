//! Reading loosely typed provider JSON (Stripe, Cal.com) field by field,
//! with errors that name the field's path.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::ParseError;

/// A JSON object and its path in the body, for errors that name the field.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value) -> Result<Self, ParseError> {
        let map = value
            .as_object()
            .ok_or_else(|| ParseError::new("body", "expected a JSON object"))?;
        Ok(Node {
            map: Some(map),
            path: String::new(),
        })
    }

    /// An object with no fields at `path`.
    pub(crate) fn empty(path: String) -> Self {
        Node { map: None, path }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The object's fields (none for an absent object).
    pub(crate) fn fields(&self) -> Option<&'a Map<String, Value>> {
        self.map
    }

    /// Where this object sits in the body.
    pub(crate) fn location(&self) -> &str {
        &self.path
    }

    /// The value at `key`; JSON `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn obj(&self, key: &str) -> Result<Node<'a>, ParseError> {
        match self.get(key) {
            Some(Value::Object(map)) => Ok(Node {
                map: Some(map),
                path: self.path(key),
            }),
            Some(_) => Err(ParseError::new(self.path(key), "expected an object")),
            None => Err(ParseError::new(self.path(key), "missing")),
        }
    }

    /// An optional object; other types are ignored.
    pub(crate) fn child(&self, key: &str) -> Option<Node<'a>> {
        self.obj(key).ok()
    }

    /// The objects in an optional array (absent = empty).
    pub(crate) fn array(&self, key: &str) -> Result<Vec<Node<'a>>, ParseError> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        let items = value
            .as_array()
            .ok_or_else(|| ParseError::new(self.path(key), "expected an array"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("{}[{i}]", self.path(key));
                match item.as_object() {
                    Some(map) => Ok(Node {
                        map: Some(map),
                        path,
                    }),
                    None => Err(ParseError::new(path, "expected an object")),
                }
            })
            .collect()
    }

    /// A required, non-blank string.
    pub(crate) fn str(&self, key: &str) -> Result<&'a str, ParseError> {
        match self.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
            Some(Value::String(_)) => Err(ParseError::new(self.path(key), "empty")),
            Some(_) => Err(ParseError::new(self.path(key), "expected a string")),
            None => Err(ParseError::new(self.path(key), "missing")),
        }
    }

    /// An optional, non-blank string; other types are ignored.
    pub(crate) fn opt_str(&self, key: &str) -> Option<&'a str> {
        self.get(key)?
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// An optional ISO 8601 time, with or without milliseconds.
    pub(crate) fn opt_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, ParseError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| Some(t.with_timezone(&Utc)))
            .ok_or_else(|| ParseError::new(self.path(key), "expected an ISO 8601 time"))
    }

    pub(crate) fn int(&self, key: &str) -> Result<i64, ParseError> {
        self.opt_int(key)?
            .ok_or_else(|| ParseError::new(self.path(key), "missing"))
    }

    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>, ParseError> {
        match self.get(key) {
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| ParseError::new(self.path(key), "expected an integer")),
            None => Ok(None),
        }
    }

    /// A required amount in minor units.
    pub(crate) fn amount(&self, key: &str) -> Result<i64, ParseError> {
        self.opt_amount(key)?
            .ok_or_else(|| ParseError::new(self.path(key), "missing"))
    }

    pub(crate) fn opt_amount(&self, key: &str) -> Result<Option<i64>, ParseError> {
        match self.opt_int(key)? {
            Some(amount) if amount < 0 => Err(ParseError::new(self.path(key), "negative amount")),
            amount => Ok(amount),
        }
    }
}
