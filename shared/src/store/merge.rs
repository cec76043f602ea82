//! Moving everything of one contact into another (a merge), or chosen
//! identities and their events out of one (a split). Every step is
//! idempotent, so a merge cut short by a crash completes when it runs again.
//!
//! A merge begins by recording itself on the merged-away contact's
//! `METRICS` item (`merged_into`, the merge's id, who, which identities), in
//! the transaction that moves that contact's identities. The record stays
//! when the merge is done: a repeat finds it and finishes or answers with
//! what the first attempt did. Every message write is already conditioned
//! on that item (its version), so a delivery that resolved to the contact
//! before the merge is refused and resolves again, at no extra cost; the
//! rarer writes (a new identity, a call, booking or payment) check it.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::contacts::IdentityItem;
use super::events::EventItem;
use super::metrics::METRICS_SK;
use super::{Attempt, Item, Store, StoreError, lost_race, optimistic, s};
use crate::identity::Identity;
use crate::keys;

/// The attribute that marks a contact merged (or being merged) away.
pub(super) const MERGED_INTO: &str = "merged_into";

/// Identities moved in the transaction that begins a merge: 3 items each,
/// plus the record and three checks, within DynamoDB's 100 per transaction.
/// A contact with more moves the rest one by one.
const IDENTITIES_WITH_RECORD: usize = 32;

/// A merge, as recorded on the merged-away contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub merged_into: String,
    /// A ULID minted when the merge began: the records of the merge are
    /// named after it, so a repeat writes each of them once.
    pub merge_id: String,
    /// The staff member who asked for it; none for an automatic merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    /// The identities the contact had when the merge began.
    #[serde(default)]
    pub merged_identities: Vec<Identity>,
    #[serde(default)]
    pub merge_finished: bool,
}

/// The merged-away contact's `METRICS` item once the merge is done: its
/// counters are gone, the record of the merge stays.
#[derive(Serialize)]
struct MergedItem<'a> {
    pk: String,
    sk: &'static str,
    version: u64,
    #[serde(flatten)]
    record: &'a MergeRecord,
}

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
        self.merge(tenant, from, into, None).await.map(|_| ())
    }

    /// Begins, resumes or repeats the merge of `from` into `into`; returns
    /// its record. `None` when either contact does not exist (and `from`
    /// was never merged into `into`), or `from` was merged elsewhere.
    pub(super) async fn merge(
        &self,
        tenant: &str,
        from: &str,
        into: &str,
        by: Option<&str>,
    ) -> Result<Option<MergeRecord>, StoreError> {
        if from == into {
            return Ok(None);
        }
        let record = match self.merge_record(tenant, from).await? {
            Some(record) if record.merged_into == into => record,
            Some(_) => return Ok(None),
            None => match self.begin_merge(tenant, from, into, by).await? {
                Some(record) => record,
                None => return Ok(None),
            },
        };
        if !record.merge_finished {
            self.finish_merge(tenant, from, into, &record).await?;
        }
        Ok(Some(record))
    }

    /// The merge `contact` was (or is being) merged away by, if any.
    pub(super) async fn merge_record(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<MergeRecord>, StoreError> {
        match self
            .get(&keys::contact_pk(tenant, contact), METRICS_SK)
            .await?
        {
            Some(item) if item.contains_key(MERGED_INTO) => {
                Ok(Some(serde_dynamo::from_item(item)?))
            }
            _ => Ok(None),
        }
    }

    /// A transaction item that fails when `contact` is merged away.
    pub(super) fn not_merged(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, contact)))
            .key("sk", s(METRICS_SK))
            .condition_expression("attribute_not_exists(#merged)")
            .expression_attribute_names("#merged", MERGED_INTO)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// After a write to `contact` lost a race: `Merged` when a merge took
    /// the contact away meanwhile (retrying the write would never succeed).
    pub(super) async fn ensure_not_merged(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        match self.merge_record(tenant, contact).await? {
            Some(_) => Err(StoreError::Merged(contact.to_string())),
            None => Ok(()),
        }
    }

    /// Records the merge on `from` and moves its identities to `into`, in
    /// one transaction: from then on deliveries resolve to `into`, and any
    /// write to `from` is refused.
    async fn begin_merge(
        &self,
        tenant: &str,
        from: &str,
        into: &str,
        by: Option<&str>,
    ) -> Result<Option<MergeRecord>, StoreError> {
        optimistic(
            || keys::contact_pk(tenant, from),
            || async move {
                if !self.contact_exists(tenant, from).await?
                    || !self.contact_exists(tenant, into).await?
                {
                    return Ok(Attempt::Done(None));
                }
                let links = self.identity_links(tenant, from).await?;
                let record = MergeRecord {
                    merged_into: into.to_string(),
                    merge_id: Ulid::new().to_string(),
                    merged_by: by.map(str::to_string),
                    merged_identities: links.iter().map(|l| l.identity.clone()).collect(),
                    merge_finished: false,
                };
                let mut transaction = self
                    .db
                    .transact_write_items()
                    .transact_items(self.record_merge(tenant, from, &record)?)
                    .transact_items(self.not_merged(tenant, into)?)
                    .transact_items(self.exists(tenant, from)?)
                    .transact_items(self.exists(tenant, into)?);
                for link in links.iter().take(IDENTITIES_WITH_RECORD) {
                    for item in self.identity_move(tenant, link, from, into)? {
                        transaction = transaction.transact_items(item);
                    }
                }
                match transaction.send().await {
                    Ok(_) => Ok(Attempt::Done(Some(record))),
                    Err(e) if lost_race(&e) => {
                        // A concurrent request began this merge, `into` is being
                        // merged away, or an identity moved: look again.
                        match self.merge_record(tenant, from).await? {
                            Some(theirs) if theirs.merged_into == into => {
                                return Ok(Attempt::Done(Some(theirs)));
                            }
                            Some(_) => return Ok(Attempt::Done(None)),
                            None => self.ensure_not_merged(tenant, into).await?,
                        }
                        Ok(Attempt::Retry)
                    }
                    Err(e) => Err(e.into()),
                }
            },
        )
        .await
    }

    /// Sets the merge record on `from`'s metrics item. The version moves
    /// too, so a message write that read the item before fails.
    fn record_merge(
        &self,
        tenant: &str,
        from: &str,
        record: &MergeRecord,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, from)))
            .key("sk", s(METRICS_SK))
            .condition_expression("attribute_not_exists(#merged)")
            .expression_attribute_names("#merged", MERGED_INTO)
            .expression_attribute_values(":into", s(&record.merged_into))
            .expression_attribute_values(":id", s(&record.merge_id))
            .expression_attribute_values(
                ":identities",
                serde_dynamo::to_attribute_value(&record.merged_identities)?,
            )
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        let mut expression = String::from(
            "SET #merged = :into, merge_id = :id, merged_identities = :identities, \
             version = if_not_exists(version, :zero) + :one",
        );
        if let Some(by) = &record.merged_by {
            expression.push_str(", merged_by = :by");
            update = update.expression_attribute_values(":by", s(by));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A transaction item that fails unless `contact`'s profile exists.
    fn exists(&self, tenant: &str, contact: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(keys::contact_pk(tenant, contact)))
            .key("sk", s(keys::PROFILE_SK))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Everything after the first transaction; each step finds where a
    /// cut-short attempt stopped.
    async fn finish_merge(
        &self,
        tenant: &str,
        from: &str,
        into: &str,
        record: &MergeRecord,
    ) -> Result<(), StoreError> {
        // Identities the first transaction could not take; none can be
        // added to `from` any more.
        loop {
            let links = self.identity_links(tenant, from).await?;
            if links.is_empty() {
                break;
            }
            for link in links {
                self.move_identity(tenant, &link, from, into).await?;
            }
        }
        // Repeat until empty: a delivery may have landed before the record.
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
        self.close_merge(tenant, from, record).await
    }

    /// Replaces `from`'s metrics item with the finished merge record.
    async fn close_merge(
        &self,
        tenant: &str,
        from: &str,
        record: &MergeRecord,
    ) -> Result<(), StoreError> {
        let pk = keys::contact_pk(tenant, from);
        let version = match self.get(&pk, METRICS_SK).await? {
            Some(item) => match item.get("version") {
                Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                _ => 0,
            },
            None => 0,
        };
        let finished = MergeRecord {
            merge_finished: true,
            ..record.clone()
        };
        let item = serde_dynamo::to_item(MergedItem {
            pk,
            sk: METRICS_SK,
            version: version + 1,
            record: &finished,
        })?;
        let closed = self
            .db
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#merged = :into")
            .expression_attribute_names("#merged", MERGED_INTO)
            .expression_attribute_values(":into", s(&record.merged_into))
            .send()
            .await;
        match closed {
            Err(e) if !lost_race(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The three writes that move one identity from `from` to `into`.
    fn identity_move(
        &self,
        tenant: &str,
        link: &IdentityItem,
        from: &str,
        into: &str,
    ) -> Result<[TransactWriteItem; 3], StoreError> {
        let owner = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::identity_pk(tenant, &link.identity)))
            .key("sk", s(keys::IDENTITY_SK))
            .update_expression("SET contact_id = :into")
            .condition_expression("contact_id = :from")
            .expression_attribute_values(":into", s(into))
            .expression_attribute_values(":from", s(from))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok([
            TransactWriteItem::builder().update(owner).build(),
            self.put(moved_link(tenant, link, into)?)?,
            self.delete(&link.pk, &link.sk)?,
        ])
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
        self.db
            .transact_write_items()
            .transact_items(self.put(moved_link(tenant, link, into)?)?)
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

/// `link` as it stands on `into` once moved there.
fn moved_link(tenant: &str, link: &IdentityItem, into: &str) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(IdentityItem {
        pk: keys::contact_pk(tenant, into),
        sk: link.sk.clone(),
        contact_id: into.to_string(),
        identity: link.identity.clone(),
        assurance: link.assurance,
    })?)
}
