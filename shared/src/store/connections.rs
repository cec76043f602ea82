use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::{AuditEntry, Store, StoreError, lost_race, s};
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

    /// The names held, never the values.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }
}

/// From name-value pairs (a request body, a table of test values).
impl From<BTreeMap<String, String>> for Secrets {
    fn from(values: BTreeMap<String, String>) -> Self {
        Self(values)
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
    /// Settings that are not secret (a chat widget's public key and allowed
    /// origins, the business phone number); shown in listings.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    pub secrets: Secrets,
}

/// What a tenant sees of a connection: everything but the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    pub connection_id: String,
    pub provider: Provider,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub connected_at: DateTime<Utc>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct ConnectionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    connection: Connection,
}

/// The tenant's own list of its connections, without secrets.
#[derive(Serialize, Deserialize)]
struct ConnectionListingItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    summary: ConnectionSummary,
}

impl Connection {
    pub fn summary(&self) -> ConnectionSummary {
        ConnectionSummary {
            connection_id: self.connection_id.clone(),
            provider: self.provider,
            external_id: self.external_id.clone(),
            connected_at: self.connected_at,
            config: self.config.clone(),
        }
    }
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
        self.put_connection_recorded(connection, None).await
    }

    /// As `put_connection`, with `audit` recorded in the same transaction.
    #[tracing::instrument(skip_all, fields(connection = %connection.connection_id))]
    pub async fn create_connection(
        &self,
        connection: &Connection,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        self.put_connection_recorded(connection, Some(audit)).await
    }

    async fn put_connection_recorded(
        &self,
        connection: &Connection,
        audit: Option<AuditEntry>,
    ) -> Result<(), StoreError> {
        let route = serde_dynamo::to_item(ConnectionItem {
            pk: keys::connection_route_pk(&connection.connection_id),
            sk: keys::CONNECTION_ROUTE_SK.to_string(),
            connection: connection.clone(),
        })?;
        let listing = serde_dynamo::to_item(ConnectionListingItem {
            pk: keys::tenant_pk(&connection.tenant_id),
            sk: keys::connection_sk(connection.provider, &connection.connection_id),
            summary: connection.summary(),
        })?;
        let mut transaction = self
            .db
            .transact_write_items()
            .transact_items(self.put_new(route)?)
            .transact_items(self.put_new(listing)?);
        if let Some(entry) = audit {
            transaction = transaction.transact_items(self.audit_put(&connection.tenant_id, entry)?);
        }
        transaction.send().await?;
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    pub async fn connections(&self, tenant: &str) -> Result<Vec<ConnectionSummary>, StoreError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s(keys::tenant_pk(tenant)))
            .expression_attribute_values(":p", s("CONN#"))
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| Ok(serde_dynamo::from_item::<_, ConnectionListingItem>(item)?.summary))
            .collect()
    }

    /// Disconnects: the webhook URL answers 404 from now on; the audit log
    /// records that `actor` did, in the same transaction. False when the
    /// tenant has no such connection.
    #[tracing::instrument(skip(self))]
    pub async fn delete_connection(
        &self,
        tenant: &str,
        connection: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let Some(existing) = self.connection(connection).await? else {
            return Ok(false);
        };
        if existing.tenant_id != tenant {
            return Ok(false);
        }
        let route = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::connection_route_pk(connection)))
            .key("sk", s(keys::CONNECTION_ROUTE_SK))
            .condition_expression("tenant_id = :t")
            .expression_attribute_values(":t", s(tenant))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let audit = AuditEntry::by(
            actor,
            "connection_deleted",
            format!(
                "{} connection {connection} deleted",
                existing.provider.descriptor().path
            ),
        );
        let listing = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::tenant_pk(tenant)))
            .key("sk", s(keys::connection_sk(existing.provider, connection)))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let result = self
            .db
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(route).build())
            .transact_items(TransactWriteItem::builder().delete(listing).build())
            .transact_items(self.audit_put(tenant, audit)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if lost_race(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
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
