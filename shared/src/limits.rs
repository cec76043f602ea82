//! How large anything we key, store or index may be, and why, in one place.
//!
//! Two kinds of bound: values that become parts of DynamoDB keys or sort
//! keys are refused when out of bounds (a cut id would name another object,
//! a wrong instant would sort in the wrong place); content is cut and the
//! message flagged `truncated` (a long message is still a message).
//! Webhook body caps are per provider, on its descriptor
//! (`channels::provider`).

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

/// A message's text (and any other long text it gets, such as an email's
/// full body) is kept up to this many bytes: 16 times WhatsApp's longest
/// message, about 30 pages. Every event item is stored three times (table,
/// channel index, day index) and written twice in its transaction, so this
/// also caps what one message costs in write units.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Short texts: delivery errors, payment descriptions, email subjects.
pub const MAX_SHORT_TEXT_BYTES: usize = 1024;

/// Names and labels: display names, services booked, campaign tags, currencies.
pub const MAX_LABEL_BYTES: usize = 256;

/// Attachments kept per message (Twilio and the chat widget send at most
/// 10, WhatsApp 1); an email's further attachments are left out.
pub const MAX_ATTACHMENTS: usize = 10;

/// Links (media and page URLs). A cut link points nowhere, so a longer one
/// is left out rather than cut.
pub const MAX_URL_BYTES: usize = 4096;

/// An attachment's caption (WhatsApp: 1,024 characters).
pub const MAX_CAPTION_BYTES: usize = 4096;

/// Filenames and MIME types (255 bytes is what file systems and RFC 6838 allow).
pub const MAX_FILENAME_BYTES: usize = 255;

/// Email threading ids kept per list (`In-Reply-To`, `References`): the
/// first (the thread's root) and the latest ones.
pub const MAX_THREAD_IDS: usize = 20;

/// Search postings per message: one write each, so a 10,000-word email does
/// not cost 10,000 writes. Whole words are indexed in text order until the
/// next one would pass the cap (a typical message writes about 20; this
/// covers about the first 150 distinct words).
pub const MAX_POSTINGS: usize = 1_000;

/// DynamoDB's item size limit (names and values, as AWS counts them).
pub const DYNAMODB_ITEM_BYTES: usize = 400 * 1024;

/// The largest event item a message can make under the bounds above,
/// counted generously (every byte of a bounded text, every attribute name
/// and list overhead): two long texts (the body and room for an email's
/// full body), the attachments, the postings' keys (10 folded characters of
/// up to 4 bytes each), the threading ids and the touch source, and 8 KiB
/// for keys and everything else.
pub const MESSAGE_ITEM_BUDGET: usize = 2 * MAX_TEXT_BYTES
    + MAX_SHORT_TEXT_BYTES
    + MAX_ATTACHMENTS
        * (MAX_LABEL_BYTES
            + MAX_KEY_ID_BYTES
            + MAX_URL_BYTES
            + MAX_FILENAME_BYTES
            + MAX_CAPTION_BYTES
            + MAX_FILENAME_BYTES
            + 64)
    + MAX_POSTINGS * (10 * 4 + 1)
    + (2 * MAX_THREAD_IDS + 1) * (MAX_KEY_ID_BYTES + 1)
    + MAX_SHORT_TEXT_BYTES
    + 2 * MAX_URL_BYTES
    + 4 * MAX_LABEL_BYTES
    + 8 * 1024;

// Raising a bound above what one item holds fails the build, not a write.
const _: () = assert!(MESSAGE_ITEM_BUDGET <= DYNAMODB_ITEM_BYTES);

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

/// Leaves out a value that is useless cut (a link, an id); true if it did.
pub fn drop_longer(value: &mut Option<String>, max: usize) -> bool {
    if value.as_ref().is_some_and(|v| v.len() > max) {
        *value = None;
        return true;
    }
    false
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
        let mut url = Some("https://x.example/long".to_string());
        assert!(drop_longer(&mut url, 5));
        assert_eq!(url, None);
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
