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
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------
// Bounded work

/// Counts the bytes each thread allocates, so a check can bound the work of
/// a call deterministically (a quadratic copy shows up as quadratic bytes,
/// whatever the machine's load). Install it as the `#[global_allocator]` of
/// a fuzz target or test binary; without it only time is bounded.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    // `try_with`: no counting while the thread is being torn down.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().wrapping_add(bytes as u64)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counter is const-initialized and has no destructor, so
// touching it never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        if !COUNTING.load(Ordering::Relaxed) {
            COUNTING.store(true, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A move may copy the whole block: count it as new work.
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes allocated so far by this thread, when [`CountingAlloc`] is installed.
fn allocated() -> Option<u64> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| ALLOCATED.try_with(Cell::get).ok())
        .flatten()
}

/// `FUZZ_BUDGET_FACTOR` (default 1) scales both budgets, e.g. for a build
/// with AddressSanitizer or a much slower machine.
fn budget_factor() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| {
        std::env::var("FUZZ_BUDGET_FACTOR")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(1.0)
    })
}

/// Nanoseconds per byte that parsing a JSON document takes in this build on
/// this machine (the fastest of a few runs). Budgets are multiples of it, so
/// they follow the build (debug, release, instrumented) and the machine.
fn reference_ns_per_byte() -> f64 {
    static NS: OnceLock<f64> = OnceLock::new();
    *NS.get_or_init(|| {
        let mut doc = String::from("[");
        for i in 0..1500 {
            doc.push_str(&format!(
                "{{\"id\":\"m_{i:06}\",\"text\":\"caf\\u00e9 <b>&amp;</b> \\\"quoted\\\" line\\nnext {i}\",\
                 \"n\":{i}.5,\"ok\":true,\"tags\":[\"a\",\"b\",null]}},"
            ));
        }
        doc.push_str("{}]");
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let value: Result<serde_json::Value, _> = serde_json::from_str(&doc);
            drop(std::hint::black_box(value));
            best = best.min(start.elapsed().as_nanos() as f64 / doc.len() as f64);
        }
        best.max(0.1)
    })
}

/// One-time costs kept out of every budget: the phone metadata (hundreds
/// of MB allocated on first use), the SNS fixtures, the time reference.
fn warm_up() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        reference_ns_per_byte();
        for (number, region) in [("+447700900123", None), ("0151 2345678", Some("DE"))] {
            drop(Identity::phone(number, region));
        }
        sns_fixture_signatures();
    });
}

/// How long a call on `len` bytes may take.
pub fn time_budget(len: usize) -> Duration {
    let ns = TIME_FACTOR
        * budget_factor()
        * reference_ns_per_byte()
        * (len.saturating_add(TIME_FIXED_BYTES)) as f64;
    Duration::from_nanos(ns.min(1e15) as u64).max(MIN_TIME_BUDGET)
}

/// How many bytes a call on `len` bytes may allocate.
pub fn alloc_budget(len: usize) -> u64 {
    let bytes = (ALLOC_BYTES_PER_INPUT_BYTE as f64 * len as f64 + ALLOC_BASE_BYTES as f64)
        * budget_factor();
    bytes.min(u64::MAX as f64) as u64
}

/// Runs `f` on an input of `len` bytes and panics when it allocates more
/// than [`alloc_budget`] or takes longer than [`time_budget`]. A call over
/// its time is run twice more and judged by its fastest run, so a pause
/// caused by another process is not a finding; a hang is caught by
/// libFuzzer's `-timeout`.
pub fn within_budget<T>(what: &str, len: usize, mut f: impl FnMut() -> T) -> T {
    let before = allocated();
    let start = Instant::now();
    let out = f();
    let mut elapsed = start.elapsed();
    if let (Some(before), Some(after)) = (before, allocated()) {
        let bytes = after.wrapping_sub(before);
        let budget = alloc_budget(len);
        assert!(
            bytes <= budget,
            "{what}: allocated {bytes} bytes for a {len}-byte input (budget {budget}): \
             work is not linear in the input"
        );
    }
    let budget = time_budget(len);
    for _ in 0..2 {
        if elapsed <= budget {
            break;
        }
        let start = Instant::now();
        drop(f());
        elapsed = elapsed.min(start.elapsed());
    }
    assert!(
        elapsed <= budget,
        "{what}: took {elapsed:?} for a {len}-byte input (budget {budget:?}): \
         time is not linear in the input"
    );
    out
}

/// The input to a text-processing check: `data` itself, or, when it starts
/// with [`AMPLIFY_MARKER`], its tail repeated (the next two bytes, little
/// endian, say how often) up to [`MAX_EXPANDED_BYTES`]. Superlinear work
/// hides in small inputs; repeating a short pattern (`<br><p>`) brings it
/// out while the fuzzer mutates only the pattern.
pub fn expand(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    expand_up_to(data, MAX_EXPANDED_BYTES)
}

/// [`expand`] to at most `max` bytes.
fn expand_up_to(data: &[u8], max: usize) -> std::borrow::Cow<'_, [u8]> {
    match data {
        [AMPLIFY_MARKER, lo, hi, pattern @ ..] if !pattern.is_empty() => {
            let times = usize::from(u16::from_le_bytes([*lo, *hi]))
                .min(max / pattern.len())
                .max(1);
            std::borrow::Cow::Owned(pattern.repeat(times))
        }
        _ => std::borrow::Cow::Borrowed(data),
    }
}

// ---------------------------------------------------------------------------
// Canonical events

/// An id that becomes part of a storage key: non-empty, bounded, and
/// without the key separator.
pub fn check_id(field: &str, id: &str) {
    assert!(!id.is_empty(), "{field} is empty");
    check_id_length(field, id);
    check_no_separator(field, id);
}

/// Without the key separator `#`.
pub fn check_no_separator(field: &str, id: &str) {
    assert!(
        !id.contains('#'),
        "{field} contains the key separator '#': {id:?}"
    );
}

/// At most [`MAX_ID_BYTES`].
pub fn check_id_length(field: &str, id: &str) {
    assert!(
        id.len() <= MAX_ID_BYTES,
        "{field} is {} bytes (limit {MAX_ID_BYTES})",
        id.len()
    );
}

/// A normalized identity: bounded, and a fixed point of its normalization.
/// An email may hold '#' (RFC 5322 allows it, and identity values are read
/// back from attributes, never split out of keys); other kinds may not.
pub fn check_normalized(identity: &Identity) {
    let value = &identity.value;
    assert!(!value.is_empty(), "{:?} identity is empty", identity.kind);
    // Addresses and numbers are bounded whatever the adapter (opaque ids
    // by `check_id` below).
    match identity.kind {
        IdentityKind::Email => assert!(
            value.len() <= crate::identity::MAX_EMAIL_BYTES,
            "email identity is {} bytes (limit {})",
            value.len(),
            crate::identity::MAX_EMAIL_BYTES
        ),
        IdentityKind::Phone => check_id_length("phone identity", value),
        _ => {}
    }
    match identity.kind {
        IdentityKind::Email => {
            assert_eq!(
                Identity::email(value).as_ref(),
                Ok(identity),
                "email normalization is not idempotent"
            );
        }
        IdentityKind::Phone => {
            assert!(
                value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit()),
                "phone identity is not E.164: {value:?}"
            );
            assert_eq!(
                Identity::phone(value, None).as_ref(),
                Ok(identity),
                "phone normalization is not idempotent"
            );
        }
        IdentityKind::InstagramId | IdentityKind::WhatsappUser | IdentityKind::Visitor => {
            check_id("opaque identity", value);
            check_no_separator("opaque identity", value);
            assert_eq!(
                Identity::opaque(identity.kind, value).as_ref(),
                Ok(identity),
                "opaque identity is not a fixed point"
            );
        }
    }
}

/// Every id and identity in `events`.
pub fn check_events(events: &[CanonicalEvent]) {
    for event in events {
        match event {
            CanonicalEvent::Message(m) => {
                check_id("provider_message_id", &m.provider_message_id);
                check_normalized(&m.customer);
                m.linked_identities.iter().for_each(check_normalized);
            }
            CanonicalEvent::Status(s) => {
                check_id("provider_message_id", &s.provider_message_id);
                s.customer.iter().for_each(check_normalized);
            }
            CanonicalEvent::Deletion(d) => check_id("provider_message_id", &d.provider_message_id),
            CanonicalEvent::Call(c) => {
                check_id("call_id", &c.call_id);
                check_normalized(&c.customer);
            }
            CanonicalEvent::Booking(b) => {
                check_id("booking_id", &b.booking_id);
                if let Some(old) = &b.replaces_booking_id {
                    check_id("replaces_booking_id", old);
                }
                check_normalized(&b.customer);
                b.linked_identities.iter().for_each(check_normalized);
            }
            CanonicalEvent::Payment(p) => {
                check_id("payment_id", &p.payment_id);
                p.customer.iter().for_each(check_normalized);
                p.linked_identities.iter().for_each(check_normalized);
            }
        }
    }
}

/// The one inbound message an adapter that yields exactly one returns.
fn only_message(events: &[CanonicalEvent], provider: Provider) -> &IncomingMessage {
    match events {
        [CanonicalEvent::Message(m)] => {
            assert_eq!(m.provider, provider);
            assert_eq!(m.message.direction, Direction::Inbound);
            m
        }
        other => panic!("expected one message, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Chat widget

/// `chat`: the widget parser on the body, and the Origin and key check on
/// the body read as lines: origin, public key, key header, allowed origins.
pub fn check_chat(data: &[u8]) {
    warm_up();
    const REGIONS: [Option<&str>; 4] = [None, Some("GB"), Some("DE"), Some("US")];
    let ctx = ctx(REGIONS[data.len() % REGIONS.len()]);
    let parsed = within_budget("chat::parse", data.len(), || chat::parse(data, &ctx));
    if let Ok(events) = parsed {
        check_events(&events);
        let m = only_message(&events, Provider::Chat);
        assert_eq!(m.channel, Channel::Chat);
        assert!(
            m.provider_message_id.contains('/'),
            "chat ids are visitor/message"
        );
        let visitor = match m.customer.kind {
            IdentityKind::Visitor => &m.customer,
            _ => m
                .linked_identities
                .last()
                .unwrap_or_else(|| panic!("a known visitor is linked to their visitor id")),
        };
        assert_eq!(visitor.kind, IdentityKind::Visitor);
        let body = m.message.body.as_deref();
        assert!(body.is_none_or(|b| !b.trim().is_empty() && b.chars().count() <= 10_000));
        assert!(body.is_some() || !m.message.attachments.is_empty());
        assert!(m.message.attachments.len() <= 10);
        for a in &m.message.attachments {
            let url = a.url.as_deref().unwrap_or_default().to_ascii_lowercase();
            assert!(
                url.starts_with("https://") || url.starts_with("http://"),
                "attachment link is not http(s): {url:?}"
            );
        }
        assert!(
            m.occurred_at <= ctx.received_at + chat::MAX_CLOCK_AHEAD,
            "a message from the future: {}",
            m.occurred_at
        );
    }

    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let origin = lines.next().unwrap_or_default();
    let public_key = lines.next().unwrap_or_default();
    let key_header = lines.next();
    let allowed: Vec<String> = lines.map(str::to_string).collect();
    within_budget("chat origin check", data.len(), || {
        check_origin(&allowed, origin, public_key, key_header)
    });
}

/// Scheme and host, lowercased, of `scheme://host[:port]` as a browser
/// writes an origin (a plain split, independent of the checker's parser).
fn scheme_and_host(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let host = if rest.starts_with('[') {
        &rest[..=rest.find(']')?]
    } else {
        rest.split(':').next()?
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

fn check_origin(allowed: &[String], origin: &str, public_key: &str, key_header: Option<&str>) {
    let ok = chat::origin_is_allowed(allowed, origin);
    let one = |entry: &str, o: &str| chat::origin_is_allowed(&[entry.to_string()], o);
    if ok {
        let o = origin.trim();
        assert!(
            !o.chars().any(|c| c.is_whitespace()
                || !c.is_ascii()
                || matches!(c, '@' | '\\' | '?' | '#' | '*')),
            "allowed an origin with userinfo, a path, a query or odd characters: {origin:?}"
        );
        assert!(
            one(origin, origin),
            "an allowed origin does not allow itself"
        );
        let (scheme, host) = scheme_and_host(origin)
            .unwrap_or_else(|| panic!("allowed origin {origin:?} has no scheme://host"));
        let entry = allowed
            .iter()
            .find(|e| one(e, origin))
            .unwrap_or_else(|| panic!("{origin:?} allowed, but by no single entry"));
        assert!(one(origin, entry), "origin matching is not symmetric");
        assert_eq!(
            scheme_and_host(entry),
            Some((scheme, host)),
            "{origin:?} allowed by {entry:?}, another scheme or host"
        );
    }
    // Case, surrounding whitespace and a trailing slash do not matter.
    let trimmed = origin.trim();
    assert_eq!(chat::origin_is_allowed(allowed, trimmed), ok);
    assert_eq!(
        chat::origin_is_allowed(allowed, &trimmed.to_ascii_uppercase()),
        ok
    );
    if !trimmed.ends_with('/') {
        assert_eq!(chat::origin_is_allowed(allowed, &format!("{trimmed}/")), ok);
    }
    let authorized = chat::request_is_authorized(public_key, allowed, key_header, Some(origin));
    let key_ok = !public_key.is_empty() && key_header.is_some_and(|k| k.trim() == public_key);
    assert_eq!(
        authorized,
        key_ok && ok,
        "key {key_header:?} vs {public_key:?}"
    );
    assert!(!chat::request_is_authorized(
        public_key, allowed, key_header, None
    ));
    assert!(!chat::request_is_authorized(
        public_key,
        allowed,
        None,
        Some(origin)
    ));
}

// ---------------------------------------------------------------------------
// SNS

const SNS_FIXTURE_CERT: &[u8] =
    include_bytes!("../../tests/fixtures/ses_sns/test_signing_cert.pem");
const SNS_FIXTURES: [&[u8]; 2] = [
    include_bytes!("../../tests/fixtures/ses_sns/notification.json"),
    include_bytes!("../../tests/fixtures/ses_sns/subscription_confirmation.json"),
];

/// What the fixtures' signatures cover: (version, string to sign, signature).
/// The fixture certificate's key signed these and nothing else.
fn sns_fixture_signatures() -> &'static [(String, String, Vec<u8>)] {
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
struct SnsSigner {
    key: RsaKeyPair,
    cert_pem: Vec<u8>,
}

fn sns_signer() -> &'static SnsSigner {
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

fn sign_sns(msg: &sns::SnsMessage) -> Option<sns::SnsMessage> {
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
fn one_in(data: &[u8], n: u64) -> bool {
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
fn check_sns_urls(url: &str) {
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

// ---------------------------------------------------------------------------
// Signatures

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

type HmacSha256 = Hmac<sha2::Sha256>;

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    parts.iter().for_each(|p| mac.update(p));
    mac.finalize().into_bytes().to_vec()
}

/// Twilio's signed string after the URL: the form parameters decoded,
/// sorted by name then value, identical pairs once, concatenated.
fn twilio_params(body: &[u8]) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().map(|(k, v)| k + &v).collect()
}

/// Whether a delivery should verify, decided from the providers' documented
/// schemes with MACs computed here, not by the checkers under test.
fn reference_verdict(proof: Proof, d: &SignedDelivery<'_>) -> bool {
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
fn proof_header(proof: Proof) -> &'static str {
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

// ---------------------------------------------------------------------------
// Identity normalization

/// `identity`: phone (first byte picks the default region), email and
/// opaque normalization of the rest: bounded, well formed, idempotent.
pub fn check_identity(data: &[u8]) {
    warm_up();
    const REGIONS: [Option<&str>; 8] = [
        None,
        Some("GB"),
        Some("DE"),
        Some("US"),
        Some("FR"),
        Some("IN"),
        Some("BR"),
        Some("it"),
    ];
    let mut fields = Fields(data);
    let region = REGIONS[usize::from(fields.byte()) % REGIONS.len()];
    let raw = String::from_utf8_lossy(fields.0);
    let len = raw.len();

    if let Ok(phone) = within_budget("Identity::phone", len, || Identity::phone(&raw, region)) {
        assert_eq!(phone.kind, IdentityKind::Phone);
        check_normalized(&phone);
        assert_eq!(
            Identity::phone(&phone.value, region).as_ref(),
            Ok(&phone),
            "phone normalization with region {region:?} is not idempotent"
        );
    }
    if let Ok(wa) = within_budget("Identity::whatsapp_id", len, || Identity::whatsapp_id(&raw)) {
        check_normalized(&wa);
        let digits = wa.value.trim_start_matches('+');
        assert_eq!(Identity::whatsapp_id(digits).as_ref(), Ok(&wa));
    }
    if let Ok(email) = within_budget("Identity::email", len, || Identity::email(&raw)) {
        assert_eq!(email.kind, IdentityKind::Email);
        check_normalized(&email);
        let value = &email.value;
        assert_eq!(value.trim(), value, "email not trimmed");
        assert_eq!(&value.to_lowercase(), value, "email not lowercase");
        assert!(value.contains('@') && !value.contains(char::is_whitespace));
    }
    if let Ok(opaque) = Identity::opaque(IdentityKind::InstagramId, &raw) {
        assert!(!opaque.value.contains('#') && !opaque.value.is_empty());
        assert_eq!(
            Identity::opaque(IdentityKind::InstagramId, &opaque.value).as_ref(),
            Ok(&opaque)
        );
    }
}

// ---------------------------------------------------------------------------
// The other webhook adapters

/// `webhooks`: the other adapters through `channels::parse`, the first byte
/// picking WhatsApp, Instagram, Twilio SMS or voice, Stripe or Cal.com (the
/// second the default phone region), the rest the body: bounded work, and
/// the ids and identities of whatever they return, all from that provider.
pub fn check_webhooks(data: &[u8]) {
    warm_up();
    const PROVIDERS: [Provider; 6] = [
        Provider::Whatsapp,
        Provider::Instagram,
        Provider::TwilioSms,
        Provider::TwilioVoice,
        Provider::Stripe,
        Provider::Calcom,
    ];
    const REGIONS: [Option<&str>; 4] = [None, Some("GB"), Some("DE"), Some("US")];
    let mut fields = Fields(data);
    let provider = PROVIDERS[usize::from(fields.byte()) % PROVIDERS.len()];
    let ctx = ctx(REGIONS[usize::from(fields.byte()) % REGIONS.len()]);
    let body = fields.0;
    let parsed = within_budget(provider.as_str(), body.len(), || {
        crate::channels::parse(provider, body, &ctx)
    });
    let Ok(events) = parsed else {
        return;
    };
    check_events(&events);
    for event in &events {
        let from = match event {
            CanonicalEvent::Message(m) => m.provider,
            CanonicalEvent::Status(s) => s.provider,
            CanonicalEvent::Deletion(d) => d.provider,
            CanonicalEvent::Call(c) => c.provider,
            CanonicalEvent::Booking(b) => b.provider,
            CanonicalEvent::Payment(p) => p.provider,
        };
        assert_eq!(from, provider, "an event from another provider");
    }
}

// ---------------------------------------------------------------------------
// E-mail: Postmark and SES
//
// These adapters are being merged into one e-mail module: each check calls
// one adapter function, named in one place, and the invariants live in the
// shared helpers below, so repointing a check is a one-line change.

/// `postmark`: the Postmark adapter, through the central admission check
/// (`channels::parse`), on the body as sent, and on an inbound e-mail whose
/// only content is the (possibly amplified, see [`expand`]) input as
/// `HtmlBody`, which exercises the HTML-to-text conversion.
pub fn check_postmark(data: &[u8]) {
    warm_up();
    let parse = |body: &[u8]| crate::channels::parse(Provider::Postmark, body, &ctx(None));

    if let Ok(events) = within_budget("postmark::parse", data.len(), || parse(data)) {
        check_email_events(&events, Provider::Postmark);
    }

    let html = String::from_utf8_lossy(&expand(data)).into_owned();
    let body = serde_json::json!({
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "From": "sender@example.com",
        "HtmlBody": html,
    });
    let body = serde_json::to_vec(&body).expect("JSON");
    let events = within_budget("postmark::parse (HtmlBody)", body.len(), || parse(&body))
        .unwrap_or_else(|e| panic!("a well-formed inbound e-mail is refused: {e}"));
    check_email_events(&events, Provider::Postmark);
    let text = only_message(&events, Provider::Postmark)
        .message
        .body
        .clone()
        .unwrap_or_default();
    check_html_text(&html, &text);
}

/// `ses_mime`: the SES adapter's MIME reader on the (possibly amplified)
/// input, then the canonical message made from what it read.
pub fn check_ses_mime(data: &[u8]) {
    warm_up();
    let raw = expand(data);
    let parsed = within_budget("ses::parse_mime", raw.len(), || ses::parse_mime(&raw));
    let Ok(email) = parsed else {
        return;
    };
    check_parsed_email(&email);
    let message = within_budget("ses::incoming_message", raw.len(), || {
        ses::incoming_message(
            &email,
            "0000000000000000-00000000-0000-0000-0000-000000000000-000000",
            received_at(),
            Some("envelope@example.com"),
        )
    });
    if let Ok(message) = message {
        check_email_events(&[CanonicalEvent::Message(message)], Provider::Ses);
    }
}

/// One inbound e-mail from `provider`, with its ids and identities in shape.
pub fn check_email_events(events: &[CanonicalEvent], provider: Provider) {
    check_events(events);
    let m = only_message(events, provider);
    assert_eq!(m.channel, Channel::Email);
    assert_eq!(m.customer.kind, IdentityKind::Email);
    if let Some(thread) = &m.message.thread {
        let ids = thread
            .message_id
            .iter()
            .chain(&thread.in_reply_to)
            .chain(&thread.references);
        for id in ids {
            assert!(!id.is_empty(), "empty threading id");
        }
    }
    if let Some(body) = &m.message.body {
        assert!(!body.is_empty());
    }
}

/// What [`ses::parse_mime`] promises about what it read.
pub fn check_parsed_email(email: &ses::ParsedEmail) {
    if let Some(text) = &email.text {
        assert!(!text.is_empty() && text.trim() == text, "text not trimmed");
        assert!(!text.contains("\r\n"), "text keeps CRLF line endings");
    }
    let thread = email.in_reply_to.iter().chain(&email.references);
    for id in email.message_id.iter().chain(thread.clone()) {
        assert!(!id.is_empty(), "empty message id");
    }
    let brackets_kept = |id: &&String| id.starts_with('<') || id.ends_with('>');
    if let Some(id) = email.message_id.iter().find(brackets_kept) {
        panic!("brackets kept: {id:?}");
    }
    if let Some(id) = thread.clone().find(brackets_kept) {
        panic!("brackets kept: {id:?}");
    }
    for a in &email.attachments {
        assert!(matches!(
            a.kind.as_str(),
            "image" | "video" | "audio" | "file"
        ));
        if let Some(mime) = &a.mime_type {
            assert_eq!(&mime.to_ascii_lowercase(), mime);
        }
    }
}

/// Plain text from HTML: no longer than the HTML, whitespace collapsed to
/// single spaces and line breaks, at most one blank line in a row, nothing
/// blank at either end.
pub fn check_html_text(html: &str, text: &str) {
    assert!(
        text.len() <= html.len(),
        "text ({} bytes) longer than its HTML ({} bytes)",
        text.len(),
        html.len()
    );
    assert_eq!(text.trim(), text, "text not trimmed");
    assert!(
        !text.contains("\n\n\n"),
        "more than one blank line in a row"
    );
    for pattern in ["  ", " \n", "\n "] {
        assert!(
            !text.contains(pattern),
            "uncollapsed whitespace {pattern:?}"
        );
    }
    assert!(
        text.chars()
            .all(|c| !c.is_whitespace() || c == ' ' || c == '\n'),
        "whitespace other than ' ' and '\\n'"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_pass_every_check() {
        for raw in SNS_FIXTURES {
            check_sns(raw);
        }
        check_postmark(include_bytes!("../../tests/fixtures/postmark/inbound.json"));
        check_ses_mime(include_bytes!("../../tests/fixtures/ses_sns/raw_email.eml"));
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
        within_budget("slow", 10, || std::thread::sleep(budget * 2));
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
