//! Who is calling, from claims the JWT authorizer already verified. The
//! tenant comes only from the token: no parameter can choose it.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::http::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Caller {
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let unauthorized = |why: &str| ApiError::Unauthorized(why.to_string());
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        }
        .ok_or_else(|| unauthorized("missing bearer token"))?;
        // Cognito prefixes custom attributes with "custom:".
        let claim = |name: &str| {
            claims
                .get(name)
                .or_else(|| claims.get(&format!("custom:{name}")))
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let tenant_id = claim("tenant_id")
            .filter(|t| is_valid_tenant_id(t))
            .ok_or_else(|| unauthorized("token has no valid tenant_id claim"))?;
        let user_id = claim("sub").ok_or_else(|| unauthorized("token has no sub claim"))?;
        let role = match claim("role") {
            Some("admin") => Role::Admin,
            Some("agent") => Role::Agent,
            _ => return Err(unauthorized("token has no valid role claim")),
        };
        Ok(Caller {
            tenant_id: tenant_id.to_string(),
            user_id: user_id.to_string(),
            role,
        })
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Agent => Err(ApiError::Forbidden(
                "this action needs the admin role".into(),
            )),
        }
    }
}

/// Tenant ids end up inside keys, so the key separator is excluded.
pub fn is_valid_tenant_id(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_cannot_smuggle_key_separators() {
        assert!(is_valid_tenant_id("demo"));
        assert!(is_valid_tenant_id("salon-42_x"));
        assert!(!is_valid_tenant_id("demo#C#x"));
        assert!(!is_valid_tenant_id(""));
        assert!(!is_valid_tenant_id(&"a".repeat(65)));
    }
}
