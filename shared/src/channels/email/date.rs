//! The sender's `Date` header, in the formats sending servers really use.

use chrono::{DateTime, Utc};

/// RFC 2822 (trailing comments such as `(UTC)` allowed); also tolerated:
/// an offset with a colon (`-04:00`), a weekday that does not match the
/// date, RFC 3339. `None` when none of those reads it.
pub fn header_date(raw: &str) -> Option<DateTime<Utc>> {
    let rfc2822 = |s: &str| DateTime::parse_from_rfc2822(s).ok();
    let parsed = rfc2822(raw).or_else(|| {
        let normalized = normalize_date(raw);
        rfc2822(&normalized).or_else(|| {
            // A weekday that contradicts the date: trust the date.
            let (weekday, rest) = normalized.split_once(',')?;
            weekday
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphabetic())
                .then(|| rfc2822(rest))
                .flatten()
        })
    });
    parsed
        .or_else(|| DateTime::parse_from_rfc3339(raw).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Drops trailing `(...)` comments and the colon of a trailing `+hh:mm`.
fn normalize_date(raw: &str) -> String {
    let mut s = raw.trim();
    while s.ends_with(')') {
        match s.rfind('(') {
            Some(open) => s = s[..open].trim_end(),
            None => break,
        }
    }
    let mut out = s.to_string();
    if let Some((head, zone)) = s.rsplit_once(' ') {
        let b = zone.as_bytes();
        let colon_offset = b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && b[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit());
        if colon_offset {
            out = format!("{head} {}{}", &zone[..3], &zone[4..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_dates_never_panic() {
        let date = "Sun, 25 Oct 2026 20:40:58 +01:00 (é)";
        for (i, _) in date.char_indices() {
            header_date(&date[..i]);
            header_date(&date[i..]);
        }
        assert!(header_date(date).is_some());
    }
}
