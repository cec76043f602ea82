//! Text folding and word indexing for search: case- and accent-insensitive
//! ("López" finds "lopez", "Lopez" finds "López"), matching words and word
//! beginnings.

use std::collections::HashSet;

use icu_normalizer::DecomposingNormalizerBorrowed;

use crate::limits::MAX_POSTINGS;

/// Lowercase, decomposed, without combining marks.
pub fn fold(text: &str) -> String {
    DecomposingNormalizerBorrowed::new_nfd()
        .normalize(&text.to_lowercase())
        .chars()
        .filter(|c| !('\u{0300}'..='\u{036f}').contains(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("Maya López"), "maya lopez");
        assert_eq!(fold("CAFÉ Crème"), "cafe creme");
        assert_eq!(fold("Zoë"), fold("zoe"));
        assert_eq!(fold("Straße"), "straße");
    }
}

/// The terms of a search: `"quoted phrases"` and single words.
pub fn terms(q: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for (i, part) in q.split('"').enumerate() {
        if i % 2 == 1 {
            let phrase = fold(part.trim());
            if !phrase.is_empty() {
                terms.push(phrase);
            }
        } else {
            terms.extend(part.split_whitespace().map(fold).filter(|w| !w.is_empty()));
        }
    }
    terms
}

/// Where every term occurs in `text`, as `[start, end)` character offsets
/// into the original text; `None` unless all terms occur. A term matches at
/// the start of a word ("book" finds "Booking", not "rebook"), which is what
/// the search index can find.
pub fn find_all(text: &str, terms: &[String]) -> Option<Vec<(usize, usize)>> {
    // Fold character by character, remembering which original character
    // each folded one came from, so matches map back to the original.
    let mut folded = Vec::new();
    let mut origin = Vec::new();
    for (index, c) in text.chars().enumerate() {
        for f in fold(c.encode_utf8(&mut [0; 4])).chars() {
            folded.push(f);
            origin.push(index);
        }
    }
    let mut matches = Vec::new();
    for term in terms {
        let needle: Vec<char> = term.chars().collect();
        if needle.is_empty() {
            continue;
        }
        let mut found = false;
        let mut i = 0;
        while i + needle.len() <= folded.len() {
            let word_start = i == 0 || !folded[i - 1].is_alphanumeric();
            if word_start && folded[i..i + needle.len()] == needle[..] {
                matches.push((origin[i], origin[i + needle.len() - 1] + 1));
                found = true;
                i += needle.len();
            } else {
                i += 1;
            }
        }
        if !found {
            return None;
        }
    }
    matches.sort_unstable();
    Some(matches)
}

/// Index keys are word beginnings of this many characters (or the whole
/// word, when shorter than the minimum).
const MIN_PREFIX: usize = 3;
const MAX_PREFIX: usize = 10;

fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

fn prefix(word: &str, chars: usize) -> String {
    word.chars().take(chars).collect()
}

/// The search-index keys of a text, one posting each, in the order the
/// words first occur: every beginning of 3 to 10 characters of each word,
/// and words shorter than 3 as they are. At most [`MAX_POSTINGS`], whole
/// words only (a word found by one of its beginnings is found by all), so
/// the words past the cap are the ones left out.
pub fn index_keys(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for word in words(&folded) {
        let length = word.chars().count();
        let beginnings = if length < MIN_PREFIX {
            vec![word.to_string()]
        } else {
            (MIN_PREFIX..=length.min(MAX_PREFIX))
                .map(|chars| prefix(word, chars))
                .collect()
        };
        let new: Vec<String> = beginnings
            .into_iter()
            .filter(|key| !seen.contains(key))
            .collect();
        if keys.len() + new.len() > MAX_POSTINGS {
            break;
        }
        seen.extend(new.iter().cloned());
        keys.extend(new);
    }
    keys
}

/// The index key that finds every text matching all `terms`: from their
/// longest word (the most selective). `None` when every word is shorter than
/// the indexed beginnings, so only reading the messages can answer.
pub fn lookup_key(terms: &[String]) -> Option<String> {
    let longest = terms
        .iter()
        .flat_map(|term| words(term))
        .max_by_key(|word| word.chars().count())?;
    (longest.chars().count() >= MIN_PREFIX).then(|| prefix(longest, MAX_PREFIX))
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn words_and_phrases_match_across_case_and_accents() {
        let text = "Hi! Can I book Balayage for Saturday? Café crème after.";
        let q = terms("balayage \"for saturday\"");
        assert_eq!(q, vec!["balayage", "for saturday"]);
        let found = find_all(text, &q).unwrap();
        let chars: Vec<char> = text.chars().collect();
        let marked: Vec<String> = found
            .iter()
            .map(|(s, e)| chars[*s..*e].iter().collect())
            .collect();
        assert_eq!(marked, ["Balayage", "for Saturday"]);
        let cafe = find_all(text, &terms("CAFE creme")).unwrap();
        let marked: Vec<String> = cafe
            .iter()
            .map(|(s, e)| chars[*s..*e].iter().collect())
            .collect();
        assert_eq!(marked, ["Café", "crème"]);
        assert!(
            find_all(text, &terms("balayage sunday")).is_none(),
            "every term must occur"
        );
    }

    #[test]
    fn terms_match_at_word_starts() {
        let text = "Booking confirmed; can I rebook?";
        assert_eq!(find_all(text, &terms("book")), Some(vec![(0, 4)]));
        assert!(find_all(text, &terms("ebook")).is_none());
        assert!(find_all(text, &terms("\"king confirmed\"")).is_none());
    }

    #[test]
    fn every_match_is_found_through_its_lookup_key() {
        let text = "Hi! Can I book Balayage for Saturday? Café crème, très bien.";
        let keys = index_keys(text);
        let has = |key: &str| keys.iter().any(|k| k == key);
        assert!(has("hi") && has("i") && has("balayage"));
        assert!(has("sat") && has("saturday") && has("tre"));
        assert!(!has("aturday"), "only word beginnings");
        for q in [
            "SATURDAY",
            "satur",
            "cafe creme",
            "\"book balayage\"",
            "tres bien",
            "balay",
        ] {
            let q = terms(q);
            assert!(find_all(text, &q).is_some(), "{q:?}");
            let key = lookup_key(&q).unwrap();
            assert!(has(&key), "{q:?} looks up {key}");
        }
        // Long words are indexed by their first 10 characters.
        let long = index_keys("appointments");
        assert!(long.contains(&"appointmen".to_string()));
        assert!(!long.contains(&"appointment".to_string()));
        assert_eq!(
            lookup_key(&terms("appointments")).as_deref(),
            Some("appointmen")
        );
        assert_eq!(lookup_key(&terms("hi ok")), None);
    }
}

#[cfg(test)]
mod posting_cap_tests {
    use super::*;

    #[test]
    fn postings_follow_the_text_and_stop_at_the_cap_on_a_whole_word() {
        assert_eq!(
            index_keys("Book the booking, book!"),
            ["boo", "book", "the", "booki", "bookin", "booking"]
        );
        let text: Vec<String> = (0..10_000).map(|i| format!("w{i:04}")).collect();
        let keys = index_keys(&text.join(" "));
        assert!(keys.len() <= MAX_POSTINGS, "{}", keys.len());
        assert!(keys.len() > MAX_POSTINGS - 10, "the cap is used");
        // Every beginning of an indexed word is there, and the first words are.
        assert!(keys.iter().any(|k| k == "w0000"));
        let last = keys.last().unwrap();
        for chars in MIN_PREFIX..=last.chars().count() {
            assert!(keys.contains(&prefix(last, chars)), "{last}");
        }
        assert!(!keys.iter().any(|k| k == "w9999"), "past the cap");
    }
}
