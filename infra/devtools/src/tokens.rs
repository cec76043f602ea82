//! Dev bearer tokens: HS256 JWTs signed with a key that exists only for the
//! life of the local stack. In AWS the HTTP API's JWT authorizer (Cognito)
//! does this job; both hand the function the same claims.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BoxError;

const ISSUER: &str = "timeline-dev";
const AUDIENCE: &str = "timeline-api";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant_id: String,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

#[derive(Clone)]
pub struct DevTokens {
    key: Vec<u8>,
}

impl DevTokens {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    /// A fresh random key, so tokens of an earlier run stop working.
    pub fn random() -> Self {
        let key: String = (0..4).map(|_| ulid::Ulid::new().to_string()).collect();
        Self::new(key.into_bytes())
    }

    pub fn mint(&self, tenant: &str, user: &str, role: &str) -> Result<String, BoxError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            tenant_id: tenant.to_string(),
            role: role.to_string(),
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            iat: now,
            exp: now + 12 * 3600,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )?)
    }

    /// The claims as API Gateway passes them to a function: strings by name.
    pub fn verify(&self, token: &str) -> Result<HashMap<String, String>, BoxError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )?;
        Ok(data
            .claims
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_its_own_tokens_only() {
        let tokens = DevTokens::new(b"key-one".to_vec());
        let token = tokens.mint("demo", "u1", "admin").unwrap();
        let claims = tokens.verify(&token).unwrap();
        assert_eq!(claims["tenant_id"], "demo");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["sub"], "u1");
        assert!(DevTokens::new(b"key-two".to_vec()).verify(&token).is_err());
        assert!(tokens.verify("not.a.token").is_err());
    }
}
