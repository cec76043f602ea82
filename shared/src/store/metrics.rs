//! The `METRICS` item of a contact: counters (see `crate::metrics`) changed
//! in the same transaction as each stored message, under a version so two
//! messages of one contact stored at once cannot both apply a delta computed
//! from the same neighbours. It also keeps the history's tail (`tail_sk`, and
//! `run_sk`/`run_at` while the latest messages are unanswered), so a message
//! that arrives in order reads no other message, whatever the history.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::merge::MERGED_INTO;
use super::{Attempt, Item, Store, StoreError, optimistic, s};
use crate::keys;
use crate::metrics::{self, History, MetricCounters, Placed, Scan, Tail, Turn};
use crate::model::{Channel, Direction};

pub const METRICS_SK: &str = "METRICS";
const VERSION: &str = "version";
const LAST_MESSAGE_AT: &str = "last_message_at";
/// Sort key of the latest message.
const TAIL_SK: &str = "tail_sk";
/// The first message of the unanswered run at the end, and its instant.
const RUN_SK: &str = "run_sk";
const RUN_AT: &str = "run_at";

/// What the metrics item holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredMetrics {
    pub counters: MetricCounters,
    pub last_message_at: Option<DateTime<Utc>>,
    tail: Option<Tail>,
    version: u64,
    /// Set once the contact is merged away (see `merge`).
    merged: bool,
}

impl StoredMetrics {
    fn from_item(item: Item) -> Self {
        let mut stored = StoredMetrics::default();
        let (mut tail_sk, mut run_sk, mut run_at) = (None, None, None);
        for (name, value) in item {
            match (name.as_str(), value) {
                (VERSION, AttributeValue::N(n)) => stored.version = n.parse().unwrap_or(0),
                (MERGED_INTO, _) => stored.merged = true,
                (LAST_MESSAGE_AT, AttributeValue::S(at)) => stored.last_message_at = instant(&at),
                (TAIL_SK, AttributeValue::S(sk)) => tail_sk = Some(sk),
                (RUN_SK, AttributeValue::S(sk)) => run_sk = Some(sk),
                (RUN_AT, AttributeValue::S(at)) => run_at = instant(&at),
                (_, AttributeValue::N(n)) => {
                    if let Ok(n) = n.parse() {
                        stored.counters.insert(name, n);
                    }
                }
                _ => {}
            }
        }
        stored.counters.retain(|_, n| *n != 0);
        stored.tail = tail_sk.map(|last_sk| Tail {
            last_sk,
            open_run: run_sk.zip(run_at).map(|(sk, at)| Placed {
                sk,
                turn: Turn {
                    at,
                    direction: Direction::Inbound,
                },
            }),
        });
        stored
    }

    /// True when some message was counted (the item may predate tails).
    fn has_messages(&self) -> bool {
        ["messages_in", "messages_out"]
            .iter()
            .any(|name| self.counters.get(*name).is_some_and(|n| *n > 0))
    }
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The tail's attributes: `SET` for those it has, `REMOVE` for the others.
fn tail_attributes(
    tail: Option<&Tail>,
) -> (Vec<(&'static str, AttributeValue)>, Vec<&'static str>) {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    match tail {
        Some(tail) => set.push((TAIL_SK, s(&tail.last_sk))),
        None => remove.push(TAIL_SK),
    }
    match tail.and_then(|t| t.open_run.as_ref()) {
        Some(run) => {
            set.push((RUN_SK, s(&run.sk)));
            set.push((RUN_AT, s(keys::instant(run.turn.at))));
        }
        None => remove.extend([RUN_SK, RUN_AT]),
    }
    (set, remove)
}

/// One contact's stored messages, as the metrics read them.
struct ContactHistory<'a> {
    store: &'a Store,
    tenant: &'a str,
    contact: &'a str,
}

impl History for ContactHistory<'_> {
    type Error = StoreError;

    async fn scan(&self, sk: &str, scan: &mut Scan) -> Result<(), StoreError> {
        let forward = scan.is_forward();
        let (low, high) = if forward {
            (sk, keys::EVENT_SK_END)
        } else {
            (keys::EVENT_SK_PREFIX, sk)
        };
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .store
                .message_query(self.tenant, self.contact, low, high)
                .scan_index_forward(forward)
                .limit(scan.page_size())
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                let facts: MessageFacts = serde_dynamo::from_item(item)?;
                // The range is inclusive; the new message is not stored yet.
                if facts.sk == sk {
                    continue;
                }
                if !scan.take(facts.placed()) {
                    return Ok(());
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => {
                    scan.exhausted();
                    return Ok(());
                }
            }
        }
    }
}

/// The attributes of a stored message that the metrics read.
#[derive(Deserialize)]
struct MessageFacts {
    sk: String,
    occurred_at: DateTime<Utc>,
    direction: Direction,
    channel: Channel,
}

impl MessageFacts {
    fn turn(&self) -> Turn {
        Turn {
            at: self.occurred_at,
            direction: self.direction,
        }
    }

    fn placed(&self) -> Placed {
        Placed {
            sk: self.sk.clone(),
            turn: self.turn(),
        }
    }
}

impl Store {
    /// The contact's metrics item; `None` when it never had a message or
    /// was merged away.
    pub async fn stored_metrics(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<StoredMetrics>, StoreError> {
        Ok(self
            .metrics_item(tenant, contact)
            .await?
            .filter(|m| !m.merged))
    }

    async fn metrics_item(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Option<StoredMetrics>, StoreError> {
        Ok(self
            .get(&keys::contact_pk(tenant, contact), METRICS_SK)
            .await?
            .map(StoredMetrics::from_item))
    }

    pub async fn metric_counters(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<MetricCounters, StoreError> {
        Ok(self
            .stored_metrics(tenant, contact)
            .await?
            .map(|m| m.counters)
            .unwrap_or_default())
    }

    /// The write that applies one new message (event sort key `sk`) to the
    /// metrics; part of the transaction that stores the message.
    pub(super) async fn metrics_for_new_message(
        &self,
        tenant: &str,
        contact: &str,
        sk: &str,
        turn: Turn,
        channel: Channel,
    ) -> Result<TransactWriteItem, StoreError> {
        let current = self
            .metrics_item(tenant, contact)
            .await?
            .unwrap_or_default();
        if current.merged {
            // The message goes where the merge took the contact's identities.
            return Err(StoreError::Merged(contact.to_string()));
        }
        let history = ContactHistory {
            store: self,
            tenant,
            contact,
        };
        let tail = match &current.tail {
            Some(tail) => Some(tail.clone()),
            // An item from before tails: read back once to the last reply.
            None if current.has_messages() => {
                metrics::tail_from_history(&history, keys::EVENT_SK_END).await?
            }
            None => None,
        };
        let new = Placed {
            sk: sk.to_string(),
            turn,
        };
        let insertion = metrics::insertion(
            &history,
            tail.as_ref(),
            &new,
            channel,
            metrics::MAX_NEIGHBOURS,
        )
        .await?;
        if !insertion.exact {
            tracing::info!(
                "a late message next to a long unanswered run: reply delays left unchanged"
            );
        }
        let delta = insertion.delta;
        let last = current
            .last_message_at
            .map_or(turn.at, |last| last.max(turn.at));
        let pk = keys::contact_pk(tenant, contact);
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(METRICS_SK));
        let mut adds = Vec::new();
        for (i, name) in delta.keys().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            update = update.expression_attribute_names(format!("#c{i}"), name);
        }
        let (tail_set, tail_remove) = tail_attributes(Some(&insertion.tail));
        let mut expression = String::from("SET version = :next, #last = :last");
        for (name, _) in &tail_set {
            expression.push_str(&format!(", {name} = :{name}"));
        }
        if !tail_remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", tail_remove.join(", ")));
        }
        if !adds.is_empty() {
            expression.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        let (condition, values) = version_condition(current.version);
        let update = update
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(
                values
                    .into_iter()
                    .flatten()
                    .chain([
                        (":next".to_string(), n(current.version + 1)),
                        (":last".to_string(), s(keys::instant(last))),
                    ])
                    .chain(
                        tail_set
                            .into_iter()
                            .map(|(name, value)| (format!(":{name}"), value)),
                    )
                    .chain(
                        delta
                            .values()
                            .enumerate()
                            .map(|(i, v)| (format!(":c{i}"), n(*v))),
                    )
                    .collect(),
            ))
            .expression_attribute_names("#last", LAST_MESSAGE_AT)
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Recomputes a contact's metrics from its whole message history: after
    /// a merge or a split moved events in or out.
    #[tracing::instrument(skip(self))]
    pub async fn rebuild_metrics(&self, tenant: &str, contact: &str) -> Result<(), StoreError> {
        let pk = keys::contact_pk(tenant, contact);
        let pk = &pk;
        optimistic(
            || pk.clone(),
            || async move {
                let current = self
                    .metrics_item(tenant, contact)
                    .await?
                    .unwrap_or_default();
                if current.merged {
                    // Nothing is left to count, and the merge record must stay.
                    return Ok(Attempt::Done(()));
                }
                let history = self.message_facts(tenant, contact).await?;
                let pairs: Vec<(Turn, Channel)> =
                    history.iter().map(|m| (m.turn(), m.channel)).collect();
                let mut item: Item = metrics::counters_from_history(&pairs)
                    .into_iter()
                    .map(|(name, value)| (name, n(value)))
                    .collect();
                item.insert("pk".into(), s(pk.as_str()));
                item.insert("sk".into(), s(METRICS_SK));
                item.insert(VERSION.into(), n(current.version + 1));
                if let Some(last) = history.iter().map(|m| m.occurred_at).max() {
                    item.insert(LAST_MESSAGE_AT.into(), s(keys::instant(last)));
                }
                let placed: Vec<Placed> = history.iter().map(MessageFacts::placed).collect();
                let (tail, _) = tail_attributes(Tail::of_history(&placed).as_ref());
                item.extend(
                    tail.into_iter()
                        .map(|(name, value)| (name.to_string(), value)),
                );
                let (condition, values) = version_condition(current.version);
                self.write_one(self.put_if(item, condition, values)?).await
            },
        )
        .await
    }

    /// Every message of a contact, in time order.
    async fn message_facts(
        &self,
        tenant: &str,
        contact: &str,
    ) -> Result<Vec<MessageFacts>, StoreError> {
        let mut facts = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .message_query(tenant, contact, keys::EVENT_SK_PREFIX, keys::EVENT_SK_END)
                .set_exclusive_start_key(start.take())
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                facts.push(serde_dynamo::from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(facts),
            }
        }
    }

    fn message_query(
        &self,
        tenant: &str,
        contact: &str,
        low: &str,
        high: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.db
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .filter_expression("#type = :message")
            .projection_expression("sk, occurred_at, #direction, #channel")
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#direction", "direction")
            .expression_attribute_names("#channel", "channel")
            .expression_attribute_values(":pk", s(keys::contact_pk(tenant, contact)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .expression_attribute_values(":message", s("message"))
    }
}

/// Writes expect the version they read; an item written before versions
/// existed counts as version 0.
fn version_condition(read: u64) -> (&'static str, Option<Item>) {
    if read == 0 {
        ("attribute_not_exists(version)", None)
    } else {
        (
            "version = :read",
            Some(Item::from([(":read".into(), n(read))])),
        )
    }
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
