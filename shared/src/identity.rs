//! Customer identities, normalized so the same person is found again whatever
//! format a provider or a form used.

use serde::{Deserialize, Serialize};
use thiserror::Error;

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
        Ok(Identity {
            kind: IdentityKind::Phone,
            value: number.format().mode(phonenumber::Mode::E164).to_string(),
        })
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
            && !value.contains(char::is_whitespace);
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
    fn whatsapp_ids_become_e164() {
        let id = Identity::whatsapp_id("447700900123").unwrap();
        assert_eq!(id.value, "+447700900123");
        assert!(Identity::whatsapp_id("44770x").is_err());
        assert!(Identity::whatsapp_id("").is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let id = Identity::email("  Maya.Lopez@Example.COM ").unwrap();
        assert_eq!(id.value, "maya.lopez@example.com");
        assert!(Identity::email("not an email").is_err());
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
