//! Invariant checks for the fuzz targets in `fuzz/` (see docs/fuzzing.md).
//!
//! One `check_<target>(data)` per target: it feeds the bytes to the code
//! under test and panics when an invariant breaks. Each libFuzzer target is a
//! single call to its check, and `tests/tests/fuzz_corpus.rs` replays every
//! committed corpus file through the same checks on stable, so CI guards the
//! corpora without nightly flags.
//!
//! Invariants beyond "does not panic":
//! * bounded work: each call stays within a time budget and an allocation
//!   budget linear in the length of its input ([`within_budget`]);
//! * the ids of canonical events are non-empty, at most [`MAX_ID_BYTES`]
//!   bytes and free of the key separator `#` ([`check_events`]);
//! * phone and email normalization is idempotent ([`check_normalized`]);
//! * what a provider's signing function signs verifies, a change of body or
//!   secret does not, and a verdict of valid always means the header holds
//!   the true MAC, computed here independently of the checker
//!   ([`check_signatures`]; random signatures never verify).
//!
//! Not part of the product: `#[doc(hidden)]`, and nothing else calls it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::channels::provider::{Proof, SignedDelivery, Verdict};
use crate::channels::{
    CanonicalEvent, IncomingMessage, ParseContext, calcom, chat, meta, postmark, ses, sns, stripe,
    twilio_signature,
};
use crate::identity::{Identity, IdentityKind};
use crate::model::{Channel, Direction, Provider};
use crate::store::Secrets;

/// Longest id (message, call, booking, payment id; identity value) a
/// canonical event may carry: the central limit every adapter's output is
/// admitted under (`channels::parse`).
pub const MAX_ID_BYTES: usize = crate::limits::MAX_KEY_ID_BYTES;

/// Allocation budget: this many bytes allocated per input byte...
pub const ALLOC_BYTES_PER_INPUT_BYTE: u64 = 256;
/// ...plus this much for fixed costs: the phone parser compiles its regexes
/// on first use and keeps only 100, and one number's can take 16 MB (22 MB
/// seen for one chat message, depending on what the cache holds).
pub const ALLOC_BASE_BYTES: u64 = 128 << 20;
/// Time budget: this many times as long per byte as parsing JSON takes in
/// the same build on the same machine (see [`time_budget`])...
pub const TIME_FACTOR: f64 = 100.0;
/// ...for the input's length plus this many bytes of fixed cost.
pub const TIME_FIXED_BYTES: usize = 32 << 10;
/// Never less than this, so a slow start of a short call is not a finding.
pub const MIN_TIME_BUDGET: Duration = Duration::from_millis(20);
/// How many bytes an amplified input ([`expand`]) may grow to: enough for
/// quadratic work to exceed the budgets, little enough to keep the pace.
pub const MAX_EXPANDED_BYTES: usize = 128 << 10;
/// First byte of an input that [`expand`] repeats.
pub const AMPLIFY_MARKER: u8 = 0xA5;

/// When the webhooks below were received.
fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_792_515_630, 0).unwrap_or_default() // 2026-10-20T17:00:30Z
}

fn ctx(default_region: Option<&'static str>) -> ParseContext<'static> {
    ParseContext {
        received_at: received_at(),
        default_region,
    }
}

/// Reads a fuzz input as a few fields: bytes, length-prefixed strings, the rest.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        first
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn string(&mut self) -> String {
        let n = usize::from(self.byte());
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    fn u32(&mut self) -> u32 {
        let mut b = [0; 4];
        let got = self.bytes(4);
        b[..got.len()].copy_from_slice(got);
        u32::from_le_bytes(b)
    }
}

mod budget;
mod chat_widget;
mod email;
mod events;
mod identity;
mod signatures;
mod sns_envelope;
mod webhooks;

pub use budget::*;
pub use chat_widget::*;
pub use email::*;
pub use events::*;
pub use identity::*;
pub use signatures::*;
pub use sns_envelope::*;
pub use webhooks::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_pass_every_check() {
        for raw in SNS_FIXTURES {
            check_sns(raw);
        }
        check_postmark(include_bytes!(
            "../../../tests/fixtures/postmark/inbound.json"
        ));
        check_ses_mime(include_bytes!(
            "../../../tests/fixtures/ses_sns/raw_email.eml"
        ));
        check_identity(b"\x01+44 (0)7700 900123");
        check_identity(b"\x00 Maya.Lopez@Example.COM ");
        for proof in 0..7u8 {
            let mut data = vec![proof, 3, b'k', b'e', b'y', 2, b'p', b'w'];
            data.extend_from_slice(b"\x18https://salon.example/hk");
            data.extend_from_slice(b"\x04zzzz\x00\x10\x00\x70A=1&B=%2B2");
            check_signatures(&data);
        }
    }

    #[test]
    fn a_message_signed_with_our_key_verifies_with_our_certificate() {
        let msg = sns::parse_envelope(SNS_FIXTURES[0]).unwrap();
        let signed = sign_sns(&msg).unwrap();
        assert!(sns::signature_is_valid(&signed, &sns_signer().cert_pem));
        assert!(!sns::signature_is_valid(&msg, &sns_signer().cert_pem));
    }

    #[test]
    #[should_panic(expected = "key separator")]
    fn an_id_with_the_key_separator_fails() {
        check_no_separator("provider_message_id", "a#b");
    }

    #[test]
    #[should_panic(expected = "limit")]
    fn an_oversized_id_fails() {
        check_id_length("provider_message_id", &"a".repeat(MAX_ID_BYTES + 1));
    }

    #[test]
    #[should_panic(expected = "not idempotent")]
    fn a_non_normalized_email_identity_fails() {
        check_normalized(&Identity {
            kind: IdentityKind::Email,
            value: "Maya@Example.com".into(),
        });
    }

    // Bytes are counted in this test binary too.
    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    #[test]
    #[should_panic(expected = "work is not linear")]
    fn quadratic_allocation_fails_its_budget() {
        let n = 1 << 16;
        within_budget("quadratic", n, || {
            (0..n)
                .map(|i| std::hint::black_box(vec![0u8; i]).len())
                .sum::<usize>()
        });
    }

    #[test]
    #[should_panic(expected = "time is not linear")]
    fn a_slow_call_fails_its_budget() {
        let budget = time_budget(10);
        within_budget("slow", 10, || {
            // Busy: the budget counts CPU time, which sleeping does not use.
            let start = std::time::Instant::now();
            while start.elapsed() < budget * 3 {
                std::hint::black_box(0u64);
            }
        });
    }

    #[test]
    fn waiting_is_not_work() {
        let budget = time_budget(10);
        within_budget("idle", 10, || std::thread::sleep(budget * 2));
    }

    #[test]
    fn linear_work_fits_its_budget() {
        let data = vec![b'a'; 1 << 20];
        let copies = within_budget("linear", data.len(), || {
            data.iter().map(|b| u64::from(*b)).collect::<Vec<_>>()
        });
        assert_eq!(copies.len(), data.len());
    }

    #[test]
    #[should_panic(expected = "uncollapsed whitespace")]
    fn html_text_with_double_spaces_fails() {
        check_html_text("<p>a  b</p>", "a  b");
    }

    #[test]
    fn the_reference_accepts_only_the_true_mac() {
        let secrets = Secrets::default().with("app_secret", "s");
        let config = BTreeMap::new();
        let verdict = |mac: &[u8]| {
            let mut headers = http::HeaderMap::new();
            let value = format!("sha256={}", hex::encode(mac));
            headers.insert(meta::SIGNATURE_HEADER, value.parse().unwrap());
            let d = SignedDelivery {
                secrets: &secrets,
                config: &config,
                url: "",
                headers: &headers,
                body: b"body",
                now: received_at(),
            };
            reference_verdict(Proof::MetaSignature, &d)
        };
        assert!(verdict(&hmac256(b"s", &[b"body"])));
        assert!(!verdict(&hmac256(b"s", &[b"other"])));
        assert!(!verdict(&hmac256(b"t", &[b"body"])));
    }

    #[test]
    fn expand_repeats_the_pattern_up_to_the_cap() {
        assert_eq!(&*expand(b"plain"), b"plain");
        assert_eq!(&*expand(&[AMPLIFY_MARKER, 3, 0, b'a', b'b']), b"ababab");
        let big = expand(&[AMPLIFY_MARKER, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(big.len(), MAX_EXPANDED_BYTES);
        assert_eq!(expand(&[AMPLIFY_MARKER, 0, 0, b'a']).len(), 1);
    }
}
