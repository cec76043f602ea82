//! Customer identities, normalized so the same person is found again whatever
//! format a provider or a form used, and how far each delivery proves them.
//!
//! Trust rule (see `store::contacts`): a *verified* identity is one the
//! provider delivered the message from (a WhatsApp or SMS number, an
//! Instagram id, the chat widget's own browser id, an email whose sender
//! domain passed DMARC or aligned SPF at SES). Anything typed into a form
//! (a chat visitor's email or phone, a Cal.com attendee, a Stripe payer) or
//! an email sender nobody authenticated is *self-asserted*: it is recorded
//! on a contact only if that contact holds no verified identity besides
//! visitor ids, and otherwise becomes a duplicate suggestion, never a link.
//! [`assurance`] is the one place that decides, provider by provider.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{Provider, SenderAuthentication};

/// How far a delivery proves that its customer holds an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assurance {
    /// The provider delivered the message from it (or to it).
    Verified,
    /// Typed or given by whoever made the request; nobody checked it.
    SelfAsserted,
}

/// An identity as one delivery names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub identity: Identity,
    pub assurance: Assurance,
}

impl Named {
    /// A delivery's identities, the customer's first, each with its
    /// assurance from [`assurance`].
    pub fn all(
        provider: Provider,
        customer: &Identity,
        linked: &[Identity],
        sender: Option<SenderAuthentication>,
    ) -> Vec<Named> {
        std::iter::once(customer)
            .chain(linked)
            .map(|identity| Named {
                identity: identity.clone(),
                assurance: assurance(provider, identity.kind, sender),
            })
            .collect()
    }
}

/// How far a delivery from `provider` proves that its customer holds an
/// identity of `kind`. `sender` is what the mail service found about an
/// email's `From` (SES only).
pub fn assurance(
    provider: Provider,
    kind: IdentityKind,
    sender: Option<SenderAuthentication>,
) -> Assurance {
    let verified_if = |verified_kinds: &[IdentityKind]| {
        if verified_kinds.contains(&kind) {
            Assurance::Verified
        } else {
            Assurance::SelfAsserted
        }
    };
    match provider {
        // Meta delivered it from (or to) this account.
        Provider::Whatsapp => verified_if(&[IdentityKind::Phone, IdentityKind::WhatsappUser]),
        Provider::Instagram => verified_if(&[IdentityKind::InstagramId]),
        // The carrier delivered the text or the call from this number
        // (caller ID can be spoofed by some networks; Twilio's STIR/SHAKEN
        // verdict is not read).
        Provider::TwilioSms | Provider::TwilioVoice => verified_if(&[IdentityKind::Phone]),
        // The widget's own browser id is the conversation itself; the email
        // and phone the visitor types are claims.
        Provider::Chat => verified_if(&[IdentityKind::Visitor]),
        // SES checked the sender's domain.
        Provider::Ses => match sender {
            Some(SenderAuthentication::Pass) => verified_if(&[IdentityKind::Email]),
            Some(SenderAuthentication::Fail) | None => Assurance::SelfAsserted,
        },
        // Postmark's inbound webhook carries no authentication verdict.
        Provider::Postmark => Assurance::SelfAsserted,
        // Typed into a checkout or a booking form.
        Provider::Stripe | Provider::Calcom => Assurance::SelfAsserted,
    }
}

/// What SES's receipt verdicts say about a mail's `From` address: DMARC
/// passed, or SPF passed for an envelope sender (`MAIL FROM`) in the same
/// domain as `From`. SPF or DKIM passing alone proves only the envelope's or
/// the signer's domain, which anyone can own; DMARC (or the alignment check
/// here) ties them to the `From` staff see. `None` when the receipt gives no
/// verdict at all.
pub fn email_sender_authentication(
    dmarc: Option<&str>,
    spf: Option<&str>,
    envelope_from: Option<&str>,
    header_from: Option<&str>,
) -> Option<SenderAuthentication> {
    if dmarc.is_none() && spf.is_none() {
        return None;
    }
    let pass = |verdict: Option<&str>| verdict.is_some_and(|v| v.eq_ignore_ascii_case("PASS"));
    let domain = |address: Option<&str>| {
        address
            .and_then(|a| a.trim().trim_end_matches('>').rsplit_once('@'))
            .map(|(_, domain)| domain.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
    };
    let aligned_spf = pass(spf)
        && domain(envelope_from).is_some()
        && domain(envelope_from) == domain(header_from);
    Some(if pass(dmarc) || aligned_spf {
        SenderAuthentication::Pass
    } else {
        SenderAuthentication::Fail
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Phone,
    Email,
    InstagramId,
    /// WhatsApp business-scoped user id, for users known only by username.
    WhatsappUser,
    /// Anonymous website chat visitor.
    Visitor,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Phone => "phone",
            IdentityKind::Email => "email",
            IdentityKind::InstagramId => "instagram_id",
            IdentityKind::WhatsappUser => "whatsapp_user",
            IdentityKind::Visitor => "visitor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("'{0}' is not a phone number")]
    Phone(String),
    #[error("'{0}' is not an email address")]
    Email(String),
    #[error("identifier is empty or contains '#'")]
    Opaque,
}

/// How often [`Identity::phone`] reads its own E.164 form again to reach a
/// fixed point (junk such as "00000L6" in DE needs three).
const MAX_PHONE_PASSES: usize = 4;

/// Longest address (RFC 5321: a path is at most 256 octets with its angle
/// brackets); a longer one is no address, and would not fit in a key.
pub const MAX_EMAIL_BYTES: usize = 254;

impl Identity {
    /// E.164. `default_region` (ISO 3166 alpha-2, e.g. "DE") reads national
    /// formats such as "0151 2345678".
    pub fn phone(raw: &str, default_region: Option<&str>) -> Result<Self, IdentityError> {
        let region = default_region.and_then(|r| r.to_ascii_uppercase().parse().ok());
        // "+44 (0)7700 900123": the bracketed trunk zero is dialled only from
        // inside the country, but the parser would keep it as a digit.
        let trimmed = raw.trim();
        let international = trimmed.starts_with('+') || trimmed.starts_with("00");
        let cleaned = if international {
            trimmed.replace("(0)", " ")
        } else {
            trimmed.to_string()
        };
        let number = phonenumber::parse(region, &cleaned)
            .map_err(|_| IdentityError::Phone(raw.to_string()))?;
        let e164 =
            |n: &phonenumber::PhoneNumber| n.format().mode(phonenumber::Mode::E164).to_string();
        // One pass is not always a fixed point: some punctuation keeps a
        // trunk '0' after the country code ("+40 06 1243 55/78" gives
        // "+400612435578", which reads as "+40612435578"), and a stray
        // bracket lets "+3303)" through although "+3303" is refused. So the
        // E.164 form is read again until it stays the same, and the same
        // number always gets the same value. One that cannot be read again,
        // does not settle, or reads otherwise in the default region (which
        // strips a trunk '0' the bare form keeps: "+440041625" in GB) is no
        // number.
        let no_number = || IdentityError::Phone(raw.to_string());
        let reread = |value: &str, region| {
            phonenumber::parse(region, value)
                .map(|n| e164(&n))
                .map_err(|_| no_number())
        };
        let mut value = e164(&number);
        for _ in 0..MAX_PHONE_PASSES {
            let again = reread(&value, None)?;
            if again == value {
                if region.is_some() && reread(&value, region)? != value {
                    return Err(no_number());
                }
                return Ok(Identity {
                    kind: IdentityKind::Phone,
                    value,
                });
            }
            value = again;
        }
        Err(no_number())
    }

    /// WhatsApp's `wa_id`: international digits without the plus.
    pub fn whatsapp_id(wa_id: &str) -> Result<Self, IdentityError> {
        if wa_id.is_empty() || !wa_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentityError::Phone(wa_id.to_string()));
        }
        Self::phone(&format!("+{wa_id}"), None)
    }

    pub fn email(raw: &str) -> Result<Self, IdentityError> {
        let value = raw.trim().to_lowercase();
        let valid = value
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !value.contains(char::is_whitespace)
            && value.len() <= MAX_EMAIL_BYTES;
        if !valid {
            return Err(IdentityError::Email(raw.to_string()));
        }
        Ok(Identity {
            kind: IdentityKind::Email,
            value,
        })
    }

    /// Provider-scoped ids are kept as given; '#' would break key parsing.
    pub fn opaque(kind: IdentityKind, raw: &str) -> Result<Self, IdentityError> {
        let value = raw.trim();
        if value.is_empty() || value.contains('#') {
            return Err(IdentityError::Opaque);
        }
        Ok(Identity {
            kind,
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_formats_are_one_person() {
        let a = Identity::phone("+49 151 2345678", Some("DE")).unwrap();
        let b = Identity::phone("0151 2345678", Some("DE")).unwrap();
        let c = Identity::phone("4915123456 78", Some("DE")).unwrap();
        assert_eq!(a.value, "+491512345678");
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn bracketed_trunk_zero_is_dropped_from_international_numbers() {
        let a = Identity::phone("+44 (0)7700 900123", None).unwrap();
        assert_eq!(a.value, "+447700900123");
        assert_eq!(a, Identity::phone("07700 900123", Some("GB")).unwrap());
    }

    #[test]
    fn phone_normalization_is_idempotent() {
        // Found by fuzzing (fuzz/corpus/identity): a trunk '0' kept after
        // the country code, dropped when the result was normalized again.
        for (raw, region) in [
            ("+40 06 1243 55/78", Some("IT")),
            ("+40 06 1243 5578", None),
        ] {
            let once = Identity::phone(raw, region).unwrap();
            assert_eq!(once.value, "+40612435578", "{raw}");
            assert_eq!(Identity::phone(&once.value, None).unwrap(), once);
        }
        assert!(Identity::phone("+3303", None).is_err());
        assert!(Identity::phone("+3303)", Some("US")).is_err());
        // Three passes to settle: "+49056" reads as "+4956".
        let junk = Identity::phone("00000L6", Some("DE")).unwrap();
        assert_eq!(Identity::phone(&junk.value, None).unwrap(), junk);
        assert_eq!(Identity::phone(&junk.value, Some("DE")).unwrap(), junk);
        // "+440041625" is read as "+4441625" in GB.
        assert!(Identity::phone("000041625", Some("GB")).is_err());
        // Real numbers are unaffected by the region.
        let uk = Identity::phone("07700 900123", Some("GB")).unwrap();
        for region in [None, Some("GB"), Some("DE"), Some("US")] {
            assert_eq!(Identity::phone(&uk.value, region).unwrap(), uk);
        }
    }

    #[test]
    fn whatsapp_ids_become_e164() {
        let id = Identity::whatsapp_id("447700900123").unwrap();
        assert_eq!(id.value, "+447700900123");
        assert!(Identity::whatsapp_id("44770x").is_err());
        assert!(Identity::whatsapp_id("").is_err());
    }

    #[test]
    fn overlong_emails_are_refused() {
        // An address of any length became part of a key (the fuzz checks
        // bound every identity to 1024 bytes).
        let local = "a".repeat(MAX_EMAIL_BYTES - "@example.com".len());
        assert!(Identity::email(&format!("{local}@example.com")).is_ok());
        assert!(Identity::email(&format!("{local}a@example.com")).is_err());
        // Counted after lowercasing, which may lengthen a value.
        let dotted = "\u{130}".repeat(120);
        assert!(Identity::email(&format!("{dotted}@example.com")).is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let id = Identity::email("  Maya.Lopez@Example.COM ").unwrap();
        assert_eq!(id.value, "maya.lopez@example.com");
        assert!(Identity::email("not an email").is_err());
    }

    #[test]
    fn every_provider_says_which_identities_it_proves() {
        use Assurance::{SelfAsserted, Verified};
        use IdentityKind::*;
        let pass = Some(SenderAuthentication::Pass);
        let cases = [
            (Provider::Whatsapp, Phone, None, Verified),
            (Provider::Whatsapp, WhatsappUser, None, Verified),
            (Provider::Whatsapp, Email, None, SelfAsserted),
            (Provider::Instagram, InstagramId, None, Verified),
            (Provider::TwilioSms, Phone, None, Verified),
            (Provider::TwilioVoice, Phone, None, Verified),
            (Provider::Chat, Visitor, None, Verified),
            (Provider::Chat, Email, None, SelfAsserted),
            (Provider::Chat, Phone, None, SelfAsserted),
            (Provider::Ses, Email, pass, Verified),
            (
                Provider::Ses,
                Email,
                Some(SenderAuthentication::Fail),
                SelfAsserted,
            ),
            (Provider::Ses, Email, None, SelfAsserted),
            (Provider::Postmark, Email, pass, SelfAsserted),
            (Provider::Stripe, Email, None, SelfAsserted),
            (Provider::Stripe, Phone, None, SelfAsserted),
            (Provider::Calcom, Email, None, SelfAsserted),
            (Provider::Calcom, Phone, None, SelfAsserted),
        ];
        for (provider, kind, sender, expected) in cases {
            assert_eq!(
                assurance(provider, kind, sender),
                expected,
                "{provider:?} {kind:?} {sender:?}"
            );
        }
    }

    #[test]
    fn an_email_sender_is_authenticated_by_dmarc_or_aligned_spf() {
        use SenderAuthentication::{Fail, Pass};
        let from = Some("Maya <maya@example.com>");
        let check = |dmarc, spf, envelope| email_sender_authentication(dmarc, spf, envelope, from);
        assert_eq!(check(Some("PASS"), Some("FAIL"), None), Some(Pass));
        assert_eq!(
            check(Some("GRAY"), Some("PASS"), Some("bounce@Example.com")),
            Some(Pass)
        );
        // SPF for someone else's envelope domain says nothing about From.
        assert_eq!(
            check(Some("GRAY"), Some("PASS"), Some("x@attacker.example")),
            Some(Fail)
        );
        assert_eq!(
            check(Some("FAIL"), Some("PASS"), Some("x@attacker.example")),
            Some(Fail)
        );
        assert_eq!(check(Some("GRAY"), Some("PASS"), None), Some(Fail));
        assert_eq!(
            check(Some("FAIL"), Some("FAIL"), Some("maya@example.com")),
            Some(Fail)
        );
        assert_eq!(check(None, None, Some("maya@example.com")), None);
    }

    #[test]
    fn opaque_ids_reject_key_separators() {
        assert!(Identity::opaque(IdentityKind::InstagramId, "12#3").is_err());
        assert_eq!(
            Identity::opaque(IdentityKind::InstagramId, " 1203956471823346 ")
                .unwrap()
                .value,
            "1203956471823346"
        );
    }
}
