use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{AuditEntry, Item, Store, StoreError};
use crate::keys;

/// Per-business settings. Storage is always UTC; the timezone only changes
/// how instants are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    pub timezone: String,
    /// ISO 3166 alpha-2 region for reading national phone formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
    /// The lead stages staff move contacts through, in order.
    #[serde(default = "default_stages")]
    pub stages: Vec<String>,
    /// The business's name as exports show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_name: Option<String>,
}

/// A salon's usual funnel; each business may replace it.
pub const DEFAULT_STAGES: [&str; 6] = [
    "new",
    "contacted",
    "qualified",
    "booked",
    "customer",
    "lost",
];

fn default_stages() -> Vec<String> {
    DEFAULT_STAGES.iter().map(|s| s.to_string()).collect()
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            timezone: "UTC".to_string(),
            phone_region: None,
            stages: default_stages(),
            business_name: None,
        }
    }
}

impl TenantSettings {
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }
}

#[derive(Serialize, Deserialize)]
struct SettingsItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    settings: TenantSettings,
}

impl Store {
    #[tracing::instrument(skip(self))]
    pub async fn settings(&self, tenant: &str) -> Result<TenantSettings, StoreError> {
        match self
            .get(&keys::tenant_pk(tenant), keys::SETTINGS_SK)
            .await?
        {
            Some(item) => Ok(serde_dynamo::from_item::<_, SettingsItem>(item)?.settings),
            None => Ok(TenantSettings::default()),
        }
    }

    #[tracing::instrument(skip(self))]
    pub async fn put_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        let item = settings_item(tenant, settings)?;
        self.db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// Replaces the settings and records `audit` in the same transaction.
    #[tracing::instrument(skip_all)]
    pub async fn change_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let item = settings_item(tenant, settings)?;
        self.db
            .transact_write_items()
            .transact_items(self.put(item)?)
            .transact_items(self.audit_put(tenant, audit)?)
            .send()
            .await?;
        Ok(())
    }
}

fn settings_item(tenant: &str, settings: &TenantSettings) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(SettingsItem {
        pk: keys::tenant_pk(tenant),
        sk: keys::SETTINGS_SK.to_string(),
        settings: settings.clone(),
    })?)
}
