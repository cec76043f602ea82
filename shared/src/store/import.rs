//! Bulk import of a contact's past events: history migrated from another
//! tool (and the query benchmark's seed). Events are written with
//! `BatchWriteItem`, 25 at a time by a few concurrent writers, instead of the
//! one-transaction-per-message path of live deliveries; then the search
//! postings of their messages (see `search`); then the metrics are rebuilt
//! from the whole history once.
//!
//! Importing the same events again overwrites them (same keys), so a cut-short
//! import can be re-run. Imported messages get no provider-message (`PM`)
//! items: they are history, not deliveries a provider may redeliver.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use tokio::task::JoinSet;

use super::events::EventItem;
use super::{Item, Store, StoreError, s};
use crate::identity::Identity;
use crate::keys;
use crate::model::TimelineEvent;

/// `BatchWriteItem` takes at most 25 items.
const BATCH_SIZE: usize = 25;
/// Batches in flight at once.
const WRITERS: usize = 8;

/// Write requests handed out to the writers 25 at a time, built as they go
/// (a long history has millions of postings).
type Requests = Box<dyn Iterator<Item = Result<WriteRequest, StoreError>> + Send>;

impl Store {
    /// Writes `events` (each with the identity it arrived through) onto the
    /// timeline of `contact`, which must exist, indexes their messages for
    /// search, rebuilds the contact's metrics and moves its last activity
    /// forward to the newest event. Returns how many events were written.
    /// Every event must belong to `contact` and have its own key; otherwise
    /// nothing is written.
    #[tracing::instrument(skip(self, events), fields(events = events.len()))]
    pub async fn import_history(
        &self,
        tenant: &str,
        contact: &str,
        events: Vec<(TimelineEvent, Identity)>,
    ) -> Result<usize, StoreError> {
        let mut seen = HashSet::with_capacity(events.len());
        let mut latest = None;
        let mut items = Vec::with_capacity(events.len());
        // (event sort key, its search-index keys)
        let mut words = Vec::with_capacity(events.len());
        for (event, identity) in events {
            if event.contact_id != contact {
                return Err(StoreError::Dynamo(format!(
                    "import_history: event {} belongs to contact {}, not {contact}",
                    event.event_id, event.contact_id
                )));
            }
            latest = latest.max(Some(event.occurred_at));
            let item = imported_event(tenant, event, identity);
            if !seen.insert(item.sk.clone()) {
                return Err(StoreError::Dynamo(format!(
                    "import_history: two events have the key {}",
                    item.sk
                )));
            }
            if !item.index_keys.is_empty() {
                words.push((item.sk.clone(), item.index_keys.clone()));
            }
            items.push(serde_dynamo::to_item(item)?);
        }
        drop(seen);
        if !self.contact_exists(tenant, contact).await? {
            return Err(StoreError::Dynamo(format!(
                "import_history: no contact {contact} to import into"
            )));
        }
        let Some(latest) = latest else {
            return Ok(0);
        };
        let written = items.len();

        // Events first, so every posting written points at a stored event.
        self.write_all(Box::new(items.into_iter().map(put))).await?;
        let event_pk = keys::contact_pk(tenant, contact);
        let postings = words.into_iter().flat_map(move |(sk, index_keys)| {
            let event_pk = event_pk.clone();
            index_keys.into_iter().map(move |key| {
                put(Item::from([
                    ("pk".to_string(), s(keys::search_pk(&event_pk, &key))),
                    ("sk".to_string(), s(&sk)),
                ]))
            })
        });
        self.write_all(Box::new(postings)).await?;

        self.rebuild_metrics(tenant, contact).await?;
        self.touch_contact(tenant, contact, latest).await?;
        Ok(written)
    }

    /// Writes every request with `WRITERS` concurrent batch writers.
    async fn write_all(&self, requests: Requests) -> Result<(), StoreError> {
        let requests = Arc::new(Mutex::new(requests));
        let mut writers = JoinSet::new();
        for _ in 0..WRITERS {
            let (store, requests) = (self.clone(), requests.clone());
            writers.spawn(async move {
                loop {
                    let batch = match requests.lock() {
                        Ok(mut requests) => requests
                            .by_ref()
                            .take(BATCH_SIZE)
                            .collect::<Result<Vec<_>, _>>()?,
                        Err(_) => {
                            return Err(StoreError::Dynamo(
                                "import_history: a writer panicked".into(),
                            ));
                        }
                    };
                    if batch.is_empty() {
                        return Ok(());
                    }
                    store.batch_write(batch).await?;
                }
            });
        }
        while let Some(finished) = writers.join_next().await {
            // One failed writer ends the import (dropping the set stops the rest).
            finished.map_err(|e| StoreError::Dynamo(format!("import_history writer: {e}")))??;
        }
        Ok(())
    }
}

fn imported_event(tenant: &str, event: TimelineEvent, via: Identity) -> EventItem {
    EventItem::new(tenant, event, Vec::new()).arrived_via(Some(via))
}

/// The item [`Store::import_history`] stores for `event` (arrived through
/// `via`): its keys, the channel and tenant-day index keys, the search-index
/// keys it lists. Public so a tool can load events by its own route with
/// exactly the product's items: the export bench writes a million this way,
/// without the search postings and metrics rebuild an export never reads.
pub fn event_item(tenant: &str, event: TimelineEvent, via: Identity) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(imported_event(tenant, event, via))?)
}

fn put(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Dynamo(e.to_string()))?;
    Ok(WriteRequest::builder().put_request(put).build())
}
