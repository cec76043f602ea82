//! Placeholder: the adapter is being written.

use super::{CanonicalEvent, ParseContext, ParseError};

pub fn parse(_body: &[u8], _ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    Err(ParseError::new("body", "not implemented yet"))
}
