//! The demo tenant `demo`: settings, one connection per implemented provider
//! with fresh secrets, and sample history delivered through the real webhooks.

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use shared::model::Provider;
use shared::signature::hmac_sha256_hex;
use shared::store::{Connection, Secrets, Store, TenantSettings};

use crate::BoxError;
use crate::gateway::Gateway;
use crate::tokens::DevTokens;

pub const TENANT: &str = "demo";
pub const TIMEZONE: &str = "Europe/London";
pub const PHONE_REGION: &str = "GB";
pub const WHATSAPP_CONNECTION: &str = "demo-whatsapp";
/// The sample fixtures' business number.
pub const WHATSAPP_PHONE_NUMBER_ID: &str = "110923456789012";

/// The `.local/dev.env` lines, in order.
pub type DevEnv = Vec<(String, String)>;

fn random_secret() -> String {
    format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new()).to_ascii_lowercase()
}

pub async fn seed(store: &Store, tokens: &DevTokens, api_url: &str) -> Result<DevEnv, BoxError> {
    store
        .put_settings(
            TENANT,
            &TenantSettings {
                timezone: TIMEZONE.to_string(),
                phone_region: Some(PHONE_REGION.to_string()),
            },
        )
        .await?;
    let app_secret = random_secret();
    let verify_token = random_secret();
    store
        .put_connection(&Connection {
            connection_id: WHATSAPP_CONNECTION.to_string(),
            tenant_id: TENANT.to_string(),
            provider: Provider::Whatsapp,
            external_id: Some(WHATSAPP_PHONE_NUMBER_ID.to_string()),
            // Backdated so the sample history (October 2026) is imported.
            connected_at: Utc
                .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            secrets: Secrets::default()
                .with("app_secret", app_secret.clone())
                .with("verify_token", verify_token.clone()),
        })
        .await?;
    let pairs = [
        ("API_URL", api_url.to_string()),
        (
            "DEV_ADMIN_TOKEN",
            tokens.mint(TENANT, "demo-admin", "admin")?,
        ),
        (
            "DEV_AGENT_TOKEN",
            tokens.mint(TENANT, "demo-agent", "agent")?,
        ),
        ("DEMO_TIMEZONE", TIMEZONE.to_string()),
        ("DEMO_PHONE_REGION", PHONE_REGION.to_string()),
        ("WHATSAPP_CONNECTION", WHATSAPP_CONNECTION.to_string()),
        ("WHATSAPP_APP_SECRET", app_secret),
        ("WHATSAPP_VERIFY_TOKEN", verify_token),
        (
            "WHATSAPP_PHONE_NUMBER_ID",
            WHATSAPP_PHONE_NUMBER_ID.to_string(),
        ),
    ];
    Ok(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Sample WhatsApp traffic, oldest first, including a status that arrives
/// before the outbound message it belongs to.
const DEMO_WHATSAPP: &[&str] = &[
    "text_message.json",
    "image_message.json",
    "statuses_batch.json",
];

/// Posts the sample deliveries through the gateway, signed like Meta signs them.
pub async fn post_demo_webhooks(gateway: &Gateway, env: &DevEnv) -> Result<usize, BoxError> {
    let get = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("{key} missing"))
    };
    let secret = get("WHATSAPP_APP_SECRET")?;
    let connection = get("WHATSAPP_CONNECTION")?;
    let dir = crate::repo_root().join("tests/fixtures/whatsapp");
    let mut posted = 0;
    for name in DEMO_WHATSAPP {
        let body = std::fs::read(dir.join(name))?;
        let signature = format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), &body));
        let request = http::Request::post(format!("/webhooks/whatsapp/{connection}"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(Bytes::from(body))?;
        let response = gateway.handle(request).await;
        if !response.status().is_success() {
            return Err(format!("demo webhook {name} answered {}", response.status()).into());
        }
        posted += 1;
    }
    Ok(posted)
}

pub fn write_env_file(env: &DevEnv) -> Result<std::path::PathBuf, BoxError> {
    let dir = crate::repo_root().join(".local");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("dev.env");
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&path, text)?;
    Ok(path)
}
