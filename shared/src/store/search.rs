//! The message search index. Every stored message with text has one posting
//! item per word beginning (`text::index_keys`): pk `{contact pk}#W#{key}`,
//! sk the event's sort key. A search reads one key's postings newest first
//! and fetches only those events, so its cost follows the matches, not the
//! length of the history. Postings are written after the message (a
//! message can hold more words than a transaction takes); each writer
//! re-reads the event afterwards, so a deletion racing it still removes
//! every posting, and a redelivery completes an index write cut short.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use super::events::EventItem;
use super::{Item, Store, StoreError, s};
use crate::keys;
use crate::model::{Channel, EventDetail, TimelineEvent};

/// BatchWriteItem takes at most 25 requests; BatchGetItem 100 keys.
const WRITE_BATCH: usize = 25;
/// Postings read per page: twice the hits wanted (most candidates match),
/// within what one BatchGetItem takes.
fn postings_page(limit: usize) -> i32 {
    i32::try_from(limit.saturating_mul(2).clamp(10, 100)).unwrap_or(100)
}
/// Unprocessed batch items are retried this often, waiting 25 ms doubling
/// to at most 2 s (about 12 s in all).
const BATCH_ATTEMPTS: u32 = 12;

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((25u64 << attempt.min(7)).min(2_000))
}

/// Messages matching a search, newest first, with where the terms occur.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<(TimelineEvent, Vec<(usize, usize)>)>,
    /// Sort key of the last message examined, when more may match.
    pub next: Option<String>,
}

/// What a search asks for.
pub struct Search<'a> {
    pub terms: &'a [String],
    /// From `text::lookup_key(terms)`.
    pub key: &'a str,
    /// Empty means every channel.
    pub channels: &'a [Channel],
    pub limit: usize,
    pub after: Option<&'a str>,
}

impl Store {
    /// Makes the postings of a stored message match its text: written when
    /// it has text, removed when it was deleted meanwhile.
    pub(super) async fn index_message(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        let Some(item) = self.get(pk, sk).await? else {
            return Ok(());
        };
        let event: EventItem = serde_dynamo::from_item(item)?;
        if event.index_keys.is_empty() || is_deleted(&event.event) {
            return Ok(());
        }
        self.write_postings(pk, sk, &event.index_keys).await?;
        let deleted = match self.get(pk, sk).await? {
            Some(item) => is_deleted(&serde_dynamo::from_item::<_, EventItem>(item)?.event),
            None => true,
        };
        if deleted {
            self.remove_postings(pk, sk, &event.index_keys).await?;
        }
        Ok(())
    }

    pub(super) async fn write_postings(
        &self,
        pk: &str,
        sk: &str,
        index_keys: &[String],
    ) -> Result<(), StoreError> {
        self.batch_write(postings(pk, sk, index_keys, Posting::Put)?)
            .await
    }

    pub(super) async fn remove_postings(
        &self,
        pk: &str,
        sk: &str,
        index_keys: &[String],
    ) -> Result<(), StoreError> {
        self.batch_write(postings(pk, sk, index_keys, Posting::Delete)?)
            .await
    }

    /// Writes every request, retrying what DynamoDB leaves unprocessed
    /// (throttling) with a doubling backoff; never drops any silently.
    pub(super) async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(WRITE_BATCH) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt == BATCH_ATTEMPTS {
                    return Err(StoreError::Contention(format!(
                        "{} batch writes left unprocessed",
                        pending.len()
                    )));
                }
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                let out = self
                    .db
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }

    /// Messages of `contact` matching every term, newest first.
    #[tracing::instrument(skip(self, search), fields(limit = search.limit))]
    pub async fn search_messages(
        &self,
        tenant: &str,
        contact: &str,
        search: &Search<'_>,
    ) -> Result<SearchPage, StoreError> {
        let event_pk = keys::contact_pk(tenant, contact);
        let postings_pk = keys::search_pk(&event_pk, search.key);
        let mut hits = Vec::new();
        let mut start = search.after.map(|sk| {
            Item::from([
                ("pk".to_string(), s(&postings_pk)),
                ("sk".to_string(), s(sk)),
            ])
        });
        loop {
            let out = self
                .db
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(&postings_pk))
                .scan_index_forward(false)
                .limit(postings_page(search.limit))
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            let candidates: Vec<String> = out
                .items
                .unwrap_or_default()
                .into_iter()
                .filter_map(|mut item| match item.remove("sk") {
                    Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => Some(sk),
                    _ => None,
                })
                .collect();
            let mut events = self.events_by_sk(&event_pk, &candidates).await?;
            let more_postings = out.last_evaluated_key.is_some();
            for (i, sk) in candidates.iter().enumerate() {
                let Some(event) = events.remove(sk) else {
                    continue;
                };
                if let Some(found) = matches(&event, search) {
                    hits.push((event, found));
                }
                if hits.len() == search.limit {
                    let more = i + 1 < candidates.len() || more_postings;
                    return Ok(SearchPage {
                        hits,
                        next: more.then(|| sk.clone()),
                    });
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(SearchPage { hits, next: None }),
            }
        }
    }

    /// The items with these keys (at most 100: one `BatchGetItem`), in no
    /// particular order; keys DynamoDB leaves unprocessed are asked again
    /// with backoff.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        if keys.is_empty() {
            return Ok(found);
        }
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Dynamo(e.to_string()))?,
        );
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            if attempt == BATCH_ATTEMPTS {
                return Err(StoreError::Contention("batch get".into()));
            }
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let out = self
                .db
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table))
                .filter(|left| !left.keys.is_empty());
            attempt += 1;
        }
        Ok(found)
    }

    /// The events of one contact partition with these sort keys.
    async fn events_by_sk(
        &self,
        event_pk: &str,
        sks: &[String],
    ) -> Result<HashMap<String, TimelineEvent>, StoreError> {
        let mut events = HashMap::new();
        if sks.is_empty() {
            return Ok(events);
        }
        let keys: Vec<Item> = sks
            .iter()
            .map(|sk| Item::from([("pk".to_string(), s(event_pk)), ("sk".to_string(), s(sk))]))
            .collect();
        for item in self.batch_get(keys).await? {
            let item: EventItem = serde_dynamo::from_item(item)?;
            events.insert(item.sk, item.event);
        }
        Ok(events)
    }
}

enum Posting {
    Put,
    Delete,
}

/// The requests that put or delete the postings of one event.
fn postings(
    pk: &str,
    sk: &str,
    index_keys: &[String],
    posting: Posting,
) -> Result<Vec<WriteRequest>, StoreError> {
    let built = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Dynamo(e.to_string());
    index_keys
        .iter()
        .map(|key| {
            let (pk, sk) = (s(keys::search_pk(pk, key)), s(sk));
            let request = match posting {
                Posting::Put => WriteRequest::builder().put_request(
                    PutRequest::builder()
                        .item("pk", pk)
                        .item("sk", sk)
                        .build()
                        .map_err(built)?,
                ),
                Posting::Delete => WriteRequest::builder().delete_request(
                    DeleteRequest::builder()
                        .key("pk", pk)
                        .key("sk", sk)
                        .build()
                        .map_err(built)?,
                ),
            };
            Ok(request.build())
        })
        .collect()
}

fn is_deleted(event: &TimelineEvent) -> bool {
    matches!(&event.detail, EventDetail::Message(m) if m.deleted)
}

fn matches(event: &TimelineEvent, search: &Search<'_>) -> Option<Vec<(usize, usize)>> {
    let EventDetail::Message(message) = &event.detail else {
        return None;
    };
    if message.deleted {
        return None;
    }
    let channel_ok =
        search.channels.is_empty() || event.channel.is_some_and(|c| search.channels.contains(&c));
    if !channel_ok {
        return None;
    }
    crate::text::find_all(message.body.as_deref()?, search.terms)
}
