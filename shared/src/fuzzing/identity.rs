//! Identity normalization.

use super::*;

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
