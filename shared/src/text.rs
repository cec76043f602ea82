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
