//! The audit log: privacy, identity and admin actions (merges, splits,
//! connections, settings), who did them and when.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{Item, Store, StoreError, page_query_limit, s, take_page};
use crate::keys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor_user_id: String,
    pub action: String,
    /// The contact acted on; empty (and not shown) for tenant-wide actions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contact_id: String,
    pub detail: String,
}

impl AuditEntry {
    /// A tenant-wide action (a connection, the settings) by `actor`, now.
    /// `detail` names what changed, never a secret's value.
    pub fn by(actor: &str, action: &str, detail: String) -> Self {
        Self {
            at: Utc::now(),
            actor_user_id: actor.to_string(),
            action: action.to_string(),
            contact_id: String::new(),
            detail,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    entry: AuditEntry,
}

fn audit_pk(tenant: &str) -> String {
    format!("{}#AUDIT", keys::tenant_pk(tenant))
}

impl Store {
    /// Records `entry` under `id` once: a retry of the same action (same
    /// instant and id) finds it there.
    pub(super) async fn record_audit_once(
        &self,
        tenant: &str,
        entry: AuditEntry,
        id: Ulid,
    ) -> Result<(), StoreError> {
        let item = AuditItem {
            pk: audit_pk(tenant),
            sk: format!("{}#{id}", keys::instant(entry.at)),
            entry,
        };
        let recorded = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match recorded {
            Err(e) if !super::lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The Put of `entry` for the transaction that makes the change it
    /// records, so the change and its record are written together.
    pub(super) fn audit_put(
        &self,
        tenant: &str,
        entry: AuditEntry,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = AuditItem {
            pk: audit_pk(tenant),
            sk: format!("{}#{}", keys::instant(entry.at), Ulid::new()),
            entry,
        };
        self.put_new(serde_dynamo::to_item(item)?)
    }

    /// Newest first; `after` is the `next` of the previous page.
    pub async fn audit_log(
        &self,
        tenant: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, Option<String>), StoreError> {
        let pk = audit_pk(tenant);
        let start = after
            .map(|sk| Item::from([("pk".to_string(), s(pk.clone())), ("sk".to_string(), s(sk))]));
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(page_query_limit(limit))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let (items, more) = take_page(
            out.items.unwrap_or_default(),
            out.last_evaluated_key.is_some(),
            limit,
        );
        let items: Vec<AuditItem> = items
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<_, _>>()?;
        let next = more.then(|| items.last()).flatten().map(|i| i.sk.clone());
        Ok((items.into_iter().map(|i| i.entry).collect(), next))
    }
}
