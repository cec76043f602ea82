//! Stripe webhooks: snapshot events about payments (PaymentIntents, Charges,
//! Checkout Sessions), signed with the `Stripe-Signature` header.
//!
//! The header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: each `v1` is
//! HMAC-SHA256, keyed with the whole endpoint secret (`whsec_...`, not
//! decoded), over `"<t>.<raw body>"`. Several `v1` appear while a secret is
//! rolled; other schemes (`v0`) are ignored. Retries are re-signed with a new
//! `t`, so deliveries are deduplicated on the event id, never the signature.
//!
//! Every report about one payment is keyed by its PaymentIntent id, so
//! `payment_intent.succeeded`, `checkout.session.completed` and
//! `charge.refunded` converge on one payment whatever order they arrive in.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::json_node::Node;
use super::{CanonicalEvent, ParseContext, ParseError, PaymentStatus, PaymentUpdate, from_json};
use crate::identity::Identity;
use crate::model::Provider;
use crate::signature::constant_time_eq;

pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How far the signature's `t` may be from our clock (Stripe's SDK default).
pub const TOLERANCE_SECS: i64 = 300;

/// True when `header` carries a `v1` signature of `body` made with `secret`
/// and its `t` is within [`TOLERANCE_SECS`] of `now` (either side).
///
/// `body` must be the raw request bytes: re-serialized JSON does not verify.
/// `now` is injected so tests (and replays of stored deliveries) can freeze it.
pub fn signature_is_valid(
    secret: &str,
    body: &[u8],
    header: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    // An empty key would let anyone compute the MAC.
    if secret.is_empty() {
        return false;
    }
    let Some(header) = header.and_then(SignatureHeader::parse) else {
        return false;
    };
    let Some(expected) = mac(secret, header.timestamp_text, body) else {
        return false;
    };
    // Every candidate is compared, so the time taken does not tell which matched.
    let matched = header.v1.iter().fold(false, |any, candidate| {
        any | constant_time_eq(&expected, candidate)
    });
    let fresh = now
        .timestamp()
        .checked_sub(header.timestamp)
        .is_some_and(|skew| skew.unsigned_abs() <= TOLERANCE_SECS.unsigned_abs());
    matched && fresh
}

/// The `v1` value Stripe would send for `body` signed at `timestamp` (for
/// tests and local tooling that replays deliveries).
pub fn compute_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let bytes = mac(secret, &timestamp.to_string(), body).unwrap_or_else(|| unreachable!());
    hex::encode(bytes)
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().to_vec())
}

struct SignatureHeader<'a> {
    /// `t` exactly as sent: it is what Stripe signed.
    timestamp_text: &'a str,
    timestamp: i64,
    /// Decoded `v1` MACs; values that are not hex can never match and are dropped.
    v1: Vec<Vec<u8>>,
}

impl<'a> SignatureHeader<'a> {
    /// `None` without exactly one well-formed `t` or without any `v1`.
    fn parse(header: &'a str) -> Option<Self> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for item in header.split(',') {
            let Some((key, value)) = item.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "t" => {
                    // Two timestamps are ambiguous: Stripe never sends them.
                    if timestamp.is_some()
                        || value.is_empty()
                        || !value.bytes().all(|b| b.is_ascii_digit())
                    {
                        return None;
                    }
                    timestamp = Some((value, value.parse::<i64>().ok()?));
                }
                "v1" => {
                    if let Ok(mac) = hex::decode(value) {
                        v1.push(mac);
                    }
                }
                _ => {}
            }
        }
        let (timestamp_text, timestamp) = timestamp?;
        (!v1.is_empty()).then_some(Self {
            timestamp_text,
            timestamp,
            v1,
        })
    }
}

/// Parses a verified event. Event types that say nothing about a payment's
/// outcome yield no events; so do thin (`v2.core.event`) notifications, which
/// carry no snapshot to read.
pub fn parse(body: &[u8], ctx: &ParseContext) -> Result<Vec<CanonicalEvent>, ParseError> {
    let root: Value = from_json(body)?;
    let event = Node::root(&root)?;
    match event.opt_str("object") {
        None | Some("event") => {}
        Some("v2.core.event") => return Ok(Vec::new()),
        Some(other) => {
            return Err(ParseError::new(
                "object",
                format!("expected 'event', got '{other}'"),
            ));
        }
    }
    event.str("id")?;
    let kind = event.str("type")?;
    let created = event.int("created")?;
    let at = Utc
        .timestamp_opt(created, 0)
        .single()
        .ok_or_else(|| ParseError::new("created", format!("{created} is out of range")))?;
    let object = event.obj("data")?.obj("object")?;

    let update = match kind {
        "payment_intent.succeeded" => Some(payment_intent(&object, PaymentStatus::Succeeded)?),
        "payment_intent.payment_failed" => Some(payment_intent(&object, PaymentStatus::Failed)?),
        "charge.refunded" => Some(charge_refunded(&object)?),
        // Delayed payment methods complete the session unpaid and report the
        // outcome later in the async events.
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout_session(&object, PaymentStatus::Succeeded)?
        }
        "checkout.session.async_payment_failed" => {
            checkout_session(&object, PaymentStatus::Failed)?
        }
        _ => None,
    };
    let Some(fields) = update else {
        return Ok(Vec::new());
    };
    let payer = object
        .fields()
        .map(|fields| payer(fields, ctx))
        .unwrap_or_default();
    Ok(vec![CanonicalEvent::Payment(PaymentUpdate {
        provider: Provider::Stripe,
        payment_id: fields.payment_id,
        customer: payer.customer,
        linked_identities: payer.linked,
        customer_name: payer.name,
        status: fields.status,
        amount_minor: fields.amount_minor,
        currency: fields.currency,
        refunded_minor: fields.refunded_minor,
        description: fields.description,
        at,
    })])
}

/// What one payment object says, before the payer is read.
struct Fields {
    payment_id: String,
    status: PaymentStatus,
    amount_minor: i64,
    currency: String,
    refunded_minor: Option<i64>,
    description: Option<String>,
}

fn payment_intent(pi: &Node, status: PaymentStatus) -> Result<Fields, ParseError> {
    let payment_id = pi.str("id")?.to_string();
    let amount = pi.amount("amount")?;
    let amount_minor = match status {
        PaymentStatus::Succeeded => pi.opt_amount("amount_received")?.unwrap_or(amount),
        _ => amount,
    };
    Ok(Fields {
        payment_id,
        status,
        amount_minor,
        currency: currency(pi)?,
        refunded_minor: None,
        description: pi.opt_str("description").map(str::to_string),
    })
}

fn charge_refunded(charge: &Node) -> Result<Fields, ParseError> {
    let charge_id = charge.str("id")?;
    // A charge made without a PaymentIntent (legacy Charges API) is its own payment.
    let payment_id = id_of(charge.get("payment_intent")).unwrap_or(charge_id);
    let amount = charge.amount("amount")?;
    let refunded = charge.amount("amount_refunded")?;
    let status = if refunded >= amount {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    Ok(Fields {
        payment_id: payment_id.to_string(),
        status,
        amount_minor: amount,
        currency: currency(charge)?,
        refunded_minor: Some(refunded),
        description: charge.opt_str("description").map(str::to_string),
    })
}

/// `None` when the session was not paid (yet): `unpaid` for delayed methods,
/// `no_payment_required` for setup sessions.
fn checkout_session(session: &Node, status: PaymentStatus) -> Result<Option<Fields>, ParseError> {
    let paid = session.opt_str("payment_status") == Some("paid");
    if status == PaymentStatus::Succeeded && !paid {
        return Ok(None);
    }
    let session_id = session.str("id")?;
    // Subscription-mode sessions have no PaymentIntent of their own.
    let payment_id = id_of(session.get("payment_intent")).unwrap_or(session_id);
    Ok(Some(Fields {
        payment_id: payment_id.to_string(),
        status,
        amount_minor: session.amount("amount_total")?,
        currency: currency(session)?,
        refunded_minor: None,
        description: None,
    }))
}

fn currency(object: &Node) -> Result<String, ParseError> {
    Ok(object.str("currency")?.to_ascii_lowercase())
}

/// An id field that is either the id itself or an expanded object.
fn id_of(value: Option<&Value>) -> Option<&str> {
    let id = match value? {
        Value::String(id) => id,
        Value::Object(object) => object.get("id")?.as_str()?,
        _ => return None,
    };
    Some(id.trim()).filter(|id| !id.is_empty())
}

#[derive(Default)]
struct Payer {
    customer: Option<Identity>,
    linked: Vec<Identity>,
    name: Option<String>,
}

/// Where each payment object type keeps the payer's details, in order of
/// preference. `metadata` keys are the ones our payment links set.
const EMAIL_FIELDS: &[&[&str]] = &[
    &["billing_details", "email"],
    &["receipt_email"],
    &["customer_details", "email"],
    &["customer_email"],
    &["metadata", "customer_email"],
];
const PHONE_FIELDS: &[&[&str]] = &[
    &["billing_details", "phone"],
    &["customer_details", "phone"],
    &["metadata", "customer_phone"],
];
const NAME_FIELDS: &[&[&str]] = &[&["billing_details", "name"], &["customer_details", "name"]];

/// The payer, from the first valid value of each kind. Values that do not
/// parse are skipped, never an error: a payment must not be lost over a
/// mistyped e-mail address.
fn payer(object: &Map<String, Value>, ctx: &ParseContext) -> Payer {
    let email = first(object, EMAIL_FIELDS, |raw| Identity::email(raw).ok());
    let phone = first(object, PHONE_FIELDS, |raw| {
        Identity::phone(raw, ctx.default_region).ok()
    });
    let name = first(object, NAME_FIELDS, |raw| Some(raw.to_string()));
    let (customer, linked) = match (email, phone) {
        (Some(email), phone) => (Some(email), phone.into_iter().collect()),
        (None, phone) => (phone, Vec::new()),
    };
    Payer {
        customer,
        linked,
        name,
    }
}

fn first<T>(
    object: &Map<String, Value>,
    paths: &[&[&str]],
    read: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    paths.iter().find_map(|path| {
        let (last, parents) = path.split_last()?;
        let mut map = object;
        for key in parents {
            map = map.get(*key)?.as_object()?;
        }
        let raw = map.get(*last)?.as_str()?.trim();
        if raw.is_empty() { None } else { read(raw) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCEEDED: &[u8] =
        include_bytes!("../../../tests/fixtures/stripe/payment_intent_succeeded.json");
    const CHECKOUT: &[u8] =
        include_bytes!("../../../tests/fixtures/stripe/checkout_session_completed.json");
    const REFUNDED: &[u8] = include_bytes!("../../../tests/fixtures/stripe/charge_refunded.json");

    const SECRET: &str = "test_secret";
    /// (body, `t`, header) from signatures.json.
    const SIGNED: [(&[u8], i64, &str); 3] = [
        (
            SUCCEEDED,
            1_792_571_045,
            "t=1792571045,v1=a110c00a1bddd636576e095af3538af692e4260e6b2bd77d3fe6ef33a3098d2f",
        ),
        (
            CHECKOUT,
            1_792_571_046,
            "t=1792571046,v1=62681e86e54004f926a96dedc727a79f8ffc6436d226a6147c1045089777bbe8",
        ),
        (
            REFUNDED,
            1_792_572_072,
            "t=1792572072,v1=c19e2bbffd0efed9ab9edafa80bbd5d9dca94934af97b7da171289bd1559e18b",
        ),
    ];

    const PI_ID: &str = "pi_3n8Eg6eOAhESDnbAKur0PAE0";
    const EMAIL: &str = "maya.lopez@example.com";
    const PHONE: &str = "+447700900123";

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn ctx() -> ParseContext<'static> {
        ParseContext {
            received_at: at(1_792_600_000),
            default_region: Some("GB"),
        }
    }

    fn payment(body: &[u8]) -> PaymentUpdate {
        let events = parse(body, &ctx()).unwrap();
        let [CanonicalEvent::Payment(p)] = events.as_slice() else {
            panic!("expected one payment, got {events:?}");
        };
        p.clone()
    }

    fn error(body: &[u8]) -> ParseError {
        parse(body, &ctx()).unwrap_err()
    }

    /// A fixture with one JSON pointer changed (`None` removes the field).
    fn edit(body: &[u8], pointer: &str, value: Option<Value>) -> Vec<u8> {
        let mut json: Value = serde_json::from_slice(body).unwrap();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = json.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(value) => parent.insert(key.to_string(), value),
            None => parent.remove(key),
        };
        serde_json::to_vec(&json).unwrap()
    }

    fn email(value: &str) -> Identity {
        Identity::email(value).unwrap()
    }

    fn phone(value: &str) -> Identity {
        Identity::phone(value, None).unwrap()
    }

    #[test]
    fn fixtures_verify_at_their_timestamp() {
        for (body, t, header) in SIGNED {
            assert!(signature_is_valid(SECRET, body, Some(header), at(t)));
            // The whole tolerance, either side.
            assert!(signature_is_valid(SECRET, body, Some(header), at(t + 300)));
            assert!(signature_is_valid(SECRET, body, Some(header), at(t - 300)));
            let v1 = header.rsplit_once("v1=").unwrap().1;
            assert_eq!(compute_signature(SECRET, t, body), v1);
        }
    }

    #[test]
    fn stale_or_future_timestamps_are_rejected() {
        for (body, t, header) in SIGNED {
            assert!(!signature_is_valid(SECRET, body, Some(header), at(t + 301)));
            assert!(!signature_is_valid(SECRET, body, Some(header), at(t - 301)));
        }
    }

    #[test]
    fn wrong_secret_or_body_is_rejected() {
        for (body, t, header) in SIGNED {
            assert!(!signature_is_valid(
                "whsec_other",
                body,
                Some(header),
                at(t)
            ));
            // serde round-trips change the bytes (compact, key order, escapes).
            let json: Value = serde_json::from_slice(body).unwrap();
            let reserialized = serde_json::to_vec(&json).unwrap();
            assert_ne!(reserialized, body);
            assert!(!signature_is_valid(
                SECRET,
                &reserialized,
                Some(header),
                at(t)
            ));
            let mut newline = body.to_vec();
            newline.push(b'\n');
            assert!(!signature_is_valid(SECRET, &newline, Some(header), at(t)));
        }
    }

    #[test]
    fn readme_wrong_t_vector_is_rejected() {
        // Signed with event.created instead of the header's t.
        let wrong = "244083d0fe18449514943c8f79b996c91a18df429d55302197525997cb2e4129";
        assert_eq!(compute_signature(SECRET, 1_792_571_043, SUCCEEDED), wrong);
        let header = format!("t=1792571045,v1={wrong}");
        assert!(!signature_is_valid(
            SECRET,
            SUCCEEDED,
            Some(&header),
            at(1_792_571_045)
        ));
    }

    #[test]
    fn any_v1_may_match_while_a_secret_is_rolled() {
        let t = 1_792_571_045;
        let good = compute_signature(SECRET, t, SUCCEEDED);
        let old = compute_signature("whsec_old", t, SUCCEEDED);
        let header = format!("t={t},v1={old},v1={good}");
        assert!(signature_is_valid(SECRET, SUCCEEDED, Some(&header), at(t)));
        // Other schemes, unknown items, spaces and non-hex v1 are ignored.
        let header = format!("t={t}, v0={good}, v1=zz, scheme=x, v1={good}");
        assert!(signature_is_valid(SECRET, SUCCEEDED, Some(&header), at(t)));
        // Only v1 counts.
        let header = format!("t={t},v0={good}");
        assert!(!signature_is_valid(SECRET, SUCCEEDED, Some(&header), at(t)));
        let header = format!("t={t},v1={old}");
        assert!(!signature_is_valid(SECRET, SUCCEEDED, Some(&header), at(t)));
    }

    #[test]
    fn malformed_headers_and_empty_secrets_are_rejected() {
        let t = 1_792_571_045;
        let good = compute_signature(SECRET, t, SUCCEEDED);
        let now = at(t);
        let check = |header: &str| signature_is_valid(SECRET, SUCCEEDED, Some(header), now);
        assert!(!signature_is_valid(SECRET, SUCCEEDED, None, now));
        assert!(!check(""));
        assert!(!check(&good));
        assert!(!check(&format!("v1={good}")));
        assert!(!check(&format!("t=,v1={good}")));
        assert!(!check(&format!("t=-1792571045,v1={good}")));
        assert!(!check(&format!("t=1792571045x,v1={good}")));
        assert!(!check(&format!("t=99999999999999999999,v1={good}")));
        assert!(!check(&format!("t={t},t={t},v1={good}")));
        assert!(!check(&format!("t={t},v1={}", &good[..32])));
        assert!(check(&format!("t={t},v1={}", good.to_uppercase())));
        let empty = compute_signature("", t, SUCCEEDED);
        let header = format!("t={t},v1={empty}");
        assert!(!signature_is_valid("", SUCCEEDED, Some(&header), now));
    }

    #[test]
    fn payment_intent_succeeded() {
        let p = payment(SUCCEEDED);
        assert_eq!(p.provider, Provider::Stripe);
        assert_eq!(p.payment_id, PI_ID);
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!(p.amount_minor, 5000);
        assert_eq!(p.currency, "gbp");
        assert_eq!(p.refunded_minor, None);
        assert_eq!(
            p.description.as_deref(),
            Some("Deposit: Balayage (shoulder length) – Sat 24 Oct 2026, 10:00")
        );
        assert_eq!(p.at, at(1_792_571_043));
        // receipt_email, and the phone our payment link put in the metadata.
        assert_eq!(p.customer, Some(email(EMAIL)));
        assert_eq!(p.linked_identities, vec![phone(PHONE)]);
        assert_eq!(p.customer_name, None);
    }

    #[test]
    fn checkout_session_completed_keys_on_the_payment_intent() {
        let p = payment(CHECKOUT);
        assert_eq!(p.payment_id, PI_ID);
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!(p.amount_minor, 5000);
        assert_eq!(p.currency, "gbp");
        assert_eq!(p.at, at(1_792_571_044));
        assert_eq!(p.customer, Some(email(EMAIL)));
        assert_eq!(p.linked_identities, vec![phone(PHONE)]);
        assert_eq!(p.customer_name.as_deref(), Some("Maya López"));
        // Either order: both reports are about the same payment.
        assert_eq!(p.payment_id, payment(SUCCEEDED).payment_id);
    }

    #[test]
    fn charge_refunded_in_full() {
        let p = payment(REFUNDED);
        assert_eq!(p.payment_id, "pi_3YPjt2tPWUbj9zdYmgEdwmmu");
        assert_eq!(p.status, PaymentStatus::Refunded);
        assert_eq!(p.amount_minor, 5000);
        assert_eq!(p.refunded_minor, Some(5000));
        assert_eq!(p.currency, "gbp");
        assert_eq!(p.at, at(1_792_572_070));
        assert_eq!(p.customer, Some(email(EMAIL)));
        assert_eq!(p.linked_identities, vec![phone(PHONE)]);
        assert_eq!(p.customer_name.as_deref(), Some("Maya López"));
        assert!(p.description.unwrap().contains("duplicate booking"));
    }

    #[test]
    fn charge_refunded_in_part_and_without_payment_intent() {
        let partial = edit(REFUNDED, "/data/object/amount_refunded", Some(2000.into()));
        let p = payment(&partial);
        assert_eq!(p.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(p.amount_minor, 5000);
        assert_eq!(p.refunded_minor, Some(2000));
        let legacy = edit(REFUNDED, "/data/object/payment_intent", Some(Value::Null));
        assert_eq!(payment(&legacy).payment_id, "ch_353TWWJIt2vDGpjeu6kSTWCp");
    }

    #[test]
    fn payment_failed() {
        let body = br#"{
          "id": "evt_1Fail", "object": "event", "type": "payment_intent.payment_failed",
          "created": 1792571000,
          "data": {"object": {
            "id": "pi_1Fail", "object": "payment_intent", "amount": 5000,
            "amount_received": 0, "currency": "GBP", "description": null,
            "receipt_email": null,
            "last_payment_error": {"code": "card_declined"},
            "metadata": {"customer_phone": "07700 900123"}
          }}
        }"#;
        let p = payment(body);
        assert_eq!(p.payment_id, "pi_1Fail");
        assert_eq!(p.status, PaymentStatus::Failed);
        assert_eq!(p.amount_minor, 5000);
        assert_eq!(p.currency, "gbp");
        assert_eq!(p.description, None);
        assert_eq!(p.at, at(1_792_571_000));
        // A national number read with the business's region; no e-mail, so
        // the phone is the customer.
        assert_eq!(p.customer, Some(phone(PHONE)));
        assert!(p.linked_identities.is_empty());
    }

    #[test]
    fn unpaid_or_subscription_checkout_sessions() {
        let unpaid = edit(
            CHECKOUT,
            "/data/object/payment_status",
            Some("unpaid".into()),
        );
        assert!(parse(&unpaid, &ctx()).unwrap().is_empty());
        let failed = edit(
            &unpaid,
            "/type",
            Some("checkout.session.async_payment_failed".into()),
        );
        assert_eq!(payment(&failed).status, PaymentStatus::Failed);
        let later = edit(
            CHECKOUT,
            "/type",
            Some("checkout.session.async_payment_succeeded".into()),
        );
        assert_eq!(payment(&later).status, PaymentStatus::Succeeded);
        let no_pi = edit(CHECKOUT, "/data/object/payment_intent", Some(Value::Null));
        assert_eq!(
            payment(&no_pi).payment_id,
            "cs_test_a1UUPTfmbcDHHpeprmV0iNNgSSc725CDQjD42kPAaN0FNQq6EUFbnjeiSr"
        );
    }

    #[test]
    fn other_event_types_yield_nothing() {
        let customer = edit(SUCCEEDED, "/type", Some("customer.created".into()));
        assert!(parse(&customer, &ctx()).unwrap().is_empty());
        let thin = br#"{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","created":"2026-10-21T08:24:03.000Z"}"#;
        assert!(parse(thin, &ctx()).unwrap().is_empty());
    }

    #[test]
    fn bad_payer_details_are_skipped_not_fatal() {
        let body = edit(
            SUCCEEDED,
            "/data/object/receipt_email",
            Some("not an email".into()),
        );
        let body = edit(
            &body,
            "/data/object/metadata/customer_phone",
            Some("n/a".into()),
        );
        let p = payment(&body);
        assert_eq!(p.customer, None);
        assert!(p.linked_identities.is_empty());
        // A later source is used when an earlier one is invalid.
        let body = edit(
            &body,
            "/data/object/metadata/customer_email",
            Some(EMAIL.into()),
        );
        assert_eq!(payment(&body).customer, Some(email(EMAIL)));
        // Non-string values are ignored too.
        let body = edit(SUCCEEDED, "/data/object/receipt_email", Some(42.into()));
        assert_eq!(payment(&body).customer, Some(phone(PHONE)));
    }

    #[test]
    fn missing_required_fields_are_named() {
        let cases: [(&[u8], &str, Option<Value>, &str); 12] = [
            (SUCCEEDED, "/id", None, "id"),
            (SUCCEEDED, "/type", None, "type"),
            (SUCCEEDED, "/created", None, "created"),
            (SUCCEEDED, "/created", Some("1792571043".into()), "created"),
            (SUCCEEDED, "/data/object", None, "data.object"),
            (SUCCEEDED, "/data/object/id", None, "data.object.id"),
            (SUCCEEDED, "/data/object/amount", None, "data.object.amount"),
            (
                SUCCEEDED,
                "/data/object/amount",
                Some("50.00".into()),
                "data.object.amount",
            ),
            (
                SUCCEEDED,
                "/data/object/currency",
                None,
                "data.object.currency",
            ),
            (
                REFUNDED,
                "/data/object/amount_refunded",
                None,
                "data.object.amount_refunded",
            ),
            (
                CHECKOUT,
                "/data/object/amount_total",
                None,
                "data.object.amount_total",
            ),
            (
                REFUNDED,
                "/data/object/amount",
                Some((-1).into()),
                "data.object.amount",
            ),
        ];
        for (body, pointer, value, field) in cases {
            let err = error(&edit(body, pointer, value));
            assert_eq!(err.field, field, "{pointer}: {err}");
        }
        assert_eq!(error(&edit(SUCCEEDED, "/data", None)).field, "data");
        assert_eq!(
            error(&edit(SUCCEEDED, "/object", Some("charge".into()))).field,
            "object"
        );
        assert_eq!(error(b"[1, 2]").field, "body");
        assert!(parse(b"{\"id\": ", &ctx()).is_err());
        assert!(parse(b"", &ctx()).is_err());
    }
}
