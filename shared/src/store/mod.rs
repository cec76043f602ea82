//! The DynamoDB repository: every read and write of the single table. Every
//! method takes the tenant and builds keys through `crate::keys`, so a caller
//! can only ever touch its own tenant's items.

mod audit;
mod connections;
mod contacts;
mod duplicates;
mod events;
mod exports;
mod import;
mod merge;
mod metrics;
mod objects;
mod rate_limit;
mod search;
mod settings;
mod split;
mod staff;
mod timeline;

pub use audit::AuditEntry;
pub use connections::{Connection, ConnectionSummary, Secrets};
pub use contacts::{ContactPage, ContactProfile, ContactView, Resolved};
pub use duplicates::DuplicateSuggestion;
pub use events::{RecordOutcome, TimelinePage};
pub use exports::DayEvents;
pub use import::event_item;
pub use metrics::StoredMetrics;
pub use objects::{ObjectReport, rank};
pub use rate_limit::{Admission, RateLimit, RateScope};
pub use search::{Search, SearchPage};
pub use settings::{DEFAULT_STAGES, TenantSettings};
pub use timeline::TimelineQuery;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use thiserror::Error;

pub type Item = HashMap<String, AttributeValue>;

/// Optimistic writes retry this often before reporting contention; the SQS
/// redelivery then retries the whole delivery later.
const MAX_ATTEMPTS: usize = 8;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("dynamodb: {0}")]
    Dynamo(String),
    #[error("item encoding: {0}")]
    Codec(#[from] serde_dynamo::Error),
    #[error("concurrent writes to {0} kept conflicting")]
    Contention(String),
    #[error("{0} names no customer identity to put it on")]
    Unattributable(String),
    /// A write to a contact that is merged (or being merged) into another
    /// was refused; its identities now lead to the surviving contact.
    #[error("contact {0} was merged into another")]
    Merged(String),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(e: SdkError<E, R>) -> Self {
        StoreError::Dynamo(DisplayErrorContext(e).to_string())
    }
}

/// What one try of an optimistic write came to.
enum Attempt<T> {
    Done(T),
    /// It lost a race: read again and try again.
    Retry,
}

impl<T> Attempt<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(value) => Attempt::Done(f(value)),
            Attempt::Retry => Attempt::Retry,
        }
    }
}

/// Runs `attempt` (read, decide, conditional write) until it is done, at
/// most `MAX_ATTEMPTS` times; then reports contention on `contended()`.
///
/// `attempt` is a closure returning a future rather than an async closure:
/// the futures of async closures are not provably `Send` for every
/// lifetime, which the Lambda runtime's spawned tasks need.
async fn optimistic<T, Fut>(
    contended: impl FnOnce() -> String,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<Attempt<T>, StoreError>>,
{
    for _ in 0..MAX_ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(StoreError::Contention(contended()))
}

/// A conditional write's result as an attempt: a lost race is retried.
fn settle<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Attempt<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(value) => Ok(Attempt::Done(value)),
        Err(e) if lost_race(&e) => Ok(Attempt::Retry),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// One conditional write as a transaction of one item, the shape every
    /// versioned write has; a lost race is retried.
    async fn write_one(&self, item: TransactWriteItem) -> Result<Attempt<()>, StoreError> {
        let written = self
            .db
            .transact_write_items()
            .transact_items(item)
            .send()
            .await;
        Ok(settle(written)?.map(drop))
    }
}

/// True when a write lost a race: its condition no longer held, or a
/// concurrent transaction touched the same items. Callers re-read and retry.
fn lost_race<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(
        e.as_service_error().and_then(|s| s.code()),
        Some("ConditionalCheckFailedException") | Some("TransactionCanceledException")
    )
}

#[derive(Clone)]
pub struct Store {
    db: aws_sdk_dynamodb::Client,
    table: String,
}

impl Store {
    /// The table named by `TABLE_NAME`, as template.yaml sets it.
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::SettingsError> {
        Ok(Self::new(
            clients.dynamodb.clone(),
            settings.required(crate::config::TABLE_NAME)?,
        ))
    }

    pub fn new(db: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            db,
            table: table.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// A Put that fails if the item already exists.
    pub(crate) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        self.put_if(item, "attribute_not_exists(pk)", None)
    }

    /// A Put that overwrites whatever is there (idempotent writes).
    pub(crate) fn put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(crate) fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: Option<Item>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .db
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }
}

/// What a query for `limit + 1` items returned, cut to `limit`, and whether
/// another page exists.
fn take_page(mut items: Vec<Item>, more_in_table: bool, limit: usize) -> (Vec<Item>, bool) {
    let more = items.len() > limit || more_in_table;
    items.truncate(limit);
    (items, more)
}

/// The `Limit` of a page query: one extra item tells whether more follow.
fn page_query_limit(limit: usize) -> i32 {
    i32::try_from(limit + 1).unwrap_or(i32::MAX)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
