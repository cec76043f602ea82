//! No secret reaches a log: connection secrets (given and generated), the
//! cursor key. Everything the functions log while connections are created
//! and listed, deliveries are accepted and refused, and pages are followed
//! is captured, at the most verbose log level a deployment can choose.

use std::collections::BTreeMap;

use chrono::Utc;
use integration_tests::logs::CapturedLogs;
use integration_tests::{TestStack, fixture, whatsapp_text};
use serde_json::{Value, json};
use shared::channels::provider::Origin;
use shared::model::Provider;
use shared::store::{Connection, Secrets};

fn strings(object: &serde_json::Map<String, Value>) -> BTreeMap<String, String> {
    object
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn random_secret() -> String {
    format!("s3cr3t{}", ulid::Ulid::new()).to_ascii_lowercase()
}

#[tokio::test]
async fn no_secret_is_ever_logged() {
    let captured = CapturedLogs::install();

    let stack = TestStack::new().await;
    let admin = format!("Bearer {}", stack.token("salon", "admin"));
    let mut secrets: Vec<String> = Vec::new();
    for provider in Provider::ALL.iter().copied() {
        let descriptor = provider.descriptor();
        // What the business types in; the rest the API generates.
        let given: serde_json::Map<String, Value> = descriptor
            .secrets
            .iter()
            .filter(|f| f.origin == Origin::Given)
            .map(|f| (f.name.to_string(), json!(random_secret())))
            .collect();
        let config: serde_json::Map<String, Value> = descriptor
            .config
            .iter()
            .map(|f| (f.name.to_string(), json!("https://salon.example")))
            .collect();
        // Meta connections need their account (the fixtures' phone number id).
        let created = stack
            .request(
                "POST",
                "/connections",
                &[("authorization", &admin)],
                json!({ "provider": descriptor.path, "external_id": "110923456789012", "secrets": given, "config": config, "connected_at": "2026-01-01T00:00:00Z" })
                    .to_string()
                    .as_bytes(),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let created = created.json();
        let id = created["connection_id"].as_str().unwrap().to_string();
        let mut all = given.clone();
        all.extend(
            created["generated_secrets"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        secrets.extend(all.values().filter_map(Value::as_str).map(str::to_string));

        let Some(_) = descriptor.proof.sign(
            &Secrets::default(),
            &Default::default(),
            "",
            b"",
            Utc::now(),
        ) else {
            continue; // SNS deliveries are signed by AWS only.
        };
        let connection = Connection {
            connection_id: id,
            tenant_id: "salon".into(),
            provider,
            external_id: None,
            connected_at: Utc::now(),
            config: strings(created["config"].as_object().unwrap()),
            secrets: Secrets::from(strings(&all)),
        };
        // Well signed (the body may still be refused as malformed), and forged.
        let body = if provider == Provider::Whatsapp {
            fixture("whatsapp/text_message.json")
        } else {
            b"{}".to_vec()
        };
        let good = stack
            .deliver_signed(&connection, "", &body, Utc::now())
            .await;
        assert_ne!(good.status, 401, "{provider:?} {good:?}");
        let mut forged = connection.clone();
        forged.secrets = forged
            .secrets
            .clone()
            .with("app_secret", "wrong")
            .with("auth_token", "wrong")
            .with("webhook_secret", "wrong")
            .with("basic_password", "wrong");
        let refused = stack.deliver_signed(&forged, "", b"{}", Utc::now()).await;
        if provider.descriptor().proof != shared::channels::provider::Proof::ChatKey {
            assert_eq!(refused.status, 401, "{provider:?} {refused:?}");
        }
    }
    assert_eq!(
        stack
            .get("/connections", &stack.token("salon", "admin"))
            .await
            .status,
        200
    );
    stack.drain().await;

    // A second contact, so the contact list has a next page: a cursor is
    // sealed and opened with the key.
    let whatsapp = stack.whatsapp_connection("salon").await;
    let other = whatsapp_text("wamid.second", "447700900999", 1_792_570_441, "Hello");
    assert_eq!(stack.post_whatsapp(&whatsapp, &other).await.status, 200);
    stack.drain().await;
    let page = stack
        .get("/contacts?limit=1", &stack.token("salon", "admin"))
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    let cursor = page.json()["next_cursor"].as_str().unwrap().to_string();
    let next = stack
        .get(
            &format!("/contacts?limit=1&cursor={cursor}"),
            &stack.token("salon", "admin"),
        )
        .await;
    assert_eq!(next.status, 200, "{next:?}");
    let cursor_key = stack
        .clients
        .secrets
        .get_secret_value()
        .secret_id(&stack.local.secrets["CursorKey"].arn)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    secrets.push(cursor_key);

    let log = captured.text();
    assert!(log.contains("queued"), "the capture saw the handlers' logs");
    let leaks: Vec<&str> = log
        .lines()
        .filter(|line| secrets.iter().any(|s| line.contains(s.as_str())))
        .collect();
    assert!(
        leaks.is_empty(),
        "secrets were logged:\n{}",
        leaks.join("\n")
    );
}
