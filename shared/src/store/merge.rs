//! Moving everything of one contact into another (a merge), or chosen
//! identities and their events out of one (a split). Every step is idempotent,
//! so a merge cut short by a crash completes when it runs again.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};

use super::contacts::IdentityItem;
use super::events::EventItem;
use super::metrics::METRICS_SK;
use super::{Store, StoreError, lost_race, s};
use crate::keys;

impl Store {
    /// Merges contact `from` into `into` (same tenant): identities, events,
    /// counters and last activity; `from` ceases to exist.
    #[tracing::instrument(skip(self))]
    pub async fn merge_contact(
        &self,
        tenant: &str,
        from: &str,
        into: &str,
    ) -> Result<(), StoreError> {
        if from == into {
            return Ok(());
        }
        // Identities first, so deliveries from now on land on `into`.
        for link in self.identity_links(tenant, from).await? {
            self.move_identity(tenant, &link, from, into).await?;
        }
        // Repeat until empty: a delivery may have landed during the move.
        loop {
            let out = self.events_query(tenant, from).limit(100).send().await?;
            let items = out.items.unwrap_or_default();
            if items.is_empty() {
                break;
            }
            for item in items {
                let event: EventItem = serde_dynamo::from_item(item)?;
                self.move_event(tenant, event, into).await?;
            }
        }
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, from)))
            .key("sk", s(METRICS_SK))
            .send()
            .await?;
        self.rebuild_metrics(tenant, into).await?;
        if let Some(profile) = self.contact(tenant, from).await? {
            self.touch_contact(tenant, into, profile.profile.last_activity_at)
                .await?;
            self.db
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(keys::contact_pk(tenant, from)))
                .key("sk", s(keys::PROFILE_SK))
                .send()
                .await?;
        }
        Ok(())
    }

    pub(super) async fn move_identity(
        &self,
        tenant: &str,
        link: &IdentityItem,
        from: &str,
        into: &str,
    ) -> Result<(), StoreError> {
        let repointed = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::identity_pk(tenant, &link.identity)))
            .key("sk", s(keys::IDENTITY_SK))
            .update_expression("SET contact_id = :into")
            .condition_expression("contact_id = :from")
            .expression_attribute_values(":into", s(into))
            .expression_attribute_values(":from", s(from))
            .send()
            .await;
        if let Err(e) = repointed
            && !lost_race(&e)
        {
            return Err(e.into());
        }
        let moved = serde_dynamo::to_item(IdentityItem {
            pk: keys::contact_pk(tenant, into),
            sk: link.sk.clone(),
            contact_id: into.to_string(),
            identity: link.identity.clone(),
            assurance: link.assurance,
        })?;
        self.db
            .transact_write_items()
            .transact_items(self.put(moved)?)
            .transact_items(self.delete(&link.pk, &link.sk)?)
            .send()
            .await?;
        Ok(())
    }

    pub(super) async fn move_event(
        &self,
        tenant: &str,
        event: EventItem,
        into: &str,
    ) -> Result<(), StoreError> {
        let (old_pk, old_sk, claims) = (event.pk.clone(), event.sk.clone(), event.claims.clone());
        let old_words = event.index_keys.clone();
        let mut timeline_event = event.event;
        timeline_event.contact_id = into.to_string();
        let moved = EventItem::new(tenant, timeline_event, claims.clone()).arrived_via(event.via);
        let (new_pk, new_words) = (moved.pk.clone(), moved.index_keys.clone());
        let copied = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(moved)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if let Err(e) = copied
            && !lost_race(&e)
        {
            return Err(e.into());
        }
        self.write_postings(&new_pk, &old_sk, &new_words).await?;
        for claim in claims {
            let repointed = self
                .db
                .update_item()
                .table_name(&self.table)
                .key("pk", s(&claim))
                .key("sk", s(keys::PROVIDER_MESSAGE_SK))
                .update_expression("SET event_pk = :pk ADD version :one")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":pk", s(&new_pk))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await;
            if let Err(e) = repointed
                && !lost_race(&e)
            {
                return Err(e.into());
            }
        }
        self.remove_postings(&old_pk, &old_sk, &old_words).await?;
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(old_pk))
            .key("sk", s(old_sk))
            .send()
            .await?;
        Ok(())
    }

    pub(super) fn delete(&self, pk: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}
