//! Opaque, tamper-evident page cursors: the position is MAC'd together with
//! the tenant and the listing it came from, so a forged cursor, or one taken
//! from another tenant or contact, is rejected with 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::http::ApiError;

/// The key cursors are signed with. Deliberately not `Debug`: it never
/// reaches a log.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum CursorKeyError {
    #[error("reading the cursor key secret failed: {0}")]
    Read(String),
    #[error("the cursor key secret holds no string")]
    Empty,
}

impl CursorKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(key.into())
    }

    /// Read once per instance, at start-up, from the Secrets Manager secret
    /// template.yaml creates (`CURSOR_KEY_SECRET` is its ARN). Keeping it out
    /// of the function's environment keeps it out of its configuration too.
    pub async fn from_secret(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
    ) -> Result<Self, CursorKeyError> {
        let out = client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                CursorKeyError::Read(
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        out.secret_string()
            .filter(|s| !s.is_empty())
            .map(|s| Self::new(s.as_bytes()))
            .ok_or(CursorKeyError::Empty)
    }

    fn mac(&self, tenant: &str, scope: &str, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        for part in [tenant.as_bytes(), b"\0", scope.as_bytes(), b"\0", payload] {
            mac.update(part);
        }
        mac
    }

    pub fn seal(&self, tenant: &str, scope: &str, position: &[String]) -> String {
        let payload = serde_json::to_vec(position).unwrap_or_default();
        let tag = self.mac(tenant, scope, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    pub fn open(&self, tenant: &str, scope: &str, raw: &str) -> Result<Vec<String>, ApiError> {
        let invalid = || ApiError::bad_request("cursor", "cursor is not valid for this listing");
        let (payload, tag) = raw.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        self.mac(tenant, scope, &payload)
            .verify_slice(&tag)
            .map_err(|_| invalid())?;
        serde_json::from_slice(&payload).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_its_own_cursors() {
        let key = CursorKey::new(b"k".to_vec());
        let raw = key.seal("t1", "c1", &["EV#2026".into()]);
        assert_eq!(
            key.open("t1", "c1", &raw).unwrap(),
            vec!["EV#2026".to_string()]
        );
        assert!(key.open("t1", "c2", &raw).is_err(), "another contact");
        assert!(key.open("t2", "c1", &raw).is_err(), "another tenant");
        assert!(
            CursorKey::new(b"other".to_vec())
                .open("t1", "c1", &raw)
                .is_err()
        );
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"["EV#2099"]"#),
            raw.split_once('.').unwrap().1
        );
        assert!(key.open("t1", "c1", &forged).is_err(), "edited position");
        assert!(key.open("t1", "c1", "!!!").is_err());
        assert!(key.open("t1", "c1", "").is_err());
    }
}
