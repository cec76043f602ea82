//! Dev bearer tokens shaped like the Cognito ID tokens the deployed API
//! receives (`custom:tenant_id`, `cognito:groups`, `token_use: id`, ...),
//! HS256-signed with a key that exists only for the life of the local stack.
//! In AWS the HTTP API's JWT authorizer checks Cognito's signature; both hand
//! the function the claims the same way (`verify`).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::BoxError;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_LocalDev";
const AUDIENCE: &str = "localdevappclient";

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

    /// An ID token for a user of `tenant` in the Cognito group `role`.
    pub fn mint(&self, tenant: &str, user: &str, role: &str) -> Result<String, BoxError> {
        self.mint_claims(id_token_claims(tenant, user, &[role]))
    }

    /// A token with exactly these claims (plus `iss`, `aud` and `exp` when
    /// missing, which the authorizer requires).
    pub fn mint_claims(&self, mut claims: Value) -> Result<String, BoxError> {
        let now = chrono::Utc::now().timestamp();
        let object = claims.as_object_mut().ok_or("claims must be an object")?;
        object.entry("iss").or_insert_with(|| json!(ISSUER));
        object
            .entry("exp")
            .or_insert_with(|| json!(now + 12 * 3600));
        if !object.contains_key("client_id") {
            object.entry("aud").or_insert_with(|| json!(AUDIENCE));
        }
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.key),
        )?)
    }

    /// What the JWT authorizer checks (signature, issuer, expiry, and the
    /// audience as `aud` or, in access tokens, `client_id`), then the claims
    /// as API Gateway passes them to a function: strings by name, arrays as
    /// `[a b]`.
    pub fn verify(&self, token: &str) -> Result<HashMap<String, String>, BoxError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<HashMap<String, Value>>(
            token,
            &DecodingKey::from_secret(&self.key),
            &validation,
        )?;
        let audience = data
            .claims
            .get("aud")
            .or_else(|| data.claims.get("client_id"));
        if audience.and_then(Value::as_str) != Some(AUDIENCE) {
            return Err("token is for another audience".into());
        }
        Ok(data
            .claims
            .into_iter()
            .map(|(k, v)| (k, claim_text(v)))
            .collect())
    }
}

/// A Cognito user pool ID token's claims for a user in `groups`.
pub fn id_token_claims(tenant: &str, user: &str, groups: &[&str]) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": user,
        "cognito:groups": groups,
        "email_verified": true,
        "cognito:username": user,
        "origin_jti": ulid::Ulid::new().to_string(),
        "event_id": ulid::Ulid::new().to_string(),
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "jti": ulid::Ulid::new().to_string(),
        "email": format!("{user}@example.com"),
        "custom:tenant_id": tenant,
    })
}

/// API Gateway's rendering of a claim value: text as is, arrays as `[a b]`,
/// anything else as its JSON text.
fn claim_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Array(items) => format!(
            "[{}]",
            items
                .into_iter()
                .map(claim_text)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
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
        assert_eq!(claims["custom:tenant_id"], "demo");
        assert_eq!(claims["cognito:groups"], "[admin]");
        assert_eq!(claims["token_use"], "id");
        assert_eq!(claims["email_verified"], "true");
        assert_eq!(claims["sub"], "u1");
        assert!(claims["exp"].parse::<i64>().is_ok());
        assert!(DevTokens::new(b"key-two".to_vec()).verify(&token).is_err());
        assert!(tokens.verify("not.a.token").is_err());
    }

    #[test]
    fn access_tokens_pass_on_client_id_and_other_audiences_do_not() {
        let tokens = DevTokens::new(b"k".to_vec());
        let access = tokens
            .mint_claims(json!({ "sub": "u", "token_use": "access", "client_id": AUDIENCE, "cognito:groups": ["admin", "agent"] }))
            .unwrap();
        assert_eq!(
            tokens.verify(&access).unwrap()["cognito:groups"],
            "[admin agent]"
        );
        let foreign = tokens
            .mint_claims(json!({ "sub": "u", "aud": "another-client" }))
            .unwrap();
        assert!(tokens.verify(&foreign).is_err());
    }
}
