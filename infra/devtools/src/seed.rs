//! The demo tenant `demo`: settings, one connection per implemented provider
//! with fresh secrets, and sample history delivered through the real webhooks.

use base64::Engine;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use shared::channels::stripe;
use shared::channels::twilio_signature::compute_signature;
use shared::model::Provider;
use shared::signature::hmac_sha256_hex;
use shared::store::{Connection, Secrets, Store, TenantSettings};

use crate::BoxError;
use crate::gateway::Gateway;
use crate::tokens::DevTokens;

pub const TENANT: &str = "demo";
pub const TIMEZONE: &str = "Europe/London";
pub const PHONE_REGION: &str = "GB";
/// The sample fixtures' business accounts.
pub const WHATSAPP_PHONE_NUMBER_ID: &str = "110923456789012";
pub const INSTAGRAM_ACCOUNT_ID: &str = "17841405822304914";
pub const SMS_ACCOUNT_SID: &str = "AC9af211329b2fc82e5efe906062c73008";
pub const SMS_NUMBER: &str = "+447700900200";
pub const CHAT_ORIGIN: &str = "https://lumierehair.example";
pub const EMAIL_TOPIC_ARN: &str = "arn:aws:sns:eu-west-1:123456789012:ses-inbound-lumiere";
pub const EMAIL_ADDRESS: &str = "hello@lumierehair.example";

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
                ..TenantSettings::default()
            },
        )
        .await?;
    let mut env: DevEnv = vec![
        ("API_URL".into(), api_url.to_string()),
        (
            "DEV_ADMIN_TOKEN".into(),
            tokens.mint(TENANT, "demo-admin", "admin")?,
        ),
        (
            "DEV_AGENT_TOKEN".into(),
            tokens.mint(TENANT, "demo-agent", "agent")?,
        ),
        ("DEMO_TIMEZONE".into(), TIMEZONE.to_string()),
        ("DEMO_PHONE_REGION".into(), PHONE_REGION.to_string()),
    ];
    let meta_secrets = || {
        Secrets::default()
            .with("app_secret", random_secret())
            .with("verify_token", random_secret())
    };
    let public_key = format!("pk_{}", random_secret());
    let twilio = || Secrets::default().with("auth_token", random_secret());
    let connections = [
        (
            Provider::Whatsapp,
            "demo-whatsapp",
            WHATSAPP_PHONE_NUMBER_ID,
            meta_secrets(),
            vec![],
        ),
        (
            Provider::Instagram,
            "demo-instagram",
            INSTAGRAM_ACCOUNT_ID,
            meta_secrets(),
            vec![],
        ),
        (
            Provider::TwilioSms,
            "demo-sms",
            SMS_ACCOUNT_SID,
            twilio(),
            vec![("number", SMS_NUMBER.to_string())],
        ),
        (
            Provider::TwilioVoice,
            "demo-voice",
            SMS_ACCOUNT_SID,
            twilio(),
            vec![("number", SMS_NUMBER.to_string())],
        ),
        (
            Provider::Ses,
            "demo-email",
            "",
            Secrets::default(),
            vec![
                ("topic_arn", EMAIL_TOPIC_ARN.to_string()),
                ("address", EMAIL_ADDRESS.to_string()),
            ],
        ),
        (
            Provider::Postmark,
            "demo-postmark",
            "",
            Secrets::default()
                .with("basic_user", "postmark")
                .with("basic_password", random_secret()),
            vec![],
        ),
        (
            Provider::Stripe,
            "demo-stripe",
            "",
            Secrets::default().with("webhook_secret", format!("whsec_{}", random_secret())),
            vec![],
        ),
        (
            Provider::Calcom,
            "demo-calcom",
            "",
            Secrets::default().with("webhook_secret", random_secret()),
            vec![],
        ),
        (
            Provider::Chat,
            "demo-chat",
            "",
            Secrets::default(),
            vec![
                ("public_key", public_key.clone()),
                ("allowed_origins", CHAT_ORIGIN.to_string()),
            ],
        ),
    ];
    for (provider, id, external, secrets, config) in connections {
        let connection = Connection {
            connection_id: id.to_string(),
            tenant_id: TENANT.to_string(),
            provider,
            external_id: (!external.is_empty()).then(|| external.to_string()),
            // Backdated so the sample history (October 2026) is imported.
            connected_at: Utc
                .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            config: config
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            secrets,
        };
        let secret = |name: &str| connection.secrets.get(name).unwrap_or_default().to_string();
        let keys: Vec<(&str, String)> = match provider {
            Provider::Whatsapp => vec![
                ("WHATSAPP_CONNECTION", id.to_string()),
                ("WHATSAPP_APP_SECRET", secret("app_secret")),
                ("WHATSAPP_VERIFY_TOKEN", secret("verify_token")),
                ("WHATSAPP_PHONE_NUMBER_ID", external.to_string()),
            ],
            Provider::Instagram => vec![
                ("INSTAGRAM_CONNECTION", id.to_string()),
                ("INSTAGRAM_APP_SECRET", secret("app_secret")),
                ("INSTAGRAM_VERIFY_TOKEN", secret("verify_token")),
                ("INSTAGRAM_ACCOUNT_ID", external.to_string()),
            ],
            Provider::TwilioSms => vec![
                ("SMS_CONNECTION", id.to_string()),
                ("SMS_AUTH_TOKEN", secret("auth_token")),
                ("SMS_ACCOUNT_SID", external.to_string()),
                ("SMS_NUMBER", SMS_NUMBER.to_string()),
            ],
            Provider::TwilioVoice => vec![
                ("VOICE_CONNECTION", id.to_string()),
                ("VOICE_AUTH_TOKEN", secret("auth_token")),
                ("VOICE_ACCOUNT_SID", external.to_string()),
                ("VOICE_NUMBER", SMS_NUMBER.to_string()),
            ],
            Provider::Ses => vec![
                ("EMAIL_CONNECTION", id.to_string()),
                ("EMAIL_TOPIC_ARN", EMAIL_TOPIC_ARN.to_string()),
                ("EMAIL_ADDRESS", EMAIL_ADDRESS.to_string()),
            ],
            Provider::Postmark => vec![
                ("POSTMARK_CONNECTION", id.to_string()),
                ("POSTMARK_USER", secret("basic_user")),
                ("POSTMARK_PASSWORD", secret("basic_password")),
            ],
            Provider::Stripe => vec![
                ("STRIPE_CONNECTION", id.to_string()),
                ("STRIPE_WEBHOOK_SECRET", secret("webhook_secret")),
            ],
            Provider::Calcom => vec![
                ("CALCOM_CONNECTION", id.to_string()),
                ("CALCOM_SECRET", secret("webhook_secret")),
            ],
            _ => vec![
                ("CHAT_CONNECTION", id.to_string()),
                ("CHAT_PUBLIC_KEY", public_key.clone()),
                ("CHAT_ORIGIN", CHAT_ORIGIN.to_string()),
            ],
        };
        env.extend(keys.into_iter().map(|(k, v)| (k.to_string(), v)));
        store.put_connection(&connection).await?;
    }
    Ok(env)
}

/// Sample traffic from the fixtures' story, oldest first per channel,
/// including an Instagram unsend and a WhatsApp status batch.
const DEMO: &[(&str, &str)] = &[
    ("instagram", "message.json"),
    ("instagram", "image_message.json"),
    ("instagram", "echo.json"),
    ("instagram", "read.json"),
    ("instagram", "deleted.json"),
    ("whatsapp", "text_message.json"),
    ("whatsapp", "image_message.json"),
    ("whatsapp", "statuses_batch.json"),
    ("twilio_sms", "inbound.form"),
    ("calcom", "booking_created.json"),
    ("stripe", "payment_intent_succeeded.json"),
    ("stripe", "checkout_session_completed.json"),
    ("calcom", "booking_cancelled.json"),
    ("stripe", "charge_refunded.json"),
    ("calcom", "booking_rescheduled.json"),
    ("twilio_voice", "no_answer_outbound.form"),
    ("twilio_voice", "completed.form"),
    ("calcom", "meeting_ended.json"),
    ("postmark", "inbound.json"),
];

/// Posts the sample deliveries through the gateway, signed as each provider
/// signs them, plus one website chat message.
pub async fn post_demo_webhooks(gateway: &Gateway, env: &DevEnv) -> Result<usize, BoxError> {
    let get = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("{key} missing"))
    };
    let api_url = get("API_URL")?;
    let host = api_url.trim_start_matches("http://").to_string();
    let fixtures = crate::repo_root().join("tests/fixtures");
    let mut posted = 0;
    for (dir, name) in DEMO {
        let body = std::fs::read(fixtures.join(dir).join(name))?;
        let request = match *dir {
            "whatsapp" | "instagram" => {
                let prefix = dir.to_ascii_uppercase();
                let secret = get(&format!("{prefix}_APP_SECRET"))?;
                http::Request::post(format!(
                    "/webhooks/{dir}/{}",
                    get(&format!("{prefix}_CONNECTION"))?
                ))
                .header("content-type", "application/json")
                .header(
                    "x-hub-signature-256",
                    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), &body)),
                )
            }
            "twilio_sms" | "twilio_voice" => {
                let (segment, prefix) = if *dir == "twilio_sms" {
                    ("sms", "SMS")
                } else {
                    ("voice", "VOICE")
                };
                let path = format!(
                    "/webhooks/{segment}/{}",
                    get(&format!("{prefix}_CONNECTION"))?
                );
                let url = format!("{api_url}{path}");
                let signature =
                    compute_signature(&get(&format!("{prefix}_AUTH_TOKEN"))?, &url, &body);
                http::Request::post(path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", signature)
            }
            "stripe" => {
                let secret = get("STRIPE_WEBHOOK_SECRET")?;
                let t = Utc::now().timestamp();
                let signature =
                    format!("t={t},v1={}", stripe::compute_signature(&secret, t, &body));
                http::Request::post(format!("/webhooks/stripe/{}", get("STRIPE_CONNECTION")?))
                    .header("content-type", "application/json")
                    .header("stripe-signature", signature)
            }
            "calcom" => {
                let secret = get("CALCOM_SECRET")?;
                http::Request::post(format!("/webhooks/calcom/{}", get("CALCOM_CONNECTION")?))
                    .header("content-type", "application/json")
                    .header(
                        "x-cal-signature-256",
                        hmac_sha256_hex(secret.as_bytes(), &body),
                    )
            }
            _ => {
                let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    get("POSTMARK_USER")?,
                    get("POSTMARK_PASSWORD")?
                ));
                http::Request::post(format!(
                    "/webhooks/postmark/{}",
                    get("POSTMARK_CONNECTION")?
                ))
                .header("content-type", "application/json")
                .header("authorization", format!("Basic {credentials}"))
            }
        }
        .header("host", &host)
        .body(Bytes::from(body))?;
        let response = gateway.handle(request).await;
        if !response.status().is_success() {
            return Err(format!("demo webhook {dir}/{name} answered {}", response.status()).into());
        }
        posted += 1;
    }
    let chat = serde_json::json!({
        "visitor_id": "v_demo_visitor",
        "message_id": "m_demo_1",
        "sent_at": "2026-10-25T19:30:00.000Z",
        "text": "Hi! Do you have a free slot for a trim next week?",
        "visitor": { "name": "Maya", "email": "maya.lopez@example.com" },
        "page": { "url": "https://lumierehair.example/prices?utm_source=instagram&utm_medium=bio", "referrer": "https://l.instagram.com/" }
    });
    let request = http::Request::post(format!("/webhooks/chat/{}", get("CHAT_CONNECTION")?))
        .header("content-type", "application/json")
        .header("x-chat-key", get("CHAT_PUBLIC_KEY")?)
        .header("origin", get("CHAT_ORIGIN")?)
        .header("host", &host)
        .body(Bytes::from(chat.to_string()))?;
    let response = gateway.handle(request).await;
    if !response.status().is_success() {
        return Err(format!("demo chat message answered {}", response.status()).into());
    }
    Ok(posted + 1)
}

pub fn write_env_file(env: &DevEnv) -> Result<std::path::PathBuf, BoxError> {
    let dir = crate::repo_root().join(".local");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("dev.env");
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&path, text)?;
    Ok(path)
}
