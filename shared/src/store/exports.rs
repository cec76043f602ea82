//! Export jobs and the reads an export makes. A job item is claimed by one
//! worker at a time (a lease that outlives the function's timeout), and every
//! progress write is conditional on still holding it, so a redelivered or
//! duplicated job message never runs a second upload alongside the first.

use std::collections::VecDeque;

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::events::EventItem;
use super::{AuditEntry, Item, Store, StoreError, lost_race, s};
use crate::export::job::Progress;
use crate::export::{ExportJob, ExportStatus};
use crate::keys;
use crate::model::{Channel, TimelineEvent};

#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    job: ExportJob,
    /// The worker running the job, and until when (epoch ms) it may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<i64>,
    /// TTL: the job goes with its file.
    expires_at: i64,
}

fn n(value: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(value.to_string())
}

impl Store {
    /// Stores a new job with the audit entry of its request, together; the
    /// job and its file expire after `keep`.
    pub async fn create_export(
        &self,
        tenant: &str,
        job: &ExportJob,
        keep: Duration,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let item = JobItem {
            pk: keys::export_pk(tenant, &job.export_id),
            sk: keys::EXPORT_JOB_SK.to_string(),
            job: job.clone(),
            lease_owner: None,
            lease_until: None,
            expires_at: (job.requested_at + keep).timestamp(),
        };
        self.db
            .transact_write_items()
            .transact_items(self.put_new(serde_dynamo::to_item(item)?)?)
            .transact_items(self.audit_put(tenant, audit)?)
            .send()
            .await?;
        Ok(())
    }

    /// Takes back a job that could not be queued.
    pub async fn delete_export(&self, tenant: &str, export_id: &str) -> Result<(), StoreError> {
        self.db
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::export_pk(tenant, export_id)))
            .key("sk", s(keys::EXPORT_JOB_SK))
            .send()
            .await?;
        Ok(())
    }

    /// Records an audit entry of its own (a download URL handed out).
    pub async fn record_audit(&self, tenant: &str, entry: AuditEntry) -> Result<(), StoreError> {
        self.record_audit_once(tenant, entry, ulid::Ulid::new())
            .await
    }

    pub async fn export_job(
        &self,
        tenant: &str,
        export_id: &str,
    ) -> Result<Option<ExportJob>, StoreError> {
        let item = self
            .get(&keys::export_pk(tenant, export_id), keys::EXPORT_JOB_SK)
            .await?;
        Ok(match item {
            Some(item) => Some(serde_dynamo::from_item::<_, JobItem>(item)?.job),
            None => None,
        })
    }

    /// Takes the job for `owner` until `until`, when it is queued or running
    /// with no live lease; `None` when it is finished or another worker
    /// holds it.
    pub async fn claim_export(
        &self,
        tenant: &str,
        export_id: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<ExportJob>, StoreError> {
        let result = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::export_pk(tenant, export_id)))
            .key("sk", s(keys::EXPORT_JOB_SK))
            .update_expression("SET #status = :running, lease_owner = :owner, lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND #status IN (:queued, :running) \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(ExportStatus::Running.as_str()))
            .expression_attribute_values(":queued", s(ExportStatus::Queued.as_str()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(Some(serde_dynamo::from_item::<_, JobItem>(item)?.job))
            }
            Err(e) if lost_race(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Saves progress and extends the lease; `false` when `owner` no longer
    /// holds the job (it must stop).
    pub async fn save_export_progress(
        &self,
        tenant: &str,
        export_id: &str,
        owner: &str,
        progress: &Progress,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.update_held_job(
            tenant,
            export_id,
            owner,
            "SET progress = :progress, lease_until = :until",
            [
                (":progress", serde_dynamo::to_attribute_value(progress)?),
                (":until", n(until.timestamp_millis())),
            ],
        )
        .await
    }

    /// Lets another worker (a continuation of this one) take the job now.
    pub async fn release_export(
        &self,
        tenant: &str,
        export_id: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        self.update_held_job(tenant, export_id, owner, "REMOVE lease_until", [])
            .await
    }

    /// Marks the job done (its file complete) or failed, and drops the lease.
    pub async fn finish_export(
        &self,
        tenant: &str,
        export_id: &str,
        owner: &str,
        outcome: Result<&Progress, &str>,
    ) -> Result<bool, StoreError> {
        let now = s(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        match outcome {
            Ok(progress) => {
                self.update_held_job(
                    tenant,
                    export_id,
                    owner,
                    "SET #status = :status, progress = :progress, finished_at = :now \
                     REMOVE lease_owner, lease_until",
                    [
                        (":status", s(ExportStatus::Done.as_str())),
                        (":progress", serde_dynamo::to_attribute_value(progress)?),
                        (":now", now),
                    ],
                )
                .await
            }
            Err(error) => {
                self.update_held_job(
                    tenant,
                    export_id,
                    owner,
                    "SET #status = :status, #error = :error, finished_at = :now \
                     REMOVE lease_owner, lease_until",
                    [
                        (":status", s(ExportStatus::Failed.as_str())),
                        (":error", s(error)),
                        (":now", now),
                    ],
                )
                .await
            }
        }
    }

    async fn update_held_job<const N: usize>(
        &self,
        tenant: &str,
        export_id: &str,
        owner: &str,
        update: &str,
        values: [(&str, aws_sdk_dynamodb::types::AttributeValue); N],
    ) -> Result<bool, StoreError> {
        let mut request = self
            .db
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::export_pk(tenant, export_id)))
            .key("sk", s(keys::EXPORT_JOB_SK))
            .update_expression(update)
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner));
        if update.contains("#status") {
            request = request.expression_attribute_names("#status", "status");
        }
        if update.contains("#error") {
            request = request.expression_attribute_names("#error", "error");
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if lost_race(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// A tenant's events of one UTC day in time order, read from the four
/// shards of the day index (GSI3) and merged; at most four pages in memory.
pub struct DayEvents {
    tenant: String,
    day: NaiveDate,
    /// Events after this sort key only (a resumed export's cursor).
    after: Option<String>,
    /// Events up to this sort key only.
    upper: String,
    channels: Vec<Channel>,
    types: Vec<String>,
    shards: Vec<Shard>,
}

struct Shard {
    pk: String,
    buffer: VecDeque<(String, TimelineEvent)>,
    next: Option<Item>,
    done: bool,
}

/// One read of the day index.
const DAY_PAGE: i32 = 500;

impl DayEvents {
    pub fn new(
        tenant: &str,
        day: NaiveDate,
        after: Option<String>,
        upper: String,
        channels: Vec<Channel>,
        types: Vec<String>,
    ) -> Self {
        let shards = (0..keys::DAY_SHARDS)
            .map(|shard| Shard {
                pk: keys::tenant_day_shard_pk(tenant, day, shard),
                buffer: VecDeque::new(),
                next: None,
                done: false,
            })
            .collect();
        Self {
            tenant: tenant.to_string(),
            day,
            after,
            upper,
            channels,
            types,
            shards,
        }
    }

    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The next event of the day in sort-key order, with its sort key.
    pub async fn next(
        &mut self,
        store: &Store,
    ) -> Result<Option<(String, TimelineEvent)>, StoreError> {
        for i in 0..self.shards.len() {
            while self.shards[i].buffer.is_empty() && !self.shards[i].done {
                self.fill(store, i).await?;
            }
        }
        let head = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(i, shard)| shard.buffer.front().map(|(sk, _)| (i, sk)))
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(i, _)| i);
        Ok(head.and_then(|i| self.shards[i].buffer.pop_front()))
    }

    async fn fill(&mut self, store: &Store, i: usize) -> Result<(), StoreError> {
        let lower_bound = self.after.clone();
        let shard = &mut self.shards[i];
        let mut request = store
            .db
            .query()
            .table_name(&store.table)
            .index_name("gsi3")
            .expression_attribute_values(":pk", s(&shard.pk))
            .limit(DAY_PAGE)
            .set_exclusive_start_key(shard.next.take());
        request = match lower_bound {
            Some(after) => request
                .key_condition_expression("gsi3pk = :pk AND gsi3sk > :after")
                .expression_attribute_values(":after", s(after)),
            None => request.key_condition_expression("gsi3pk = :pk"),
        };
        let mut filters = Vec::new();
        if !self.channels.is_empty() {
            let names: Vec<String> = (0..self.channels.len()).map(|i| format!(":c{i}")).collect();
            filters.push(format!("channel IN ({})", names.join(", ")));
            for (name, channel) in names.iter().zip(&self.channels) {
                request = request.expression_attribute_values(name, s(channel.as_str()));
            }
        }
        if !self.types.is_empty() {
            let names: Vec<String> = (0..self.types.len()).map(|i| format!(":t{i}")).collect();
            filters.push(format!("#type IN ({})", names.join(", ")));
            request = request.expression_attribute_names("#type", "type");
            for (name, kind) in names.iter().zip(&self.types) {
                request = request.expression_attribute_values(name, s(kind));
            }
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        let out = request.send().await?;
        let mut past_upper = false;
        for item in out.items.unwrap_or_default() {
            let event: EventItem = serde_dynamo::from_item(item)?;
            if event.sk > self.upper {
                past_upper = true;
                break;
            }
            debug_assert!(event.pk.starts_with(&keys::tenant_pk(&self.tenant)));
            shard.buffer.push_back((event.sk, event.event));
        }
        shard.next = out.last_evaluated_key;
        shard.done = past_upper || shard.next.is_none();
        Ok(())
    }
}
