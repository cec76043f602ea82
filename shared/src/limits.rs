//! How large anything we key, store or index may be, and why, in one place.
//!
//! Two kinds of bound: values that become parts of DynamoDB keys or sort
//! keys are refused when out of bounds (a cut id would name another object,
//! a wrong instant would sort in the wrong place); texts are cut.

use chrono::{DateTime, Datelike, Utc};

/// Provider ids (message, call, booking and payment ids, email Message-IDs)
/// and identity values become parts of keys (`T#{tenant}#PM#{provider}#{id}`,
/// `IDENT#{kind}#{value}`). Real ones are far shorter (a wamid is about 60
/// bytes, an Instagram mid about 130, SES caps Message-IDs at 255); 256
/// keeps every key well within DynamoDB's 1,024-byte sort keys and
/// 2,048-byte partition keys.
pub const MAX_KEY_ID_BYTES: usize = 256;

/// The years an event's instants may fall in. Sort keys hold instants as
/// fixed-width RFC 3339 text (`EV#2026-10-21T08:14:01.000Z#…`) and event ids
/// are ULIDs minted from them: an instant before 1970 has no ULID and one
/// after 9999 widens the text, so either would sort out of order.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

pub fn instant_in_range(at: DateTime<Utc>) -> bool {
    YEARS.contains(&at.year())
}

/// Why `id` cannot be part of a key, if it cannot. `may_hold_hash` is for
/// email addresses, where '#' is legal and the address is the last part of
/// its key (keys are never split).
pub fn key_id_problem(id: &str, may_hold_hash: bool) -> Option<String> {
    if id.is_empty() {
        Some("is empty".into())
    } else if id.len() > MAX_KEY_ID_BYTES {
        Some(format!("is longer than {MAX_KEY_ID_BYTES} bytes"))
    } else if !may_hold_hash && id.contains('#') {
        Some("contains '#', which separates the parts of storage keys".into())
    } else {
        None
    }
}

/// Short texts: delivery errors, payment descriptions, email subjects.
pub const MAX_SHORT_TEXT_BYTES: usize = 1024;

/// Names and labels: display names, services booked, campaign tags, currencies.
pub const MAX_LABEL_BYTES: usize = 256;

/// Cuts `text` to at most `max` bytes, at a character boundary; true if it
/// was longer.
pub fn cut(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

/// [`cut`] for an optional text.
pub fn cut_opt(text: &mut Option<String>, max: usize) -> bool {
    text.as_mut().is_some_and(|t| cut(t, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cut_keeps_whole_characters() {
        let mut text = "é😊abc".to_string();
        assert!(cut(&mut text, 4), "é is 2 bytes, 😊 4");
        assert_eq!(text, "é");
        let mut short = "abc".to_string();
        assert!(!cut(&mut short, 3));
        assert_eq!(short, "abc");
        let mut none = None;
        assert!(!cut_opt(&mut none, 1));
    }

    #[test]
    fn key_ids_are_bounded_non_empty_and_without_separators() {
        assert_eq!(key_id_problem("wamid.1", false), None);
        assert_eq!(key_id_problem(&"a".repeat(256), false), None);
        assert!(key_id_problem(&"a".repeat(257), false).is_some());
        assert!(key_id_problem("", false).is_some());
        assert!(key_id_problem("a#b", false).is_some());
        assert_eq!(key_id_problem("a#b@example.com", true), None);
    }

    #[test]
    fn instants_are_kept_to_the_years_that_sort() {
        let at = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
        assert!(instant_in_range(at(1970)));
        assert!(instant_in_range(at(9999)));
        assert!(!instant_in_range(at(1969)));
        assert!(!instant_in_range(at(10000)));
    }
}
