//! Who is calling, from the claims of the Cognito ID token that API
//! Gateway's JWT authorizer verified (signature, issuer, audience, expiry).
//! The tenant is the immutable, admin-set `custom:tenant_id` attribute and
//! the role the admin-managed group (`admin` or `agent`): nothing a user can
//! change about themselves, and no parameter, chooses either.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::http::ApiError;

/// Cognito puts custom attributes in the ID token only, prefixed `custom:`.
pub const TENANT_CLAIM: &str = "custom:tenant_id";
/// The user's groups; API Gateway hands arrays over as `[a b]`.
pub const GROUPS_CLAIM: &str = "cognito:groups";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    /// The Cognito group that grants the role.
    pub fn group(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Caller {
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        }
        .ok_or_else(|| unauthorized("missing bearer token"))?;
        Self::from_claims(claims)
    }

    /// The claims as API Gateway passes them: every value a string.
    pub fn from_claims(claims: &HashMap<String, String>) -> Result<Self, ApiError> {
        let claim = |name: &str| {
            claims
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        // The authorizer also accepts access tokens (their client_id matches
        // the audience), but Cognito puts no custom attribute in them.
        if let Some(usage) = claim("token_use").filter(|u| *u != "id") {
            return Err(unauthorized(&format!(
                "a Cognito {usage} token carries no tenant: send the ID token"
            )));
        }
        let tenant_id = claim(TENANT_CLAIM)
            .filter(|t| is_valid_tenant_id(t))
            .ok_or_else(|| unauthorized("token has no valid custom:tenant_id claim"))?;
        let user_id = claim("sub").ok_or_else(|| unauthorized("token has no sub claim"))?;
        let groups = claim(GROUPS_CLAIM).map(groups).unwrap_or_default();
        let role = [Role::Admin, Role::Agent]
            .into_iter()
            .find(|role| groups.contains(&role.group()))
            .ok_or_else(|| {
                unauthorized(
                    "token names no role group (cognito:groups has neither admin nor agent)",
                )
            })?;
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

fn unauthorized(why: &str) -> ApiError {
    ApiError::Unauthorized(why.to_string())
}

/// The group names of a `cognito:groups` claim as API Gateway renders an
/// array (`[admin agent]`); a JSON array or a single name reads the same.
fn groups(claim: &str) -> Vec<&str> {
    claim
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
        .collect()
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

    /// A Cognito ID token's payload as API Gateway's JWT authorizer hands it
    /// to the function (payload 2.0): numbers and booleans as strings, the
    /// groups array as `[a b]`.
    fn id_token_claims(groups: &str) -> HashMap<String, String> {
        [
            ("sub", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("cognito:groups", groups),
            ("email_verified", "true"),
            (
                "iss",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
            ),
            ("cognito:username", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("origin_jti", "a1b2c3d4-0000-4000-8000-000000000001"),
            ("aud", "4lhp0v8uo3vvt6qre1ef5example"),
            ("event_id", "a1b2c3d4-0000-4000-8000-000000000002"),
            ("token_use", "id"),
            ("auth_time", "1764374400"),
            ("exp", "1764378000"),
            ("iat", "1764374400"),
            ("jti", "a1b2c3d4-0000-4000-8000-000000000003"),
            ("email", "owner@salon.example"),
            ("custom:tenant_id", "salon-42"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn refused(claims: &HashMap<String, String>) -> String {
        match Caller::from_claims(claims) {
            Err(ApiError::Unauthorized(why)) => why,
            other => panic!("expected 401, got {other:?}"),
        }
    }

    #[test]
    fn a_cognito_id_token_names_tenant_user_and_role() {
        let caller = Caller::from_claims(&id_token_claims("[admin]")).unwrap();
        assert_eq!(caller.tenant_id, "salon-42");
        assert_eq!(caller.user_id, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert_eq!(caller.role, Role::Admin);
        let agent = Caller::from_claims(&id_token_claims("[agent]")).unwrap();
        assert_eq!(agent.role, Role::Agent);
        // Someone in both groups is an admin.
        let both = Caller::from_claims(&id_token_claims("[agent admin]")).unwrap();
        assert_eq!(both.role, Role::Admin);
        // Other groups give no role of their own.
        let other = Caller::from_claims(&id_token_claims("[reception agent]")).unwrap();
        assert_eq!(other.role, Role::Agent);
    }

    #[test]
    fn role_comes_only_from_groups() {
        let mut claims = id_token_claims("[agent]");
        // Attributes a user might be able to write are not read.
        claims.insert("custom:role".into(), "admin".into());
        claims.insert("role".into(), "admin".into());
        assert_eq!(Caller::from_claims(&claims).unwrap().role, Role::Agent);
        claims.remove("cognito:groups");
        assert!(refused(&claims).contains("role group"));
        assert!(refused(&id_token_claims("[]")).contains("role group"));
        assert!(refused(&id_token_claims("[administrators]")).contains("role group"));
    }

    #[test]
    fn tenant_must_be_the_cognito_attribute_and_well_formed() {
        let mut claims = id_token_claims("[admin]");
        claims.remove("custom:tenant_id");
        claims.insert("tenant_id".into(), "salon-42".into());
        assert!(refused(&claims).contains("custom:tenant_id"));
        for bad in ["", "salon#C#x", "a b", &"x".repeat(65)] {
            let mut claims = id_token_claims("[admin]");
            claims.insert("custom:tenant_id".into(), bad.to_string());
            assert!(refused(&claims).contains("custom:tenant_id"), "{bad:?}");
        }
    }

    #[test]
    fn an_access_token_is_refused_with_a_reason() {
        // A Cognito access token: groups but no custom attributes, no aud.
        let claims: HashMap<String, String> = [
            ("sub", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("cognito:groups", "[admin]"),
            (
                "iss",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
            ),
            ("client_id", "4lhp0v8uo3vvt6qre1ef5example"),
            ("origin_jti", "a1b2c3d4-0000-4000-8000-000000000001"),
            ("event_id", "a1b2c3d4-0000-4000-8000-000000000002"),
            ("token_use", "access"),
            ("scope", "aws.cognito.signin.user.admin"),
            ("auth_time", "1764374400"),
            ("exp", "1764378000"),
            ("iat", "1764374400"),
            ("jti", "a1b2c3d4-0000-4000-8000-000000000003"),
            ("username", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(refused(&claims).contains("send the ID token"));
    }

    #[test]
    fn group_claims_read_in_every_rendering() {
        assert_eq!(groups("[admin agent]"), ["admin", "agent"]);
        assert_eq!(groups(r#"["admin","agent"]"#), ["admin", "agent"]);
        assert_eq!(groups("admin"), ["admin"]);
        assert!(groups("[]").is_empty());
    }

    #[test]
    fn tenant_ids_cannot_smuggle_key_separators() {
        assert!(is_valid_tenant_id("demo"));
        assert!(is_valid_tenant_id("salon-42_x"));
        assert!(!is_valid_tenant_id("demo#C#x"));
        assert!(!is_valid_tenant_id(""));
        assert!(!is_valid_tenant_id(&"a".repeat(65)));
    }
}
