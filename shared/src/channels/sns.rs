//! Amazon SNS HTTP(S) deliveries: the JSON envelope and its signature.
//!
//! SNS signs each message with RSA PKCS#1 v1.5 (SHA1 for `SignatureVersion`
//! "1", SHA256 for "2") over a canonical "Key\nValue\n" string, and names the
//! certificate to check it with in `SigningCertURL`. The caller:
//! 1. [`parse_envelope`]s the body (sent as `text/plain`, not JSON);
//! 2. checks [`cert_url_is_trusted`] before fetching the certificate (and
//!    caches it by URL);
//! 3. checks [`signature_is_valid`] with that certificate's PEM;
//! 4. checks [`timestamp_is_fresh`] and that `TopicArn` is on its allow-list.
//!
//! Everything here is pure: fetching the certificate is the caller's I/O.

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, RsaParameters,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;

use super::{ParseError, from_json};

/// How far in the future a `Timestamp` may be (clock skew) and still be fresh.
const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// One SNS HTTP(S) delivery, as documented (PascalCase keys).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SnsMessage {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    /// The payload; for SES notifications a JSON document in a string.
    #[serde(rename = "Message")]
    pub message: String,
    /// ISO-8601 with milliseconds, `Z`.
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    /// Base64.
    #[serde(rename = "Signature")]
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(rename = "Subject", default)]
    pub subject: Option<String>,
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    #[serde(rename = "Token", default)]
    pub token: Option<String>,
    #[serde(rename = "UnsubscribeURL", default)]
    pub unsubscribe_url: Option<String>,
}

/// Reads the envelope. A missing key is reported by its own name
/// (e.g. `MessageId`), not as the whole body.
pub fn parse_envelope(body: &[u8]) -> Result<SnsMessage, ParseError> {
    from_json(body).map_err(name_missing_field)
}

/// serde reports a missing key at its parent's path ("body" at the top);
/// move the key's name into the path so the error names the field itself.
pub(crate) fn name_missing_field(mut err: ParseError) -> ParseError {
    let missing = err
        .detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string);
    if let Some(name) = missing {
        err.field = if err.field == "body" {
            name
        } else {
            format!("{}.{name}", err.field)
        };
    }
    err
}

/// Whether `url` may be fetched as a signing certificate: exactly
/// `https://sns.<region>.amazonaws.com/<path>.pem` (or `.amazonaws.com.cn`
/// for `cn-` regions), with no userinfo, port, query or fragment, and a path
/// of plain file-name characters. Anything unusual is refused.
pub fn cert_url_is_trusted(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    host_is_sns(host) && path_is_pem(path)
}

/// Whether `url` may be called to confirm a subscription: an AWS SNS host
/// over HTTPS with the `ConfirmSubscription` action.
pub fn subscribe_url_is_trusted(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, query)) = rest.split_once("/?") else {
        return false;
    };
    host_is_sns(host) && query.starts_with("Action=ConfirmSubscription&") && !query.contains('#')
}

fn host_is_sns(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    if let Some(region) = rest.strip_suffix(".amazonaws.com.cn") {
        region.starts_with("cn-") && region_is_valid(region)
    } else if let Some(region) = rest.strip_suffix(".amazonaws.com") {
        !region.starts_with("cn-") && region_is_valid(region)
    } else {
        false
    }
}

/// `us-east-1`, `eu-west-1`, `us-gov-west-1`, `ap-southeast-5`, ...: two
/// letters, one or more lowercase words, then a number, joined by '-'.
fn region_is_valid(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 3
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The part after the host's '/': file-name characters only, ending `.pem`.
fn path_is_pem(path: &str) -> bool {
    path.len() > ".pem".len()
        && path.ends_with(".pem")
        && !path.contains("..")
        && path.split('/').all(|segment| !segment.is_empty())
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// The canonical string SNS signed: "Key\nValue\n" for each key, in AWS's
/// documented order, with the values as decoded from the JSON.
pub fn string_to_sign(msg: &SnsMessage) -> Result<String, ParseError> {
    let mut out = String::with_capacity(msg.message.len() + 512);
    let mut push = |key: &str, value: &str| {
        out.push_str(key);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    };
    match msg.kind.as_str() {
        "Notification" => {
            push("Message", &msg.message);
            push("MessageId", &msg.message_id);
            if let Some(subject) = &msg.subject {
                push("Subject", subject);
            }
            push("Timestamp", &msg.timestamp);
            push("TopicArn", &msg.topic_arn);
            push("Type", &msg.kind);
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            let subscribe_url = msg
                .subscribe_url
                .as_deref()
                .ok_or_else(|| ParseError::new("SubscribeURL", "missing"))?;
            let token = msg
                .token
                .as_deref()
                .ok_or_else(|| ParseError::new("Token", "missing"))?;
            push("Message", &msg.message);
            push("MessageId", &msg.message_id);
            push("SubscribeURL", subscribe_url);
            push("Timestamp", &msg.timestamp);
            push("Token", token);
            push("TopicArn", &msg.topic_arn);
            push("Type", &msg.kind);
        }
        other => {
            return Err(ParseError::new(
                "Type",
                format!("unknown SNS message type '{other}'"),
            ));
        }
    }
    Ok(out)
}

/// Whether `msg` was signed by the key of the PEM certificate `cert_pem`
/// (the one fetched from a trusted `SigningCertURL`). `SignatureVersion` "1"
/// is SHA1withRSA, "2" SHA256withRSA; any other version, a malformed
/// signature, certificate or message is false. The certificate's validity
/// dates and chain are not checked: trust comes from fetching it over HTTPS
/// from an SNS host.
pub fn signature_is_valid(msg: &SnsMessage, cert_pem: &[u8]) -> bool {
    let params: &'static RsaParameters = match msg.signature_version.as_str() {
        "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "2" => &RSA_PKCS1_2048_8192_SHA256,
        _ => return false,
    };
    let Ok(signature) = STANDARD.decode(msg.signature.trim()) else {
        return false;
    };
    let Ok(to_sign) = string_to_sign(msg) else {
        return false;
    };
    let Ok(cert_der) = CertificateDer::from_pem_slice(cert_pem) else {
        return false;
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(&cert_der) else {
        return false;
    };
    let spki = cert.subject_public_key_info();
    UnparsedPublicKey::new(params, spki.as_ref())
        .verify(to_sign.as_bytes(), &signature)
        .is_ok()
}

/// Whether the message's `Timestamp` is at most `max_age` old at `now` (and
/// at most 5 minutes ahead of it, for clock skew). An unreadable timestamp
/// is not fresh. AWS suggests rejecting old messages against replay; the
/// SNS retry policy spans at most an hour, so one hour is a sensible
/// `max_age`.
pub fn timestamp_is_fresh(msg: &SnsMessage, now: DateTime<Utc>, max_age: Duration) -> bool {
    let Ok(sent) = DateTime::parse_from_rfc3339(&msg.timestamp) else {
        return false;
    };
    let age = now.signed_duration_since(sent.with_timezone(&Utc));
    age <= max_age && age.num_seconds() >= -MAX_FUTURE_SKEW_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFICATION: &[u8] = include_bytes!("../../../tests/fixtures/ses_sns/notification.json");
    const SUBSCRIPTION: &[u8] =
        include_bytes!("../../../tests/fixtures/ses_sns/subscription_confirmation.json");
    const CERT: &[u8] = include_bytes!("../../../tests/fixtures/ses_sns/test_signing_cert.pem");

    fn sha256_hex(s: &str) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn envelope_fields_are_read() {
        let msg = parse_envelope(NOTIFICATION).unwrap();
        assert_eq!(msg.kind, "Notification");
        assert_eq!(msg.message_id, "7d3c1f8a-2e4b-5a6c-9d0e-1f2a3b4c5d6e");
        assert_eq!(
            msg.topic_arn,
            "arn:aws:sns:eu-west-1:123456789012:ses-inbound-lumiere"
        );
        assert_eq!(msg.timestamp, "2026-10-25T20:41:03.227Z");
        assert_eq!(msg.signature_version, "2");
        assert_eq!(
            msg.subject.as_deref(),
            Some("Amazon SES Email Receipt Notification")
        );
        assert!(
            msg.message
                .starts_with("{\"notificationType\":\"Received\"")
        );
        assert!(msg.unsubscribe_url.is_some());
        assert!(msg.subscribe_url.is_none() && msg.token.is_none());

        let sub = parse_envelope(SUBSCRIPTION).unwrap();
        assert_eq!(sub.kind, "SubscriptionConfirmation");
        assert!(
            sub.subscribe_url
                .unwrap()
                .contains("Action=ConfirmSubscription")
        );
        assert!(sub.token.is_some());
        assert!(sub.subject.is_none());
    }

    #[test]
    fn string_to_sign_matches_the_worked_example() {
        let msg = parse_envelope(NOTIFICATION).unwrap();
        let sts = string_to_sign(&msg).unwrap();
        assert_eq!(sts.len(), 6725);
        assert!(sts.starts_with("Message\n{\"notificationType\":\"Received\","));
        assert!(sts.ends_with("Type\nNotification\n"));
        assert!(sts.contains("\nSubject\nAmazon SES Email Receipt Notification\nTimestamp\n"));
        assert_eq!(
            sha256_hex(&sts),
            "5224e16f094a876d726e63429ff238ea22ceab0f55f9c0af705b658dd4669706"
        );

        let sub = parse_envelope(SUBSCRIPTION).unwrap();
        let sts = string_to_sign(&sub).unwrap();
        assert_eq!(
            sha256_hex(&sts),
            "aa477ecedd9aaf7b0ff2db92faf46a62137e5513bf58e1ada09e39a4406f7cba"
        );
        assert!(sts.contains("\nSubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?"));
    }

    #[test]
    fn subject_is_signed_only_when_present() {
        let mut msg = parse_envelope(NOTIFICATION).unwrap();
        msg.subject = None;
        let sts = string_to_sign(&msg).unwrap();
        assert!(!sts.contains("Subject\n"));
        assert!(sts.contains("\nMessageId\n7d3c1f8a-2e4b-5a6c-9d0e-1f2a3b4c5d6e\nTimestamp\n"));
    }

    #[test]
    fn confirmation_needs_its_url_and_token() {
        let mut sub = parse_envelope(SUBSCRIPTION).unwrap();
        sub.token = None;
        assert_eq!(string_to_sign(&sub).unwrap_err().field, "Token");
        let mut sub = parse_envelope(SUBSCRIPTION).unwrap();
        sub.subscribe_url = None;
        assert_eq!(string_to_sign(&sub).unwrap_err().field, "SubscribeURL");
        let mut sub = parse_envelope(SUBSCRIPTION).unwrap();
        sub.kind = "Surprise".into();
        assert_eq!(string_to_sign(&sub).unwrap_err().field, "Type");
    }

    #[test]
    fn fixtures_verify_with_the_test_certificate() {
        // notification.json is SignatureVersion 2 (SHA256withRSA).
        let msg = parse_envelope(NOTIFICATION).unwrap();
        assert_eq!(msg.signature_version, "2");
        assert!(signature_is_valid(&msg, CERT));
        // subscription_confirmation.json is SignatureVersion 1 (SHA1withRSA).
        let sub = parse_envelope(SUBSCRIPTION).unwrap();
        assert_eq!(sub.signature_version, "1");
        assert!(signature_is_valid(&sub, CERT));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let good = parse_envelope(NOTIFICATION).unwrap();

        let mut msg = good.clone();
        msg.message = msg.message.replace("Can I rebook", "Can I refund");
        msg.message = msg.message.replace("maya.lopez@", "mallory@");
        assert_ne!(msg.message, good.message);
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.message.push(' ');
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.timestamp = "2026-10-25T20:41:03.228Z".into();
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.topic_arn = "arn:aws:sns:eu-west-1:123456789012:other".into();
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.subject = None;
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.kind = "SubscriptionConfirmation".into();
        assert!(!signature_is_valid(&msg, CERT));

        let mut sub = parse_envelope(SUBSCRIPTION).unwrap();
        sub.subscribe_url = Some("https://evil.example/?Action=ConfirmSubscription".into());
        assert!(!signature_is_valid(&sub, CERT));
    }

    #[test]
    fn versions_other_than_1_and_2_fail() {
        let good = parse_envelope(NOTIFICATION).unwrap();
        for version in ["3", "", "0", "02", " 2", "2 "] {
            let mut msg = good.clone();
            msg.signature_version = version.into();
            assert!(!signature_is_valid(&msg, CERT), "version {version:?}");
        }
        // The right key with the wrong digest fails too.
        let mut msg = good.clone();
        msg.signature_version = "1".into();
        assert!(!signature_is_valid(&msg, CERT));
    }

    #[test]
    fn bad_signatures_and_certificates_fail() {
        let good = parse_envelope(NOTIFICATION).unwrap();

        let mut msg = good.clone();
        msg.signature = "not base64!".into();
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        msg.signature = String::new();
        assert!(!signature_is_valid(&msg, CERT));

        let mut msg = good.clone();
        let mut sig = STANDARD.decode(&msg.signature).unwrap();
        sig[10] ^= 1;
        msg.signature = STANDARD.encode(sig);
        assert!(!signature_is_valid(&msg, CERT));

        assert!(!signature_is_valid(&good, b""));
        assert!(!signature_is_valid(&good, b"not a certificate"));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(!signature_is_valid(&good, garbage));
        // A certificate cut short.
        assert!(!signature_is_valid(&good, &CERT[..CERT.len() / 2]));
    }

    #[test]
    fn missing_envelope_fields_are_named() {
        let mut v: serde_json::Value = serde_json::from_slice(NOTIFICATION).unwrap();
        v.as_object_mut().unwrap().remove("MessageId");
        let err = parse_envelope(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(err.field, "MessageId", "{err}");

        let mut v: serde_json::Value = serde_json::from_slice(NOTIFICATION).unwrap();
        v["Signature"] = serde_json::json!(42);
        let err = parse_envelope(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert_eq!(err.field, "Signature", "{err}");

        assert_eq!(parse_envelope(b"not json").unwrap_err().field, "body");
        assert_eq!(parse_envelope(b"[]").unwrap_err().field, "body");

        // A second Message key is refused rather than silently picked.
        let dup = br#"{"Type":"Notification","Message":"a","Message":"b"}"#;
        assert!(parse_envelope(dup).is_err());
    }

    #[test]
    fn trusted_cert_urls() {
        for url in [
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000test.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            "https://sns.ap-southeast-2.amazonaws.com/a.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://sns.cn-northwest-1.amazonaws.com.cn/dir/SimpleNotificationService_1.pem",
        ] {
            assert!(cert_url_is_trusted(url), "{url}");
        }
    }

    #[test]
    fn untrusted_cert_urls() {
        for url in [
            // Scheme.
            "http://sns.us-east-1.amazonaws.com/cert.pem",
            "HTTPS://sns.us-east-1.amazonaws.com/cert.pem",
            "ftp://sns.us-east-1.amazonaws.com/cert.pem",
            "//sns.us-east-1.amazonaws.com/cert.pem",
            "sns.us-east-1.amazonaws.com/cert.pem",
            " https://sns.us-east-1.amazonaws.com/cert.pem",
            "https:/sns.us-east-1.amazonaws.com/cert.pem",
            // Other hosts.
            "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
            "https://evil.com/sns.us-east-1.amazonaws.com/cert.pem",
            "https://evil.com/?sns.us-east-1.amazonaws.com/cert.pem",
            "https://evilsns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com.cn/cert.pem",
            "https://sns.cn-north-1.amazonaws.com/cert.pem",
            "https://sqs.us-east-1.amazonaws.com/cert.pem",
            "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.amazonaws.com/cert.pem",
            "https://sns..amazonaws.com/cert.pem",
            "https://sns.evil.amazonaws.com/cert.pem",
            "https://sns.us-east-1.evil.amazonaws.com/cert.pem",
            "https://sns.evil.com.us-east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-x.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com./cert.pem",
            "https://SNS.us-east-1.amazonaws.com/cert.pem",
            "https://sns.US-EAST-1.amazonaws.com/cert.pem",
            "https://sns.us_east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com\\@evil.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com%2eevil.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com%2F@evil.com/cert.pem",
            // Userinfo and ports.
            "https://x@sns.us-east-1.amazonaws.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com@evil.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com:443/cert.pem",
            "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
            "https://sns.us-east-1.amazonaws.com:@evil.com/cert.pem",
            // Paths.
            "https://sns.us-east-1.amazonaws.com",
            "https://sns.us-east-1.amazonaws.com/",
            "https://sns.us-east-1.amazonaws.com/.pem",
            "https://sns.us-east-1.amazonaws.com/cert",
            "https://sns.us-east-1.amazonaws.com/cert.pem.exe",
            "https://sns.us-east-1.amazonaws.com/cert.PEM",
            "https://sns.us-east-1.amazonaws.com/cert.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/cert.pem#frag",
            "https://sns.us-east-1.amazonaws.com/?x=cert.pem",
            "https://sns.us-east-1.amazonaws.com/x?.pem",
            "https://sns.us-east-1.amazonaws.com/../cert.pem",
            "https://sns.us-east-1.amazonaws.com//evil.com/cert.pem",
            "https://sns.us-east-1.amazonaws.com/dir//cert.pem",
            "https://sns.us-east-1.amazonaws.com/dir/.pem/",
            "https://sns.us-east-1.amazonaws.com/cert%2epem",
            "https://sns.us-east-1.amazonaws.com/ce rt.pem",
            "https://sns.us-east-1.amazonaws.com/cert.pem\n",
            "https://sns.us-east-1.amazonaws.com/cert\\.pem",
            "",
            "https://",
        ] {
            assert!(!cert_url_is_trusted(url), "{url:?}");
        }
    }

    #[test]
    fn freshness() {
        let msg = parse_envelope(NOTIFICATION).unwrap(); // 2026-10-25T20:41:03.227Z
        let hour = Duration::hours(1);
        assert!(timestamp_is_fresh(
            &msg,
            at("2026-10-25T20:41:03.227Z"),
            hour
        ));
        assert!(timestamp_is_fresh(
            &msg,
            at("2026-10-25T21:41:03.227Z"),
            hour
        ));
        assert!(!timestamp_is_fresh(
            &msg,
            at("2026-10-25T21:41:03.228Z"),
            hour
        ));
        assert!(!timestamp_is_fresh(&msg, at("2026-10-27T00:00:00Z"), hour));
        // A little clock skew is tolerated, a message from the future is not.
        assert!(timestamp_is_fresh(&msg, at("2026-10-25T20:40:00Z"), hour));
        assert!(!timestamp_is_fresh(&msg, at("2026-10-25T20:30:00Z"), hour));
        assert!(!timestamp_is_fresh(
            &msg,
            at("2026-10-25T20:41:03.227Z"),
            Duration::seconds(-1)
        ));

        let mut bad = msg.clone();
        bad.timestamp = "yesterday".into();
        assert!(!timestamp_is_fresh(&bad, at("2026-10-25T20:41:03Z"), hour));
        bad.timestamp = String::new();
        assert!(!timestamp_is_fresh(&bad, at("2026-10-25T20:41:03Z"), hour));
    }

    #[test]
    fn only_aws_hosts_confirm_subscriptions() {
        assert!(subscribe_url_is_trusted(
            "https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn&Token=abc"
        ));
        assert!(!subscribe_url_is_trusted(
            "http://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
        ));
        assert!(!subscribe_url_is_trusted(
            "https://sns.eu-west-2.amazonaws.com.evil.example/?Action=ConfirmSubscription&Token=abc"
        ));
        assert!(!subscribe_url_is_trusted(
            "https://sns.eu-west-2.amazonaws.com/?Action=DeleteTopic&Token=abc"
        ));
    }
}
