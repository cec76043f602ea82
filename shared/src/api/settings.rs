//! `GET /settings` (any staff) and `PUT /settings` (admins): the business's
//! timezone, phone region and lead stages. The timezone changes how times
//! are shown, never their order.

use chrono_tz::Tz;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::{ApiDeps, Caller, body};
use crate::http::{ApiError, json};
use crate::store::TenantSettings;

const MAX_STAGES: usize = 20;
const MAX_STAGE_CHARS: usize = 40;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsUpdate {
    /// IANA name, e.g. `Europe/London`.
    timezone: String,
    #[serde(default)]
    phone_region: Option<String>,
    #[serde(default)]
    stages: Option<Vec<String>>,
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
    let settings = validate(update, deps.store.settings(&caller.tenant_id).await?)?;
    deps.store
        .put_settings(&caller.tenant_id, &settings)
        .await?;
    Ok(json(StatusCode::OK, &settings))
}

fn validate(update: SettingsUpdate, current: TenantSettings) -> Result<TenantSettings, ApiError> {
    let timezone = update.timezone.trim();
    if timezone.parse::<Tz>().is_err() {
        return Err(ApiError::bad_request(
            "timezone",
            format!("'{timezone}' is not an IANA timezone name"),
        ));
    }
    let phone_region = match update.phone_region {
        None => None,
        Some(region) => {
            let region = region.trim().to_ascii_uppercase();
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
            let stages: Vec<String> = stages.iter().map(|s| s.trim().to_string()).collect();
            let unique: std::collections::BTreeSet<&String> = stages.iter().collect();
            let valid = (1..=MAX_STAGES).contains(&stages.len())
                && unique.len() == stages.len()
                && stages
                    .iter()
                    .all(|s| !s.is_empty() && s.chars().count() <= MAX_STAGE_CHARS);
            if !valid {
                return Err(ApiError::bad_request(
                    "stages",
                    format!(
                        "1 to {MAX_STAGES} distinct names of 1 to {MAX_STAGE_CHARS} characters"
                    ),
                ));
            }
            stages
        }
    };
    Ok(TenantSettings {
        timezone: timezone.to_string(),
        phone_region,
        stages,
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
}
