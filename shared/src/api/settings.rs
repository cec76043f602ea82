//! `GET /settings` (any staff) and `PUT /settings` (admins): the business's
//! timezone, phone region and lead stages. The timezone changes how times
//! are shown, never their order.

use chrono_tz::Tz;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::{ApiDeps, Caller, body};
use crate::http::{ApiError, json};
use crate::store::{AuditEntry, TenantSettings};

const MAX_STAGES: usize = 20;
const MAX_STAGE_CHARS: usize = 40;
const MAX_BUSINESS_NAME_CHARS: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsUpdate {
    /// IANA name, e.g. `Europe/London`.
    timezone: String,
    #[serde(default, deserialize_with = "body::present")]
    phone_region: Option<String>,
    #[serde(default, deserialize_with = "body::present")]
    stages: Option<Vec<String>>,
    /// Shown on exports; left out, the current one stays.
    #[serde(default, deserialize_with = "body::present")]
    business_name: Option<String>,
}

pub async fn get(deps: &ApiDeps, caller: &Caller) -> Result<Response<Body>, ApiError> {
    Ok(json(
        StatusCode::OK,
        &deps.store.settings(&caller.tenant_id).await?,
    ))
}

pub async fn put(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let update: SettingsUpdate = body::parse_json(request)?;
    let current = deps.store.settings(&caller.tenant_id).await?;
    let settings = validate(update, current.clone())?;
    let audit = AuditEntry::by(
        &caller.user_id,
        "settings_changed",
        changes(&current, &settings),
    );
    deps.store
        .change_settings(&caller.tenant_id, &settings, audit)
        .await?;
    Ok(json(StatusCode::OK, &settings))
}

/// What an update changes, for the audit log: `timezone UTC -> Europe/Madrid`.
fn changes(before: &TenantSettings, after: &TenantSettings) -> String {
    let region = |s: &TenantSettings| s.phone_region.clone().unwrap_or_else(|| "(none)".into());
    let stages = |s: &TenantSettings| format!("[{}]", s.stages.join(", "));
    let mut changed = Vec::new();
    if before.timezone != after.timezone {
        changed.push(format!(
            "timezone {} -> {}",
            before.timezone, after.timezone
        ));
    }
    if before.phone_region != after.phone_region {
        changed.push(format!(
            "phone_region {} -> {}",
            region(before),
            region(after)
        ));
    }
    if before.business_name != after.business_name {
        changed.push("business_name".into());
    }
    if before.stages != after.stages {
        changed.push(format!("stages {} -> {}", stages(before), stages(after)));
    }
    if changed.is_empty() {
        "nothing changed".into()
    } else {
        changed.join("; ")
    }
}

/// The settings an update makes, checked as the document states: a name of
/// its `TimeZone` list exactly, a `PhoneRegion` (any case), and stage names
/// without blank at either end.
fn validate(update: SettingsUpdate, current: TenantSettings) -> Result<TenantSettings, ApiError> {
    let timezone = update.timezone;
    if timezone.parse::<Tz>().is_err() {
        return Err(ApiError::bad_request(
            "timezone",
            format!("'{timezone}' is not an IANA timezone name"),
        ));
    }
    let phone_region = match update.phone_region {
        None => None,
        Some(region) => {
            let region = region.to_ascii_uppercase();
            if region.parse::<phonenumber::country::Id>().is_err() {
                return Err(ApiError::bad_request(
                    "phone_region",
                    format!("'{region}' is not an ISO 3166 region with a phone numbering plan"),
                ));
            }
            Some(region)
        }
    };
    let stages = match update.stages {
        None => current.stages,
        Some(stages) => {
            let unique: std::collections::BTreeSet<&String> = stages.iter().collect();
            let valid = (1..=MAX_STAGES).contains(&stages.len())
                && unique.len() == stages.len()
                && stages
                    .iter()
                    .all(|s| body::is_trimmed_name(s) && s.chars().count() <= MAX_STAGE_CHARS);
            if !valid {
                return Err(ApiError::bad_request(
                    "stages",
                    format!(
                        "1 to {MAX_STAGES} distinct names of 1 to {MAX_STAGE_CHARS} characters, \
                         without blank at either end"
                    ),
                ));
            }
            stages
        }
    };
    let business_name = match update.business_name {
        None => current.business_name,
        Some(name) => {
            if !body::is_trimmed_name(&name) || name.chars().count() > MAX_BUSINESS_NAME_CHARS {
                return Err(ApiError::bad_request(
                    "business_name",
                    format!(
                        "1 to {MAX_BUSINESS_NAME_CHARS} characters, without blank at either end"
                    ),
                ));
            }
            Some(name)
        }
    };
    Ok(TenantSettings {
        timezone,
        phone_region,
        stages,
        business_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(timezone: &str, region: Option<&str>, stages: Option<Vec<&str>>) -> SettingsUpdate {
        SettingsUpdate {
            timezone: timezone.into(),
            phone_region: region.map(Into::into),
            stages: stages.map(|s| s.into_iter().map(Into::into).collect()),
            business_name: None,
        }
    }

    fn field(result: Result<TenantSettings, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field.unwrap_or_default(),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn validates_timezone_region_and_stages() {
        let ok = validate(
            update("Europe/Berlin", Some("de"), None),
            TenantSettings::default(),
        )
        .unwrap();
        assert_eq!(ok.phone_region.as_deref(), Some("DE"));
        assert_eq!(ok.stages, TenantSettings::default().stages);
        assert_eq!(
            field(validate(
                update("Mars/Olympus", None, None),
                TenantSettings::default()
            )),
            "timezone"
        );
        assert_eq!(
            field(validate(
                update("UTC", Some("XX"), None),
                TenantSettings::default()
            )),
            "phone_region"
        );
        assert_eq!(
            field(validate(
                update("UTC", None, Some(vec!["a", "a"])),
                TenantSettings::default()
            )),
            "stages"
        );
        assert_eq!(
            field(validate(
                update("UTC", None, Some(vec![])),
                TenantSettings::default()
            )),
            "stages"
        );
    }

    #[test]
    fn names_are_taken_as_sent() {
        // The document lists names; one with blank around it is not one.
        assert_eq!(
            field(validate(
                update(" UTC", None, None),
                TenantSettings::default()
            )),
            "timezone"
        );
        for stages in [vec!["lead ", "won"], vec!["lead", "\tlead"], vec!["a\n"]] {
            assert_eq!(
                field(validate(
                    update("UTC", None, Some(stages.clone())),
                    TenantSettings::default()
                )),
                "stages",
                "{stages:?}"
            );
        }
        let ok = validate(
            update("UTC", None, Some(vec!["first call", "won"])),
            TenantSettings::default(),
        )
        .unwrap();
        assert_eq!(ok.stages, ["first call", "won"]);
    }

    #[test]
    fn a_business_name_is_a_trimmed_name_and_stays_when_left_out() {
        let named = |name: &str| SettingsUpdate {
            business_name: Some(name.into()),
            ..update("UTC", None, None)
        };
        let set = validate(named("Salon Élan"), TenantSettings::default()).unwrap();
        assert_eq!(set.business_name.as_deref(), Some("Salon Élan"));
        let kept = validate(update("UTC", None, None), set.clone()).unwrap();
        assert_eq!(kept.business_name.as_deref(), Some("Salon Élan"));
        for bad in ["", " Salon", &"x".repeat(101)] {
            let refused = validate(named(bad), TenantSettings::default());
            assert_eq!(field(refused), "business_name", "{bad:?}");
        }
        assert_eq!(changes(&TenantSettings::default(), &set), "business_name");
    }

    #[test]
    fn changes_name_what_changed_and_nothing_else() {
        let before = TenantSettings::default();
        let mut after = before.clone();
        after.timezone = "Europe/Madrid".into();
        after.phone_region = Some("ES".into());
        assert_eq!(
            changes(&before, &after),
            "timezone UTC -> Europe/Madrid; phone_region (none) -> ES"
        );
        assert_eq!(changes(&after, &after), "nothing changed");
    }
}
