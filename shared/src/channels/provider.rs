//! One descriptor per provider: what ingest, connections, the local gateway,
//! the demo seed and the tests need to know about its webhooks. A new
//! provider is its adapter module, its arm in [`Provider::descriptor`] (the
//! compiler asks for it) and its ingest function in template.yaml.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use super::{
    CanonicalEvent, ParseContext, ParseError, calcom, chat, instagram, meta, postmark, ses, stripe,
    twilio_signature, twilio_sms, twilio_voice, whatsapp,
};
use crate::model::Provider;
use crate::signature::hmac_sha256_hex;
use crate::store::Secrets;

pub struct Descriptor {
    pub provider: Provider,
    /// The webhook path segment (`/webhooks/{path}/{connection}`), also the
    /// `provider` named in `POST /connections`.
    pub path: &'static str,
    /// Prefix of the demo tenant's `.local/dev.env` keys (`../shared/API.md`).
    pub env_prefix: &'static str,
    pub proof: Proof,
    /// Values kept secret on the connection.
    pub secrets: &'static [Field],
    /// Values shown with the connection (public key, allowed origins, topic).
    pub config: &'static [Field],
    /// Meta's GET subscription handshake, for providers that do one.
    pub handshake: Option<Handshake>,
    pub reply: Reply,
    /// The content type the provider posts.
    pub content_type: &'static str,
    /// Larger bodies are refused (413) before anything else is done with
    /// them. Above what the provider sends, below what a Lambda request
    /// carries (6 MB; API Gateway's own limit is 10 MB).
    pub max_body_bytes: usize,
    /// Set when one webhook can carry other accounts' events.
    pub account: Option<Account>,
    pub parse: fn(&[u8], &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError>,
}

/// The account at the provider a connection is for (its `external_id`).
/// One Meta app, and so one app secret, serves many phone numbers and
/// Instagram accounts (of other businesses too, for a tech provider's app),
/// and Meta may batch their events into one delivery: the signature proves
/// only that Meta sent it.
#[derive(Debug, Clone, Copy)]
pub struct Account {
    /// What `external_id` must hold, as `POST /connections` asks for it.
    pub describes: &'static str,
    /// The delivery with only the parts for account `external_id`.
    pub scope: fn(body: &[u8], external_id: &str) -> Scoped,
}

/// A delivery narrowed to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scoped {
    /// Every part is the account's (or the body is malformed, which the
    /// parser reports with the field).
    Whole,
    /// Other accounts' parts were left out; the rest, re-serialized.
    Part(Vec<u8>),
}

impl Scoped {
    /// The body to queue in place of `body`.
    pub fn body<'a>(&'a self, body: &'a [u8]) -> &'a [u8] {
        match self {
            Scoped::Whole => body,
            Scoped::Part(part) => part,
        }
    }
}

/// Twilio, Stripe, Cal.com and the chat widget send tens of KiB at most;
/// 1 MiB is above that and above the claim-check threshold (240 KiB), so
/// an oversized delivery of theirs still reaches S3.
const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Meta documents webhook payloads of up to 3 MB (batched events).
const META_MAX_BODY: usize = 4 * 1024 * 1024;
/// An SNS message is at most 256 KiB; JSON-escaped inside the envelope it
/// can grow up to six times (`\u00XX` for control characters).
const SNS_MAX_BODY: usize = 2 * 1024 * 1024;
/// Postmark posts attachments inline (base64, up to 35 MB of them), more
/// than any Lambda request carries: we take what fits in one with room for
/// the event around it. Larger mail is refused (Postmark retries, then
/// reports it failed).
const POSTMARK_MAX_BODY: usize = 5 * 1024 * 1024;

const WHATSAPP_ACCOUNT: Account = Account {
    describes: "the WhatsApp phone number id",
    scope: whatsapp::scope,
};
const INSTAGRAM_ACCOUNT: Account = Account {
    describes: "the Instagram account id",
    scope: instagram::scope,
};

/// How a provider proves that it sent a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` keyed with `app_secret`.
    MetaSignature,
    /// `X-Twilio-Signature` over the public URL and the sorted form, keyed with `auth_token`.
    TwilioSignature,
    /// `Stripe-Signature` keyed with `webhook_secret`, its `t` within 5 minutes.
    StripeSignature,
    /// `X-Cal-Signature-256: <hex HMAC-SHA256 of the body>` keyed with `webhook_secret`.
    CalcomSignature,
    /// HTTP basic credentials `basic_user` / `basic_password`.
    BasicAuth,
    /// The connection's public key (`public_key`) from one of its `allowed_origins`.
    ChatKey,
    /// An SNS message signed by AWS's certificate for the connection's `topic_arn`.
    SnsSignature,
}

/// A delivery as its proof is checked: the connection's values and the
/// request as received.
pub struct SignedDelivery<'a> {
    pub secrets: &'a Secrets,
    pub config: &'a BTreeMap<String, String>,
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Checked by the caller against AWS's certificate, fetched over the network.
    NeedsSnsCertificate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`, answered with the challenge.
    MetaVerifyToken,
}

/// What a provider expects back once a delivery is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `{"status":"queued","delivery_id":…}`.
    Queued,
    /// Twilio reads the reply as TwiML; an empty `<Response/>` sends nothing.
    EmptyTwiml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// The key's suffix in `.local/dev.env` (after `env_prefix` and `_`).
    pub dev_env: &'static str,
    pub origin: Origin,
}

/// Where a connection's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The business copies it from the provider; refused when missing, since
    /// every delivery would then fail its check.
    Given,
    /// We choose it unless given, and tell the provider (shown once).
    Generated,
    /// Always ours, with this prefix (the chat widget's public key).
    Minted(&'static str),
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

const fn given(name: &'static str, dev_env: &'static str) -> Field {
    Field {
        name,
        dev_env,
        origin: Origin::Given,
    }
}

const fn generated(name: &'static str, dev_env: &'static str) -> Field {
    Field {
        name,
        dev_env,
        origin: Origin::Generated,
    }
}

const META_SECRETS: &[Field] = &[
    given("app_secret", "APP_SECRET"),
    generated("verify_token", "VERIFY_TOKEN"),
];
const TWILIO_SECRETS: &[Field] = &[given("auth_token", "AUTH_TOKEN")];

static WHATSAPP: Descriptor = Descriptor {
    provider: Provider::Whatsapp,
    path: "whatsapp",
    env_prefix: "WHATSAPP",
    proof: Proof::MetaSignature,
    secrets: META_SECRETS,
    config: &[],
    handshake: Some(Handshake::MetaVerifyToken),
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: META_MAX_BODY,
    account: Some(WHATSAPP_ACCOUNT),
    parse: whatsapp::parse,
};

static INSTAGRAM: Descriptor = Descriptor {
    provider: Provider::Instagram,
    path: "instagram",
    env_prefix: "INSTAGRAM",
    proof: Proof::MetaSignature,
    secrets: META_SECRETS,
    config: &[],
    handshake: Some(Handshake::MetaVerifyToken),
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: META_MAX_BODY,
    account: Some(INSTAGRAM_ACCOUNT),
    parse: instagram::parse,
};

static TWILIO_SMS: Descriptor = Descriptor {
    provider: Provider::TwilioSms,
    path: "sms",
    env_prefix: "SMS",
    proof: Proof::TwilioSignature,
    secrets: TWILIO_SECRETS,
    config: &[],
    handshake: None,
    reply: Reply::EmptyTwiml,
    content_type: FORM,
    max_body_bytes: DEFAULT_MAX_BODY,
    account: None,
    parse: twilio_sms::parse,
};

static TWILIO_VOICE: Descriptor = Descriptor {
    provider: Provider::TwilioVoice,
    path: "voice",
    env_prefix: "VOICE",
    proof: Proof::TwilioSignature,
    secrets: TWILIO_SECRETS,
    config: &[],
    handshake: None,
    reply: Reply::Queued,
    content_type: FORM,
    max_body_bytes: DEFAULT_MAX_BODY,
    account: None,
    parse: twilio_voice::parse,
};

static SES: Descriptor = Descriptor {
    provider: Provider::Ses,
    path: "email",
    env_prefix: "EMAIL",
    proof: Proof::SnsSignature,
    secrets: &[],
    config: &[given("topic_arn", "TOPIC_ARN")],
    handshake: None,
    reply: Reply::Queued,
    // SNS posts JSON as text/plain.
    content_type: "text/plain; charset=UTF-8",
    max_body_bytes: SNS_MAX_BODY,
    account: None,
    parse: ses::parse,
};

static POSTMARK: Descriptor = Descriptor {
    provider: Provider::Postmark,
    path: "postmark",
    env_prefix: "POSTMARK",
    proof: Proof::BasicAuth,
    secrets: &[
        generated("basic_user", "USER"),
        generated("basic_password", "PASSWORD"),
    ],
    config: &[],
    handshake: None,
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: POSTMARK_MAX_BODY,
    account: None,
    parse: postmark::parse,
};

static CHAT: Descriptor = Descriptor {
    provider: Provider::Chat,
    path: "chat",
    env_prefix: "CHAT",
    proof: Proof::ChatKey,
    secrets: &[],
    config: &[
        Field {
            name: "public_key",
            dev_env: "PUBLIC_KEY",
            origin: Origin::Minted("pk_"),
        },
        given("allowed_origins", "ORIGIN"),
    ],
    handshake: None,
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: chat::MAX_BODY_BYTES,
    account: None,
    parse: chat::parse,
};

static STRIPE: Descriptor = Descriptor {
    provider: Provider::Stripe,
    path: "stripe",
    env_prefix: "STRIPE",
    proof: Proof::StripeSignature,
    secrets: &[given("webhook_secret", "WEBHOOK_SECRET")],
    config: &[],
    handshake: None,
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: DEFAULT_MAX_BODY,
    account: None,
    parse: stripe::parse,
};

static CALCOM: Descriptor = Descriptor {
    provider: Provider::Calcom,
    path: "calcom",
    env_prefix: "CALCOM",
    proof: Proof::CalcomSignature,
    secrets: &[generated("webhook_secret", "SECRET")],
    config: &[],
    handshake: None,
    reply: Reply::Queued,
    content_type: JSON,
    max_body_bytes: DEFAULT_MAX_BODY,
    account: None,
    parse: calcom::parse,
};

impl Provider {
    pub fn descriptor(self) -> &'static Descriptor {
        match self {
            Provider::Whatsapp => &WHATSAPP,
            Provider::Instagram => &INSTAGRAM,
            Provider::TwilioSms => &TWILIO_SMS,
            Provider::TwilioVoice => &TWILIO_VOICE,
            Provider::Ses => &SES,
            Provider::Postmark => &POSTMARK,
            Provider::Chat => &CHAT,
            Provider::Stripe => &STRIPE,
            Provider::Calcom => &CALCOM,
        }
    }

    /// The provider whose webhooks live under `/webhooks/{path}/…`.
    pub fn from_path(path: &str) -> Option<Provider> {
        Provider::ALL
            .iter()
            .copied()
            .find(|p| p.descriptor().path == path)
    }

    /// The provider a stored name (`as_str`) denotes, as in a function's
    /// `PROVIDER` setting.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.iter().copied().find(|p| p.as_str() == name)
    }
}

impl Proof {
    /// What the check looks at, for the 401 that names it.
    pub fn describe(self) -> &'static str {
        match self {
            Proof::MetaSignature => "X-Hub-Signature-256",
            Proof::TwilioSignature => "X-Twilio-Signature",
            Proof::StripeSignature => "Stripe-Signature (or its timestamp is older than 5 minutes)",
            Proof::CalcomSignature => "X-Cal-Signature-256",
            Proof::BasicAuth => "HTTP basic credentials",
            Proof::ChatKey => "X-Chat-Key or Origin",
            Proof::SnsSignature => "SNS signature (or it is older than 2 hours)",
        }
    }

    /// Checks a delivery's proof over its raw bytes. `url` is the public URL
    /// the provider called (Twilio signs it); `now` bounds Stripe's timestamp.
    pub fn verify(self, delivery: &SignedDelivery<'_>) -> Verdict {
        let secret = |name: &str| delivery.secrets.get(name).unwrap_or_default();
        let header = |name: &str| delivery.headers.get(name).and_then(|v| v.to_str().ok());
        let body = delivery.body;
        let valid = match self {
            Proof::MetaSignature => {
                meta::signature_is_valid(secret("app_secret"), body, header(meta::SIGNATURE_HEADER))
            }
            Proof::TwilioSignature => twilio_signature::signature_is_valid(
                secret("auth_token"),
                delivery.url,
                body,
                header(twilio_signature::SIGNATURE_HEADER),
            ),
            Proof::StripeSignature => stripe::signature_is_valid(
                secret("webhook_secret"),
                body,
                header(stripe::SIGNATURE_HEADER),
                delivery.now,
            ),
            Proof::CalcomSignature => calcom::signature_is_valid(
                secret("webhook_secret"),
                body,
                header(calcom::SIGNATURE_HEADER),
            ),
            Proof::BasicAuth => postmark::basic_auth_is_valid(
                secret("basic_user"),
                secret("basic_password"),
                header(postmark::AUTHORIZATION_HEADER),
            ),
            Proof::ChatKey => {
                let config = |name: &str| {
                    delivery
                        .config
                        .get(name)
                        .map(String::as_str)
                        .unwrap_or_default()
                };
                let origins: Vec<String> = config("allowed_origins")
                    .split(',')
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect();
                chat::request_is_authorized(
                    config("public_key"),
                    &origins,
                    header(chat::KEY_HEADER),
                    header("origin"),
                )
            }
            Proof::SnsSignature => return Verdict::NeedsSnsCertificate,
        };
        if valid {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }

    /// Whether the proof is bound to the body: credentials and keys are not,
    /// so a body is only as safe as the channel (TLS) that carried it.
    pub fn covers_body(self) -> bool {
        match self {
            Proof::MetaSignature
            | Proof::TwilioSignature
            | Proof::StripeSignature
            | Proof::CalcomSignature
            | Proof::SnsSignature => true,
            Proof::BasicAuth | Proof::ChatKey => false,
        }
    }

    /// The headers the provider would send with `body` posted to `url`
    /// (demo seed, tests, benches). SNS messages are signed by AWS's
    /// certificate, which only AWS holds: `None`.
    pub fn sign(
        self,
        secrets: &Secrets,
        config: &BTreeMap<String, String>,
        url: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Option<Vec<(&'static str, String)>> {
        let secret = |name: &str| secrets.get(name).unwrap_or_default();
        Some(match self {
            Proof::MetaSignature => vec![(
                meta::SIGNATURE_HEADER,
                format!(
                    "sha256={}",
                    hmac_sha256_hex(secret("app_secret").as_bytes(), body)
                ),
            )],
            Proof::TwilioSignature => vec![(
                twilio_signature::SIGNATURE_HEADER,
                twilio_signature::compute_signature(secret("auth_token"), url, body),
            )],
            Proof::StripeSignature => {
                let t = now.timestamp();
                let v1 = stripe::compute_signature(secret("webhook_secret"), t, body);
                vec![(stripe::SIGNATURE_HEADER, format!("t={t},v1={v1}"))]
            }
            Proof::CalcomSignature => vec![(
                calcom::SIGNATURE_HEADER,
                hmac_sha256_hex(secret("webhook_secret").as_bytes(), body),
            )],
            Proof::BasicAuth => {
                let credentials = STANDARD.encode(format!(
                    "{}:{}",
                    secret("basic_user"),
                    secret("basic_password")
                ));
                vec![(
                    postmark::AUTHORIZATION_HEADER,
                    format!("Basic {credentials}"),
                )]
            }
            Proof::ChatKey => {
                let origin = config
                    .get("allowed_origins")
                    .and_then(|o| o.split(',').next())
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let key = config.get("public_key").cloned().unwrap_or_default();
                vec![(chat::KEY_HEADER, key), ("origin", origin)]
            }
            Proof::SnsSignature => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names_are_unique_and_round_trip() {
        for provider in Provider::ALL {
            let descriptor = provider.descriptor();
            assert_eq!(descriptor.provider, *provider);
            assert_eq!(Provider::from_path(descriptor.path), Some(*provider));
            assert_eq!(Provider::from_name(provider.as_str()), Some(*provider));
        }
        let mut prefixes: Vec<_> = Provider::ALL
            .iter()
            .map(|p| p.descriptor().env_prefix)
            .collect();
        prefixes.sort();
        prefixes.dedup();
        assert_eq!(prefixes.len(), Provider::ALL.len());
        assert_eq!(Provider::from_path("twilio_sms"), None);
    }

    #[test]
    fn body_caps_are_above_the_claim_check_and_below_a_lambda_request() {
        for provider in Provider::ALL {
            let cap = provider.descriptor().max_body_bytes;
            // The chat widget's body is public input, capped so it never needs the claim check.
            let floor = if *provider == Provider::Chat {
                chat::MAX_BODY_BYTES
            } else {
                DEFAULT_MAX_BODY
            };
            assert!(cap >= floor, "{provider:?}");
            assert!(cap < 6 * 1000 * 1000, "{provider:?}");
        }
    }

    #[test]
    fn every_signature_a_provider_makes_is_one_it_accepts() {
        let secrets = Secrets::default()
            .with("app_secret", "s1")
            .with("auth_token", "s2")
            .with("webhook_secret", "s3")
            .with("basic_user", "u")
            .with("basic_password", "p");
        let config: BTreeMap<String, String> = [
            ("public_key".to_string(), "pk_x".to_string()),
            (
                "allowed_origins".to_string(),
                "https://a.example".to_string(),
            ),
        ]
        .into();
        let body: &[u8] = b"{\"a\":1}";
        let url = "https://api.example/webhooks/x/c1";
        let now = Utc::now();
        for provider in Provider::ALL {
            let proof = provider.descriptor().proof;
            let Some(signed) = proof.sign(&secrets, &config, url, body, now) else {
                assert_eq!(proof, Proof::SnsSignature);
                continue;
            };
            let mut headers = http::HeaderMap::new();
            for (name, value) in signed {
                headers.insert(name, value.parse().unwrap());
            }
            let delivery = |body: &'static [u8], secrets: &Secrets| {
                proof.verify(&SignedDelivery {
                    secrets,
                    config: &config,
                    url,
                    headers: &headers,
                    body,
                    now,
                })
            };
            assert_eq!(
                delivery(b"{\"a\":1}", &secrets),
                Verdict::Valid,
                "{provider:?}"
            );
            let other = Secrets::default()
                .with("app_secret", "x")
                .with("auth_token", "x")
                .with("webhook_secret", "x")
                .with("basic_user", "x")
                .with("basic_password", "x");
            let tampered = delivery(b"{\"a\":2}", &secrets);
            let rekeyed = delivery(b"{\"a\":1}", &other);
            let expected = |holds: bool| {
                if holds {
                    Verdict::Invalid
                } else {
                    Verdict::Valid
                }
            };
            assert_eq!(tampered, expected(proof.covers_body()), "{provider:?}");
            // The chat key is public: anyone may hold it.
            assert_eq!(rekeyed, expected(proof != Proof::ChatKey), "{provider:?}");
        }
    }
}
