//! SNS.

use super::*;

pub(super) const SNS_FIXTURE_CERT: &[u8] =
    include_bytes!("../../../tests/fixtures/ses_sns/test_signing_cert.pem");
pub(super) const SNS_FIXTURES: [&[u8]; 2] = [
    include_bytes!("../../../tests/fixtures/ses_sns/notification.json"),
    include_bytes!("../../../tests/fixtures/ses_sns/subscription_confirmation.json"),
];

/// What the fixtures' signatures cover: (version, string to sign, signature).
/// The fixture certificate's key signed these and nothing else.
pub(super) fn sns_fixture_signatures() -> &'static [(String, String, Vec<u8>)] {
    static SIGNED: OnceLock<Vec<(String, String, Vec<u8>)>> = OnceLock::new();
    SIGNED.get_or_init(|| {
        SNS_FIXTURES
            .iter()
            .map(|raw| {
                let msg = sns::parse_envelope(raw).expect("fixture envelope");
                assert!(sns::signature_is_valid(&msg, SNS_FIXTURE_CERT));
                let sts = sns::string_to_sign(&msg).expect("fixture string to sign");
                let sig = STANDARD
                    .decode(msg.signature.trim())
                    .expect("fixture base64");
                (msg.signature_version, sts, sig)
            })
            .collect()
    })
}

/// A key of our own and a certificate for it: the fixture certificate with
/// its RSA-2048 public key replaced (same length, so the DER stays well
/// formed; the certificate's own signature is never checked).
pub(super) struct SnsSigner {
    key: RsaKeyPair,
    pub(super) cert_pem: Vec<u8>,
}

pub(super) fn sns_signer() -> &'static SnsSigner {
    static SIGNER: OnceLock<SnsSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let ours = key.public_key().as_ref().to_vec();
        let der = CertificateDer::from_pem_slice(SNS_FIXTURE_CERT).expect("fixture PEM");
        let cert = webpki::EndEntityCert::try_from(&der).expect("fixture certificate");
        let spki = cert.subject_public_key_info();
        let theirs = &spki.as_ref()[spki.as_ref().len() - ours.len()..];
        let at = der
            .windows(theirs.len())
            .position(|w| w == theirs)
            .expect("fixture key in its certificate");
        let mut spliced = der.to_vec();
        spliced[at..at + ours.len()].copy_from_slice(&ours);
        let mut cert_pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        for line in STANDARD.encode(&spliced).as_bytes().chunks(64) {
            cert_pem.extend_from_slice(line);
            cert_pem.push(b'\n');
        }
        cert_pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
        SnsSigner { key, cert_pem }
    })
}

pub(super) fn sign_sns(msg: &sns::SnsMessage) -> Option<sns::SnsMessage> {
    let signer = sns_signer();
    let sts = sns::string_to_sign(msg).ok()?;
    let mut sig = vec![0; signer.key.public_modulus_len()];
    signer
        .key
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            sts.as_bytes(),
            &mut sig,
        )
        .expect("RSA sign");
    let mut signed = msg.clone();
    signed.signature_version = "2".into();
    signed.signature = STANDARD.encode(sig);
    Some(signed)
}

/// A cheap, deterministic one-in-`n` choice of inputs for expensive checks.
pub(super) fn one_in(data: &[u8], n: u64) -> bool {
    let h = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    h % n == 0
}

/// `sns`: the envelope parser, the certificate and subscribe URL checks (on
/// the envelope's URLs and on the raw input as a URL), the canonical string
/// and the signature: only what the fixture key signed verifies with the
/// fixture certificate, and (for one input in 16, RSA signing is slow) a
/// message signed with a key of our own verifies with its certificate and
/// stops verifying when changed.
pub fn check_sns(data: &[u8]) {
    warm_up();
    check_sns_urls(&String::from_utf8_lossy(data));
    let parsed = within_budget("sns::parse_envelope", data.len(), || {
        sns::parse_envelope(data)
    });
    let Ok(msg) = parsed else {
        return;
    };
    check_sns_urls(&msg.signing_cert_url);
    if let Some(url) = &msg.subscribe_url {
        check_sns_urls(url);
    }

    let sts = within_budget("sns::string_to_sign", data.len(), || {
        sns::string_to_sign(&msg)
    });
    let confirmation = matches!(
        msg.kind.as_str(),
        "SubscriptionConfirmation" | "UnsubscribeConfirmation"
    );
    let signable = msg.kind == "Notification"
        || (confirmation && msg.subscribe_url.is_some() && msg.token.is_some());
    assert_eq!(sts.is_ok(), signable, "string_to_sign for {:?}", msg.kind);
    if let Ok(sts) = &sts {
        assert!(sts.ends_with(&format!("Type\n{}\n", msg.kind)));
        assert!(sts.starts_with(&format!("Message\n{}\nMessageId\n", msg.message)));
    }

    let valid = within_budget("sns::signature_is_valid", data.len(), || {
        sns::signature_is_valid(&msg, SNS_FIXTURE_CERT)
    });
    if valid {
        let sig = STANDARD.decode(msg.signature.trim()).ok();
        let known = sns_fixture_signatures().iter().any(|(v, s, g)| {
            *v == msg.signature_version && Some(s) == sts.as_ref().ok() && Some(g) == sig.as_ref()
        });
        assert!(known, "a message the fixture key never signed verifies");
    }

    if let Ok(sent) = DateTime::parse_from_rfc3339(&msg.timestamp) {
        let sent = sent.with_timezone(&Utc);
        let hour = TimeDelta::hours(1);
        assert!(sns::timestamp_is_fresh(&msg, sent, hour));
        if let Some(late) = sent.checked_add_signed(hour + TimeDelta::milliseconds(1)) {
            assert!(!sns::timestamp_is_fresh(&msg, late, hour));
        }
    }

    if one_in(data, 16)
        && let Some(signed) = sign_sns(&msg)
    {
        let cert = &sns_signer().cert_pem;
        assert!(
            sns::signature_is_valid(&signed, cert),
            "a message we signed does not verify"
        );
        assert!(!sns::signature_is_valid(&signed, SNS_FIXTURE_CERT));
        let mut changed = signed.clone();
        changed.message.push(' ');
        assert!(!sns::signature_is_valid(&changed, cert));
        let mut changed = signed;
        changed.topic_arn.push('x');
        assert!(!sns::signature_is_valid(&changed, cert));
    }
}

/// A trusted certificate or subscribe URL is `https://sns.<region>.
/// amazonaws.com[.cn]/...` with nothing a URL parser could read as another
/// host (userinfo, port, backslash, percent-encoding, whitespace).
pub(super) fn check_sns_urls(url: &str) {
    let cert = sns::cert_url_is_trusted(url);
    let subscribe = sns::subscribe_url_is_trusted(url);
    if !cert && !subscribe {
        return;
    }
    let rest = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("trusted URL without https: {url:?}"));
    let end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..end];
    let labels: Vec<&str> = host.split('.').collect();
    let aws = match labels.as_slice() {
        ["sns", region, "amazonaws", "com"] => !region.starts_with("cn-"),
        ["sns", region, "amazonaws", "com", "cn"] => region.starts_with("cn-"),
        _ => false,
    };
    assert!(aws, "trusted URL {url:?} has host {host:?}");
    assert!(
        host.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
        "trusted URL {url:?} has odd host characters"
    );
    let path = &rest[end..];
    if cert {
        assert!(
            path.ends_with(".pem") && !path.contains("..") && !path.contains("//"),
            "trusted certificate URL {url:?}"
        );
        assert!(
            path.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/')),
            "trusted certificate URL {url:?} has a query, fragment or escape"
        );
    }
    if subscribe {
        assert!(
            path.starts_with("/?Action=ConfirmSubscription&") && !path.contains('#'),
            "trusted subscribe URL {url:?}"
        );
    }
}
