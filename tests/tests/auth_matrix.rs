//! Every authorized route in template.yaml, called with no token, a forged
//! token, another tenant's token, and an agent's and an admin's token.

use devtools::template::Template;
use devtools::tokens::id_token_claims;
use integration_tests::{TestStack, fixture};
use serde_json::json;

/// (route key, body, admin only, names a resource of the tenant)
const ROUTES: &[(&str, &str, bool, bool)] = &[
    ("GET /contacts", "", false, false),
    ("GET /contacts/{contact}", "", false, true),
    ("GET /contacts/{contact}/timeline", "", false, true),
    ("GET /contacts/{contact}/messages", "", false, true),
    ("GET /contacts/{contact}/duplicates", "", false, true),
    ("GET /contacts/{contact}/journey", "", false, true),
    ("GET /contacts/{contact}/metrics", "", false, true),
    (
        "POST /contacts/{contact}/messages",
        r#"{"channel":"sms","body":"hi","author":"ai"}"#,
        false,
        true,
    ),
    (
        "POST /contacts/{contact}/notes",
        r#"{"body":"note"}"#,
        false,
        true,
    ),
    (
        "PUT /contacts/{contact}/stage",
        r#"{"stage":"contacted"}"#,
        false,
        true,
    ),
    (
        "POST /contacts/{contact}/merge",
        r#"{"contact_id":"{other}"}"#,
        false,
        true,
    ),
    (
        "POST /contacts/{contact}/split",
        r#"{"identities":[{"kind":"phone","value":"{extra}"}]}"#,
        false,
        true,
    ),
    ("GET /audit", "", true, false),
    ("GET /settings", "", false, false),
    (
        "PUT /settings",
        r#"{"timezone":"Europe/London"}"#,
        true,
        false,
    ),
    ("GET /connections", "", true, false),
    (
        "POST /connections",
        r#"{"provider":"sms","secrets":{"auth_token":"t"}}"#,
        true,
        false,
    ),
    (
        "POST /contacts/{contact}/exports",
        r#"{"format":"csv"}"#,
        true,
        true,
    ),
    (
        "POST /exports",
        r#"{"from":"2026-01-01T00:00:00Z","to":"2026-12-31T00:00:00Z"}"#,
        true,
        false,
    ),
    ("GET /exports/{export}", "", true, true),
    ("DELETE /connections/{connection}", "", true, true),
];

#[tokio::test]
async fn every_route_checks_token_tenant_and_role() {
    let stack = TestStack::new().await;
    let connection = stack.whatsapp_connection("salon").await;
    stack
        .post_whatsapp(&connection, &fixture("whatsapp/text_message.json"))
        .await;
    stack.drain().await;
    let contact = stack.only_contact("salon").await;
    let export = stack
        .post_json(
            &format!("/contacts/{contact}/exports"),
            &stack.token("salon", "admin"),
            json!({"format": "txt"}),
        )
        .await
        .json()["export_id"]
        .as_str()
        .unwrap()
        .to_string();

    let template = Template::load_default().unwrap();
    let authorized: Vec<String> = template
        .routes()
        .into_iter()
        // The greedy routes answer 405/404 only (openapi_contract.rs).
        .filter(|r| r.authorized && !r.is_greedy())
        .map(|r| r.key())
        .collect();
    for key in &authorized {
        assert!(
            ROUTES.iter().any(|(k, ..)| k == key),
            "{key} is not in the auth matrix"
        );
    }

    let call = |key: &str, body: &str, token: Option<String>| {
        let (method, path) = key.split_once(' ').unwrap();
        let needs_other = body.contains("{other}");
        let path = path
            .replace("{contact}", &contact)
            .replace("{connection}", &connection)
            .replace("{export}", &export);
        let method = method.to_string();
        let body = body.to_string();
        let stack = &stack;
        let contact = contact.clone();
        async move {
            // Merging consumes a contact: each call gets a fresh one.
            let body = if needs_other {
                let phone = format!("+4477009{:05}", ulid::Ulid::new().random() % 100_000);
                let other = stack.contact_with_phone("salon", &phone).await;
                body.replace("{other}", &other)
            } else if body.contains("{extra}") {
                // Splitting consumes an identity: each call gives one more.
                let phone = format!("+4477008{:05}", ulid::Ulid::new().random() % 100_000);
                let extra = shared::identity::Identity::phone(&phone, None).unwrap();
                let store = stack.store();
                let held = store.contact("salon", &contact).await.unwrap().unwrap();
                store
                    .resolve_contact_with(
                        "salon",
                        &held.identities[0],
                        &[extra],
                        None,
                        chrono::Utc::now(),
                    )
                    .await
                    .unwrap();
                body.replace("{extra}", &phone)
            } else {
                body
            };
            let auth = token.map(|t| format!("Bearer {t}"));
            let mut headers = vec![("content-type", "application/json")];
            if let Some(auth) = &auth {
                headers.push(("authorization", auth.as_str()));
            }
            stack
                .request(&method, &path, &headers, body.as_bytes())
                .await
        }
    };

    for (key, body, admin_only, names_resource) in ROUTES {
        assert!(
            authorized.contains(&key.to_string()),
            "{key} is not a template route"
        );
        assert_eq!(
            call(key, body, None).await.status,
            401,
            "{key} without a token"
        );
        assert_eq!(
            call(key, body, Some("e30.e30.forged".into())).await.status,
            401,
            "{key} with a forged token"
        );
        let agent = call(key, body, Some(stack.token("salon", "agent"))).await;
        if *admin_only {
            assert_eq!(agent.status, 403, "{key} as an agent: {agent:?}");
        } else {
            assert!(
                (200..300).contains(&agent.status),
                "{key} as an agent: {agent:?}"
            );
        }
        let rival = call(key, body, Some(stack.token("rival", "admin"))).await;
        if *names_resource {
            assert_eq!(rival.status, 404, "{key} from another tenant: {rival:?}");
        } else {
            let text = String::from_utf8_lossy(&rival.body).to_string();
            assert!(
                !text.contains(&contact) && !text.contains(&connection),
                "{key} leaked: {text}"
            );
        }
    }
    // The rival's settings write did not touch the salon's.
    let settings = stack
        .get("/settings", &stack.token("salon", "agent"))
        .await
        .json();
    assert_eq!(settings["timezone"], "UTC");
    // The admin last: DELETE removes the connection.
    for (key, body, ..) in ROUTES {
        let admin = call(key, body, Some(stack.token("salon", "admin"))).await;
        assert!(
            (200..300).contains(&admin.status),
            "{key} as an admin: {admin:?}"
        );
    }
    // The rival's settings write did not touch the salon's.
    let settings = stack
        .get("/settings", &stack.token("salon", "admin"))
        .await
        .json();
    assert_eq!(settings["timezone"], "Europe/London");
}

/// The token shapes Cognito issues, through the gateway's JWT check and the
/// claims rendering API Gateway uses (`[a b]` for groups).
#[tokio::test]
async fn cognito_token_shapes_decide_tenant_and_role() {
    let stack = TestStack::new().await;
    let tokens = stack.gateway.tokens();
    let call = |token: String, path: &'static str| {
        let stack = &stack;
        async move { stack.get(path, &token).await }
    };
    let id_token = |groups: &[&str], tenant: &str| {
        tokens
            .mint_claims(id_token_claims(tenant, "u-1", groups))
            .unwrap()
    };

    // In both groups: an admin. In an unrelated group too: still an agent.
    let both = call(id_token(&["agent", "admin"], "salon"), "/connections").await;
    assert_eq!(both.status, 200, "{both:?}");
    let agent = call(id_token(&["front-desk", "agent"], "salon"), "/connections").await;
    assert_eq!(agent.status, 403, "{agent:?}");
    assert_eq!(
        call(id_token(&["agent"], "salon"), "/contacts")
            .await
            .status,
        200
    );

    // No role group, a malformed tenant, an access token: 401, named.
    for (token, why) in [
        (id_token(&[], "salon"), "role group"),
        (id_token(&["admin"], "salon#C#x"), "custom:tenant_id"),
        (
            tokens
                .mint_claims(json!({
                    "sub": "u-1", "token_use": "access", "client_id": "localdevappclient",
                    "cognito:groups": ["admin"], "scope": "aws.cognito.signin.user.admin",
                    "username": "u-1"
                }))
                .unwrap(),
            "send the ID token",
        ),
    ] {
        let reply = call(token, "/contacts").await;
        assert_eq!(reply.status, 401, "{reply:?}");
        assert_eq!(reply.content_type, "application/problem+json");
        assert!(
            reply.json()["detail"].as_str().unwrap().contains(why),
            "{reply:?}"
        );
    }
    // A token for another app client never reaches the function.
    let foreign = tokens
        .mint_claims(json!({ "sub": "u-1", "aud": "another-client", "custom:tenant_id": "salon", "cognito:groups": ["admin"] }))
        .unwrap();
    assert_eq!(call(foreign, "/contacts").await.status, 401);
}
