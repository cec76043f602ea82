//! Webhook signature checks. MACs are computed over the raw body bytes and
//! compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// True when `hex_signature` is HMAC-SHA256(secret, body) in hex.
pub fn hmac_sha256_hex_matches(secret: &[u8], body: &[u8], hex_signature: &str) -> bool {
    let Ok(expected) = hex::decode(hex_signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Equality for secrets (verify tokens, passwords): no early exit on the
/// first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_mac() {
        let sig = hmac_sha256_hex(b"k", b"body");
        assert!(hmac_sha256_hex_matches(b"k", b"body", &sig));
        assert!(!hmac_sha256_hex_matches(b"k", b"body\n", &sig));
        assert!(!hmac_sha256_hex_matches(b"other", b"body", &sig));
        assert!(!hmac_sha256_hex_matches(b"k", b"body", "zz"));
        assert!(!hmac_sha256_hex_matches(b"k", b"body", ""));
    }
}
