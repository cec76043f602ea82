//! RFC 5322 message ids (`Message-ID`, `In-Reply-To`, `References`): one
//! rule for which ids are kept, whichever provider delivered the mail.
//!
//! A sender chooses its ids, and an accepted `Message-ID` becomes part of a
//! storage key (`PM#{provider}#{id}`), so an id is accepted only when it is
//! 1 to [`MAX_ID_BYTES`] bytes of printable ASCII without `#` (the key
//! separator) or an angle bracket (a half-bracketed header such as
//! `In-Reply-To: xample.com>` is not an id). That refuses empty ids, whitespace, control characters and
//! non-ASCII (RFC 6532 allows UTF-8, but no common client sends it, and an
//! ASCII-only key cannot differ between two Unicode spellings of one id).
//! Real ids are well under 100 bytes.

/// Longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 250;

/// Most ids kept from `In-Reply-To` plus `References`: a long thread's
/// `References` grows with every reply, and only its ends matter for
/// threading (RFC 5322 3.6.4 trims the same way: first and most recent).
pub const MAX_THREAD_IDS: usize = 50;

/// Whether `id` (without its angle brackets) may be used; see the module doc.
pub fn is_acceptable(id: &str) -> bool {
    (1..=MAX_ID_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'#' | b'<' | b'>'))
}

/// The id of a `Message-ID` header value: between the first `<` and the
/// `>` after it, or the whole trimmed value when it has no `<`. `None` when
/// that id is not acceptable: a bad id is dropped, never repaired, so that
/// two providers reading one mail agree.
pub fn message_id(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    let id = match raw.split_once('<') {
        Some((_, rest)) => rest.split_once('>')?.0,
        None => raw,
    };
    is_acceptable(id).then_some(id)
}

/// The acceptable ids of threading header values (`In-Reply-To`,
/// `References`), in order: every `<id>` token, or the blank-separated
/// words of a value without brackets. Unacceptable ids are skipped; past
/// [`MAX_THREAD_IDS`], the first id and the most recent ones are kept.
pub fn thread_ids<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<&str> = Vec::new();
    for value in values {
        if value.contains('<') {
            ids.extend(
                value
                    .split('<')
                    .skip(1)
                    .filter_map(|token| token.split_once('>').map(|(id, _)| id)),
            );
        } else {
            ids.extend(value.split_ascii_whitespace());
        }
    }
    ids.retain(|id| is_acceptable(id));
    if ids.len() > MAX_THREAD_IDS {
        ids.drain(1..ids.len() - (MAX_THREAD_IDS - 1));
    }
    ids.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_acceptable_ids() {
        let longest = "x".repeat(MAX_ID_BYTES);
        let too_long = "x".repeat(MAX_ID_BYTES + 1);
        for id in [
            "a@b",
            "CAH7mK2pQ-9x@mail.example.com",
            "a.b+c=d/e?f@[1.2.3.4]",
            &longest,
        ] {
            assert!(is_acceptable(id), "{id}");
        }
        for id in [
            "",
            "a#b@c",
            "xample.com>",
            "<a@b",
            "a b@c",
            "a\tb",
            "a\u{0}b",
            "a\u{7f}b",
            "caf\u{e9}@example.com",
            &too_long,
        ] {
            assert!(!is_acceptable(id), "{id:?}");
        }
    }

    #[test]
    fn message_id_values() {
        let cases = [
            ("<a.b@c>", Some("a.b@c")),
            ("  <a.b@c>  ", Some("a.b@c")),
            ("bare@id", Some("bare@id")),
            (" bare@id\r\n", Some("bare@id")),
            ("<first@x> <second@x>", Some("first@x")),
            ("(comment) <a@b>", Some("a@b")),
            ("<>", None),
            ("", None),
            ("<a#b@c>", None),
            ("<a b@c>", None),
            ("<unterminated@x", None),
            ("two words", None),
        ];
        for (raw, want) in cases {
            assert_eq!(message_id(raw), want, "{raw:?}");
        }
        let long = format!("<{}@example.com>", "x".repeat(300));
        assert_eq!(message_id(&long), None);
    }

    #[test]
    fn thread_ids_skip_bad_ids_and_keep_the_ends() {
        assert_eq!(
            thread_ids(["<a@x> <b#1@x>\r\n <c@x>", "<>", "<d @x> <e@x>"]),
            ["a@x", "c@x", "e@x"]
        );
        assert_eq!(thread_ids(["bare@x other@x"]), ["bare@x", "other@x"]);
        assert_eq!(thread_ids(["<open@x"]), Vec::<String>::new());
        assert!(thread_ids([]).is_empty());

        let many: String = (0..120).map(|i| format!("<id{i}@x> ")).collect();
        let kept = thread_ids([many.as_str()]);
        assert_eq!(kept.len(), MAX_THREAD_IDS);
        assert_eq!(kept[0], "id0@x");
        assert_eq!(kept[1], "id71@x");
        assert_eq!(kept[MAX_THREAD_IDS - 1], "id119@x");
    }
}
