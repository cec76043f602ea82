//! The demo tenant `demo`: settings, one connection per provider with fresh
//! secrets (as the provider's descriptor lists them), and sample history
//! delivered through the real, signed webhooks.

use chrono::{TimeZone, Utc};
use shared::channels::provider::Origin;
use shared::model::Provider;
use shared::store::{Connection, Secrets, Store, TenantSettings};

use crate::BoxError;
use crate::gateway::Gateway;
use crate::tokens::DevTokens;

pub const TENANT: &str = "demo";
pub const TIMEZONE: &str = "Europe/London";
pub const PHONE_REGION: &str = "GB";
pub const CHAT_ORIGIN: &str = "https://lumierehair.example";
const SMS_NUMBER: &str = "+447700900200";
const TWILIO_ACCOUNT_SID: &str = "AC9af211329b2fc82e5efe906062c73008";

/// The `.local/dev.env` lines, in order.
pub type DevEnv = Vec<(String, String)>;

pub struct Seeded {
    pub env: DevEnv,
    pub connections: Vec<Connection>,
}

/// What the sample fixtures expect of a provider's demo connection: its
/// account id at the provider, values the business would type in, and more
/// `.local/dev.env` lines (suffix, value).
struct DemoConnection {
    external_id: Option<(&'static str, &'static str)>,
    config: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
}

fn demo_connection(provider: Provider) -> DemoConnection {
    let none = DemoConnection {
        external_id: None,
        config: &[],
        env: &[],
    };
    match provider {
        Provider::Whatsapp => DemoConnection {
            external_id: Some(("PHONE_NUMBER_ID", "110923456789012")),
            ..none
        },
        Provider::Instagram => DemoConnection {
            external_id: Some(("ACCOUNT_ID", "17841405822304914")),
            ..none
        },
        Provider::TwilioSms | Provider::TwilioVoice => DemoConnection {
            external_id: Some(("ACCOUNT_SID", TWILIO_ACCOUNT_SID)),
            config: &[("number", SMS_NUMBER)],
            env: &[("NUMBER", SMS_NUMBER)],
        },
        Provider::Ses => DemoConnection {
            config: &[
                (
                    "topic_arn",
                    "arn:aws:sns:eu-west-1:123456789012:ses-inbound-lumiere",
                ),
                ("address", "hello@lumierehair.example"),
            ],
            env: &[("ADDRESS", "hello@lumierehair.example")],
            ..none
        },
        Provider::Chat => DemoConnection {
            config: &[("allowed_origins", CHAT_ORIGIN)],
            ..none
        },
        Provider::Postmark | Provider::Stripe | Provider::Calcom => none,
    }
}

fn random_secret() -> String {
    format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new()).to_ascii_lowercase()
}

pub async fn seed(store: &Store, tokens: &DevTokens, api_url: &str) -> Result<Seeded, BoxError> {
    store
        .put_settings(
            TENANT,
            &TenantSettings {
                timezone: TIMEZONE.to_string(),
                phone_region: Some(PHONE_REGION.to_string()),
                business_name: Some("Studio Lumière (demo)".to_string()),
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
    let mut connections = Vec::new();
    for provider in Provider::ALL.iter().copied() {
        let descriptor = provider.descriptor();
        let demo = demo_connection(provider);
        let prefix = descriptor.env_prefix;
        let mut secrets = Secrets::default();
        let mut config: std::collections::BTreeMap<String, String> = demo
            .config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push((
            format!("{prefix}_CONNECTION"),
            format!("demo-{}", descriptor.path),
        ));
        for field in descriptor.secrets {
            let value = random_secret();
            env.push((format!("{prefix}_{}", field.dev_env), value.clone()));
            secrets = secrets.with(field.name, value);
        }
        for field in descriptor.config {
            let value = match field.origin {
                Origin::Minted(prefix) => format!("{prefix}{}", random_secret()),
                Origin::Generated => random_secret(),
                Origin::Given => config.get(field.name).cloned().ok_or_else(|| {
                    format!(
                        "the demo {} connection lacks {}",
                        descriptor.path, field.name
                    )
                })?,
            };
            env.push((format!("{prefix}_{}", field.dev_env), value.clone()));
            config.insert(field.name.to_string(), value);
        }
        if let Some((name, id)) = demo.external_id {
            env.push((format!("{prefix}_{name}"), id.to_string()));
        }
        for (name, value) in demo.env {
            env.push((format!("{prefix}_{name}"), value.to_string()));
        }
        let connection = Connection {
            connection_id: format!("demo-{}", descriptor.path),
            tenant_id: TENANT.to_string(),
            provider,
            external_id: demo.external_id.map(|(_, id)| id.to_string()),
            // Backdated so the sample history (October 2026) is imported.
            connected_at: Utc
                .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            config,
            secrets,
        };
        store.put_connection(&connection).await?;
        connections.push(connection);
    }
    Ok(Seeded { env, connections })
}

/// Sample traffic from the fixtures' story (`tests/fixtures/{provider}/…`),
/// oldest first per channel, including an Instagram unsend and a WhatsApp
/// status batch.
const DEMO: &[(Provider, &str)] = &[
    (Provider::Instagram, "message.json"),
    (Provider::Instagram, "image_message.json"),
    (Provider::Instagram, "echo.json"),
    (Provider::Instagram, "read.json"),
    (Provider::Instagram, "deleted.json"),
    (Provider::Whatsapp, "text_message.json"),
    (Provider::Whatsapp, "image_message.json"),
    (Provider::Whatsapp, "statuses_batch.json"),
    (Provider::TwilioSms, "inbound.form"),
    (Provider::Calcom, "booking_created.json"),
    (Provider::Stripe, "payment_intent_succeeded.json"),
    (Provider::Stripe, "checkout_session_completed.json"),
    (Provider::Calcom, "booking_cancelled.json"),
    (Provider::Stripe, "charge_refunded.json"),
    (Provider::Calcom, "booking_rescheduled.json"),
    (Provider::TwilioVoice, "no_answer_outbound.form"),
    (Provider::TwilioVoice, "completed.form"),
    (Provider::Calcom, "meeting_ended.json"),
    (Provider::Postmark, "inbound.json"),
];

/// Posts the sample deliveries through the gateway, signed as each provider
/// signs them, plus one website chat message.
pub async fn post_demo_webhooks(
    gateway: &Gateway,
    seeded: &Seeded,
    api_url: &str,
) -> Result<usize, BoxError> {
    let connection = |provider: Provider| {
        seeded
            .connections
            .iter()
            .find(|c| c.provider == provider)
            .ok_or_else(|| format!("no demo {} connection", provider.as_str()))
    };
    let fixtures = crate::repo_root().join("tests/fixtures");
    let chat = serde_json::json!({
        "visitor_id": "v_demo_visitor",
        "message_id": "m_demo_1",
        "sent_at": "2026-10-25T19:30:00.000Z",
        "text": "Hi! Do you have a free slot for a trim next week?",
        "visitor": { "name": "Maya", "email": "maya.lopez@example.com" },
        "page": { "url": "https://lumierehair.example/prices?utm_source=instagram&utm_medium=bio", "referrer": "https://l.instagram.com/" }
    });
    let mut deliveries = Vec::new();
    for (provider, name) in DEMO {
        let body = std::fs::read(fixtures.join(provider.as_str()).join(name))?;
        deliveries.push((*provider, name.to_string(), body));
    }
    deliveries.push((
        Provider::Chat,
        "chat message".into(),
        chat.to_string().into_bytes(),
    ));
    for (provider, name, body) in &deliveries {
        let request = crate::webhooks::signed_request(
            connection(*provider)?,
            api_url,
            "",
            body.clone(),
            Utc::now(),
        )?;
        let response = gateway.handle(request).await;
        if !response.status().is_success() {
            return Err(format!(
                "demo webhook {}/{name} answered {}",
                provider.as_str(),
                response.status()
            )
            .into());
        }
    }
    Ok(deliveries.len())
}

pub fn write_env_file(env: &DevEnv) -> Result<std::path::PathBuf, BoxError> {
    write_env_file_to(env, &crate::repo_root().join(".local").join("dev.env"))
}

/// The env file at `path`, written whole under another name first and then
/// renamed, so a script waiting for it never reads half of it.
pub fn write_env_file_to(
    env: &DevEnv,
    path: &std::path::Path,
) -> Result<std::path::PathBuf, BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)?;
    Ok(path.to_path_buf())
}
