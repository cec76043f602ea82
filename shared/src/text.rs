//! Text folding for search: case- and accent-insensitive ("López" finds
//! "lopez", "Lopez" finds "López").

use icu_normalizer::DecomposingNormalizerBorrowed;

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
/// into the original text; `None` unless all terms occur.
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
            if folded[i..i + needle.len()] == needle[..] {
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
}
