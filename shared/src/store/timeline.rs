//! Reading a contact's timeline: pages in UTC order, optionally limited to a
//! time range, event types and channels. A channel filter reads the
//! per-channel index (GSI2), so it never reads other channels' events.

use chrono::{DateTime, Utc};

use super::events::{EventItem, TimelinePage};
use super::{Item, Store, StoreError, page_query_limit, s};
use crate::keys;
use crate::model::Channel;

#[derive(Debug, Clone, Default)]
pub struct TimelineQuery<'a> {
    pub limit: usize,
    /// The `next` of the previous page.
    pub after: Option<&'a str>,
    pub oldest_first: bool,
    /// Inclusive bounds on the event's UTC instant.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Event types (`message`, `call`, ...); empty means all.
    pub types: &'a [String],
    /// Empty means all channels (and events without one).
    pub channels: &'a [Channel],
}

impl Store {
    /// One page of a contact's timeline, newest first unless `oldest_first`.
    pub async fn timeline(
        &self,
        tenant: &str,
        contact: &str,
        limit: usize,
        after: Option<&str>,
        oldest_first: bool,
    ) -> Result<TimelinePage, StoreError> {
        let query = TimelineQuery {
            limit,
            after,
            oldest_first,
            ..TimelineQuery::default()
        };
        self.timeline_page(tenant, contact, &query).await
    }

    #[tracing::instrument(skip(self))]
    pub async fn timeline_page(
        &self,
        tenant: &str,
        contact: &str,
        query: &TimelineQuery<'_>,
    ) -> Result<TimelinePage, StoreError> {
        let mut items = Vec::new();
        let mut more = false;
        if query.channels.is_empty() {
            let (found, rest) = self.read_source(tenant, contact, None, query).await?;
            items = found;
            more = rest;
        } else {
            for channel in query.channels {
                let (found, rest) = self
                    .read_source(tenant, contact, Some(*channel), query)
                    .await?;
                items.extend(found);
                more |= rest;
            }
            items.sort_by(|a, b| a.sk.cmp(&b.sk));
            if !query.oldest_first {
                items.reverse();
            }
        }
        if items.len() > query.limit {
            items.truncate(query.limit);
            more = true;
        }
        let next = more.then(|| items.last()).flatten().map(|e| e.sk.clone());
        Ok(TimelinePage {
            events: items.into_iter().map(|e| e.event).collect(),
            next,
        })
    }

    /// Up to `limit + 1` matching events from the table (or one channel's
    /// index), and whether more may follow.
    async fn read_source(
        &self,
        tenant: &str,
        contact: &str,
        channel: Option<Channel>,
        query: &TimelineQuery<'_>,
    ) -> Result<(Vec<EventItem>, bool), StoreError> {
        let pk = keys::contact_pk(tenant, contact);
        let (index, pk_name, sk_name, partition) = match channel {
            Some(c) => (
                Some("gsi2"),
                "gsi2pk",
                "gsi2sk",
                keys::contact_channel_pk(tenant, contact, c),
            ),
            None => (None, "pk", "sk", pk.clone()),
        };
        let lower = match query.from {
            Some(from) => format!("{}{}", keys::EVENT_SK_PREFIX, keys::instant(from)),
            None => keys::EVENT_SK_PREFIX.to_string(),
        };
        // '~' sorts after every ULID character: the whole `to` millisecond.
        let upper = match query.to {
            Some(to) => format!("{}{}#~", keys::EVENT_SK_PREFIX, keys::instant(to)),
            None => format!("{}~", keys::EVENT_SK_PREFIX),
        };
        // A cursor is a position; the range may lie on either side of it.
        // In reading order, a range wholly after it is read from its start,
        // one wholly before it holds nothing more (and DynamoDB refuses a
        // start key outside the key condition).
        let after = match query.after {
            Some(sk) if sk < lower.as_str() => {
                if query.oldest_first {
                    None
                } else {
                    return Ok((Vec::new(), false));
                }
            }
            Some(sk) if sk > upper.as_str() => {
                if query.oldest_first {
                    return Ok((Vec::new(), false));
                } else {
                    None
                }
            }
            other => other,
        };
        let mut start = after.map(|sk| {
            let mut key =
                Item::from([("pk".to_string(), s(pk.clone())), ("sk".to_string(), s(sk))]);
            if channel.is_some() {
                key.insert("gsi2pk".into(), s(partition.clone()));
                key.insert("gsi2sk".into(), s(sk));
            }
            key
        });
        let mut found = Vec::new();
        loop {
            let mut request = self
                .db
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":pk", s(partition.clone()))
                .expression_attribute_values(":lo", s(lower.clone()))
                .expression_attribute_values(":hi", s(upper.clone()))
                .scan_index_forward(query.oldest_first)
                .limit(page_query_limit(query.limit - found.len()))
                .set_exclusive_start_key(start.take());
            if !query.types.is_empty() {
                let names: Vec<String> = (0..query.types.len()).map(|i| format!(":t{i}")).collect();
                request = request
                    .filter_expression(format!("#type IN ({})", names.join(", ")))
                    .expression_attribute_names("#type", "type");
                for (name, value) in names.iter().zip(query.types) {
                    request = request.expression_attribute_values(name, s(value));
                }
            }
            let out = request.send().await?;
            for item in out.items.unwrap_or_default() {
                found.push(serde_dynamo::from_item::<_, EventItem>(item)?);
            }
            match out.last_evaluated_key {
                // A type filter can leave a page short: read on until full.
                Some(key) if found.len() <= query.limit => start = Some(key),
                Some(_) => return Ok((found, true)),
                None => return Ok((found, false)),
            }
        }
    }
}
