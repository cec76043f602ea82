use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::keys;
use crate::model::Provider;

/// Signing secrets of one connection. Debug output never shows the values,
/// so a secret cannot reach a log line by accident.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// One business's account on one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: String,
    pub tenant_id: String,
    pub provider: Provider,
    /// The provider's id for the business account (phone_number_id, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub connected_at: DateTime<Utc>,
    pub secrets: Secrets,
}

#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    connection: Connection,
}

/// The tenant's own list of its connections, without secrets.
#[derive(Serialize)]
struct ConnectionListingItem<'a> {
    pk: String,
    sk: String,
    connection_id: &'a str,
    provider: Provider,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    connected_at: DateTime<Utc>,
}

impl Store {
    /// Looks a connection up by its id alone, as a webhook URL names it.
    #[tracing::instrument(skip(self))]
    pub async fn connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let item = self
            .get(
                &keys::connection_route_pk(connection_id),
                keys::CONNECTION_ROUTE_SK,
            )
            .await?;
        Ok(match item {
            Some(item) => Some(serde_dynamo::from_item::<_, ConnectionItem>(item)?.connection),
            None => None,
        })
    }

    #[tracing::instrument(skip_all, fields(connection = %connection.connection_id))]
    pub async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let route = serde_dynamo::to_item(ConnectionItem {
            pk: keys::connection_route_pk(&connection.connection_id),
            sk: keys::CONNECTION_ROUTE_SK.to_string(),
            connection: connection.clone(),
        })?;
        let listing = serde_dynamo::to_item(ConnectionListingItem {
            pk: keys::tenant_pk(&connection.tenant_id),
            sk: keys::connection_sk(connection.provider, &connection.connection_id),
            connection_id: &connection.connection_id,
            provider: connection.provider,
            external_id: connection.external_id.as_deref(),
            connected_at: connection.connected_at,
        })?;
        self.db
            .transact_write_items()
            .transact_items(self.put_new(route)?)
            .transact_items(self.put_new(listing)?)
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secret_values() {
        let secrets = Secrets::default().with("app_secret", "s3cr3t-value");
        let shown = format!("{secrets:?}");
        assert!(shown.contains("app_secret"));
        assert!(!shown.contains("s3cr3t-value"));
    }
}
