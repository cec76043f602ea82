//! Signatures.

use super::*;

pub(super) type HmacSha256 = Hmac<sha2::Sha256>;

pub(super) fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

/// Twilio's signed string after the URL: the form parameters decoded,
/// sorted by name then value, identical pairs once, concatenated.
pub(super) fn twilio_params(body: &[u8]) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().map(|(k, v)| k + &v).collect()
}

/// Whether a delivery should verify, decided from the providers' documented
/// schemes with MACs computed here, not by the checkers under test.
pub(super) fn reference_verdict(proof: Proof, d: &SignedDelivery<'_>) -> bool {
    let secret = |name: &str| d.secrets.get(name).unwrap_or_default();
    let header = |name: &str| d.headers.get(name).and_then(|v| v.to_str().ok());
    match proof {
        Proof::MetaSignature => {
            let key = secret("app_secret");
            !key.is_empty()
                && header(meta::SIGNATURE_HEADER)
                    .and_then(|h| h.strip_prefix("sha256="))
                    .and_then(|h| hex::decode(h.trim()).ok())
                    .is_some_and(|mac| mac == hmac256(key.as_bytes(), &[d.body]))
        }
        Proof::CalcomSignature => {
            let key = secret("webhook_secret");
            !key.is_empty()
                && header(calcom::SIGNATURE_HEADER)
                    .map(str::trim)
                    .filter(|h| !h.eq_ignore_ascii_case("no-secret-provided"))
                    .and_then(|h| hex::decode(h).ok())
                    .is_some_and(|mac| mac == hmac256(key.as_bytes(), &[d.body]))
        }
        Proof::StripeSignature => {
            let key = secret("webhook_secret");
            let Some(h) = header(stripe::SIGNATURE_HEADER) else {
                return false;
            };
            let items: Vec<(&str, &str)> = h
                .split(',')
                .filter_map(|i| i.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            let ts: Vec<&str> = items
                .iter()
                .filter(|(k, _)| *k == "t")
                .map(|i| i.1)
                .collect();
            let [t] = ts.as_slice() else {
                return false;
            };
            let Some(t_secs) = (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<i64>().ok())
                .flatten()
            else {
                return false;
            };
            let expected = hmac256(key.as_bytes(), &[t.as_bytes(), b".", d.body]);
            let matched = items
                .iter()
                .filter(|(k, _)| *k == "v1")
                .any(|(_, v)| hex::decode(v).is_ok_and(|mac| mac == expected));
            !key.is_empty()
                && matched
                && d.now.timestamp().checked_sub(t_secs).is_some_and(|skew| {
                    skew.unsigned_abs() <= stripe::TOLERANCE_SECS.unsigned_abs()
                })
        }
        Proof::TwilioSignature => {
            let token = secret("auth_token");
            let Some(given) = header(twilio_signature::SIGNATURE_HEADER)
                .and_then(|h| STANDARD.decode(h.trim()).ok())
            else {
                return false;
            };
            let params = twilio_params(d.body);
            let mac = |url: &str| {
                let mut m = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes())
                    .unwrap_or_else(|_| unreachable!());
                m.update(url.as_bytes());
                m.update(params.as_bytes());
                m.finalize().into_bytes().to_vec()
            };
            !token.is_empty()
                && (given == mac(d.url)
                    || twilio_signature::default_port_variant(d.url)
                        .is_some_and(|alt| given == mac(&alt)))
        }
        Proof::BasicAuth => {
            let (user, password) = (secret("basic_user"), secret("basic_password"));
            !user.is_empty()
                && !password.is_empty()
                && header(postmark::AUTHORIZATION_HEADER)
                    .and_then(|h| h.trim().split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
                    .and_then(|(_, c)| STANDARD.decode(c.trim()).ok())
                    .is_some_and(|c| c == format!("{user}:{password}").as_bytes())
        }
        Proof::ChatKey => {
            let config = |name: &str| d.config.get(name).map(String::as_str).unwrap_or_default();
            let key = config("public_key");
            let allowed: Vec<String> = config("allowed_origins")
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
            !key.is_empty()
                && header(chat::KEY_HEADER).is_some_and(|k| k.trim() == key)
                && header("origin").is_some_and(|o| chat::origin_is_allowed(&allowed, o))
        }
        Proof::SnsSignature => false,
    }
}

/// The proof's own header, the one a random value replaces.
pub(super) fn proof_header(proof: Proof) -> &'static str {
    match proof {
        Proof::MetaSignature => meta::SIGNATURE_HEADER,
        Proof::TwilioSignature => twilio_signature::SIGNATURE_HEADER,
        Proof::StripeSignature => stripe::SIGNATURE_HEADER,
        Proof::CalcomSignature => calcom::SIGNATURE_HEADER,
        Proof::BasicAuth => postmark::AUTHORIZATION_HEADER,
        Proof::ChatKey => chat::KEY_HEADER,
        Proof::SnsSignature => "x-amz-sns-message-type",
    }
}

/// `signatures`: one provider's proof (first byte), then a secret, a
/// password, a URL, a random header value, a clock, and the body. Signing
/// with the provider's descriptor then verifying succeeds; a changed body,
/// secret or clock fails where the proof covers it; and every verdict agrees
/// with [`reference_verdict`], so a random header never verifies unless it
/// is the true MAC.
pub fn check_signatures(data: &[u8]) {
    warm_up();
    const PROOFS: [Proof; 7] = [
        Proof::MetaSignature,
        Proof::TwilioSignature,
        Proof::StripeSignature,
        Proof::CalcomSignature,
        Proof::BasicAuth,
        Proof::ChatKey,
        Proof::SnsSignature,
    ];
    let mut fields = Fields(data);
    let proof = PROOFS[usize::from(fields.byte()) % PROOFS.len()];
    let secret = fields.string();
    let password = fields.string();
    let url = fields.string();
    let random = fields.string();
    let now = DateTime::from_timestamp(i64::from(fields.u32()), 0).unwrap_or_default();
    let body = fields.0;

    let secrets = |s: &str, p: &str| {
        Secrets::default()
            .with("app_secret", s)
            .with("auth_token", s)
            .with("webhook_secret", s)
            .with("basic_user", s)
            .with("basic_password", p)
    };
    let good = secrets(&secret, &password);
    let config: BTreeMap<String, String> = [
        ("public_key".to_string(), secret.clone()),
        ("allowed_origins".to_string(), url.clone()),
    ]
    .into();

    let Some(signed) = proof.sign(&good, &config, &url, body, now) else {
        assert_eq!(proof, Proof::SnsSignature);
        let headers = http::HeaderMap::new();
        let d = SignedDelivery {
            secrets: &good,
            config: &config,
            url: &url,
            headers: &headers,
            body,
            now,
        };
        assert_eq!(proof.verify(&d), Verdict::NeedsSnsCertificate);
        return;
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in signed {
        match http::HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            // A browser sends no such key or origin; every MAC is ASCII.
            Err(_) if proof == Proof::ChatKey => {}
            Err(e) => panic!("{proof:?} signed an invalid {name} header {value:?}: {e}"),
        }
    }

    let verify = |secrets: &Secrets, headers: &http::HeaderMap, body: &[u8], now| {
        let d = SignedDelivery {
            secrets,
            config: &config,
            url: &url,
            headers,
            body,
            now,
        };
        let verdict = within_budget("Proof::verify", body.len() + url.len(), || proof.verify(&d));
        let expected = reference_verdict(proof, &d);
        assert_eq!(
            verdict == Verdict::Valid,
            expected,
            "{proof:?}: verdict {verdict:?}, reference says valid={expected}"
        );
        verdict == Verdict::Valid
    };

    // Compute, then verify.
    let has_secret = !secret.is_empty() && (proof != Proof::BasicAuth || !password.is_empty());
    let valid = verify(&good, &headers, body, now);
    if proof != Proof::ChatKey {
        assert_eq!(
            valid, has_secret,
            "{proof:?}: what it signs does not verify"
        );
    }

    // Another body, secret or clock.
    let mut other_body = body.to_vec();
    other_body.push(b'x');
    let tampered = verify(&good, &headers, &other_body, now);
    if matches!(
        proof,
        Proof::MetaSignature | Proof::StripeSignature | Proof::CalcomSignature
    ) {
        assert!(!tampered, "{proof:?}: a changed body verifies");
    }
    let rekeyed = verify(
        &secrets(&format!("{secret}x"), &format!("{password}x")),
        &headers,
        body,
        now,
    );
    if proof != Proof::ChatKey {
        assert!(!rekeyed, "{proof:?}: another secret verifies");
    }
    if proof == Proof::StripeSignature {
        let tolerance = TimeDelta::seconds(stripe::TOLERANCE_SECS);
        for (skew, holds) in [
            (tolerance, true),
            (tolerance + TimeDelta::seconds(1), false),
        ] {
            for later in [now + skew, now - skew] {
                let fresh = verify(&good, &headers, body, later);
                assert_eq!(fresh, has_secret && holds, "Stripe at {later} for t={now}");
            }
        }
    }

    // A random value in the proof's header.
    if let Ok(value) = http::HeaderValue::from_str(&random) {
        let mut forged = headers.clone();
        forged.insert(proof_header(proof), value);
        verify(&good, &forged, body, now);
    }
}
