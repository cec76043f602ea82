//! Meta's webhook security, shared by WhatsApp and Instagram: the
//! `X-Hub-Signature-256` HMAC over the raw body, the GET subscription
//! handshake, and reading the account ids deliveries are scoped by.

use crate::signature::hmac_sha256_hex_matches;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Meta signs the raw body with the app secret: `sha256=<lowercase hex>`.
/// An empty secret proves nothing (anyone can compute that MAC).
pub fn signature_is_valid(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    !app_secret.is_empty()
        && header
            .and_then(|h| h.strip_prefix("sha256="))
            .is_some_and(|hex| hmac_sha256_hex_matches(app_secret.as_bytes(), body, hex))
}

/// The GET subscription handshake: the challenge to echo back, if the
/// request is a subscribe with the connection's verify token.
pub fn handshake_challenge<'a>(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
) -> Option<&'a str> {
    let token_ok = token
        .is_some_and(|t| crate::signature::constant_time_eq(t.as_bytes(), verify_token.as_bytes()));
    (mode == Some("subscribe") && token_ok)
        .then_some(challenge)
        .flatten()
}

/// An account id as Meta sends it: a string (a number in some examples).
pub(super) fn id_text(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = include_bytes!("../../../tests/fixtures/whatsapp/text_message.json");

    #[test]
    fn verifies_the_fixture_signature_over_raw_bytes() {
        let good = "sha256=0e0b468aa27e3505e3d0664eb9941ee613b127a662ffae634253e0c81265afbe";
        assert!(signature_is_valid("test_secret", TEXT, Some(good)));
        // Re-serializing changes the escaped bytes, and so the MAC.
        let reserialized =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(TEXT).unwrap())
                .unwrap();
        assert!(!signature_is_valid(
            "test_secret",
            &reserialized,
            Some(good)
        ));
        assert!(!signature_is_valid("wrong", TEXT, Some(good)));
        assert!(!signature_is_valid("test_secret", TEXT, None));
        let unkeyed = format!("sha256={}", crate::signature::hmac_sha256_hex(b"", TEXT));
        assert!(!signature_is_valid("", TEXT, Some(&unkeyed)));
        assert!(!signature_is_valid(
            "test_secret",
            TEXT,
            Some("0e0b468aa27e3505e3d0664eb9941ee613b127a662ffae634253e0c81265afbe")
        ));
    }

    #[test]
    fn handshake_needs_subscribe_and_the_right_token() {
        let ok = handshake_challenge("tok", Some("subscribe"), Some("tok"), Some("1158201444"));
        assert_eq!(ok, Some("1158201444"));
        assert_eq!(
            handshake_challenge("tok", Some("subscribe"), Some("bad"), Some("1")),
            None
        );
        assert_eq!(
            handshake_challenge("tok", Some("unsubscribe"), Some("tok"), Some("1")),
            None
        );
        assert_eq!(
            handshake_challenge("tok", Some("subscribe"), None, Some("1")),
            None
        );
    }
}
