//! The rows of an export, page by page, each with the cursor a resumed job
//! restarts after: a conversation's events (CSV or TXT), the business's
//! events by day (bulk CSV), or one analytics row per contact.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::csv::{self as rows, Cell, ContactColumns};
use super::document::{Entry, channel_label, local_time, money};
use super::{Dataset, ExportFilters, Format};
use crate::keys;
use crate::model::{Channel, EventDetail, TimelineEvent};
use crate::store::{ContactProfile, DayEvents, Store, StoreError, TimelineQuery};

/// One encoded row and the position after it.
pub struct Row {
    pub bytes: Vec<u8>,
    pub cursor: String,
}

/// Events of one conversation read per page.
const CONVERSATION_PAGE: usize = 200;
/// Events per page of the bulk export: their contacts' profiles are read
/// together.
const EVENTS_PAGE: usize = 500;
/// Contacts per page of the analytics export.
const CONTACTS_PAGE: usize = 50;
/// Profiles remembered for the bulk export's name and stage columns; the
/// map is emptied when full, so memory stays bounded whatever the export.
const PROFILE_CACHE: usize = 10_000;

/// The types a conversation export shows.
pub fn conversation_types(format: Format, include_notes: bool) -> Vec<String> {
    let mut types = vec!["message".to_string()];
    if format != Format::Csv {
        types.extend(["call", "booking", "payment"].map(String::from));
    }
    if include_notes {
        types.push("note".into());
    }
    types
}

pub enum Source {
    Conversation {
        contact: String,
        format: Format,
        types: Vec<String>,
        columns: ContactColumns,
        after: Option<String>,
        done: bool,
    },
    Events {
        day: Option<DayEvents>,
        last_day: NaiveDate,
        upper: String,
        profiles: HashMap<String, Option<ContactProfile>>,
    },
    Contacts {
        after: Option<(String, String)>,
        done: bool,
    },
}

pub struct SourceContext<'a> {
    pub store: &'a Store,
    pub tenant: &'a str,
    pub tz: Tz,
    pub filters: &'a ExportFilters,
    pub now: DateTime<Utc>,
}

impl Source {
    /// The source of `dataset` positioned after `cursor` (from a saved
    /// progress), or at its start.
    pub fn new(
        dataset: Dataset,
        format: Format,
        contact: Option<&ContactProfile>,
        filters: &ExportFilters,
        tenant: &str,
        cursor: Option<String>,
    ) -> Self {
        match dataset {
            Dataset::Conversation => Source::Conversation {
                contact: contact.map(|c| c.contact_id.clone()).unwrap_or_default(),
                format,
                types: conversation_types(format, filters.include_notes),
                columns: ContactColumns {
                    name: contact.and_then(|c| c.display_name.clone()),
                    stage: contact.and_then(|c| c.stage.clone()),
                },
                after: cursor,
                done: false,
            },
            Dataset::Events => {
                let from = filters.from.unwrap_or(DateTime::UNIX_EPOCH);
                let to = filters.to.unwrap_or(from);
                let upper = format!("{}{}#~", keys::EVENT_SK_PREFIX, keys::instant(to));
                let (first_day, after) = match cursor {
                    Some(sk) => (day_of_sort_key(&sk).unwrap_or(from.date_naive()), sk),
                    // Just below the first instant: everything from it on.
                    None => (
                        from.date_naive(),
                        format!("{}{}", keys::EVENT_SK_PREFIX, keys::instant(from)),
                    ),
                };
                let day = DayEvents::new(
                    tenant,
                    first_day,
                    Some(after),
                    upper.clone(),
                    filters.channels.clone(),
                    event_types(filters),
                );
                Source::Events {
                    day: Some(day),
                    last_day: to.date_naive(),
                    upper,
                    profiles: HashMap::new(),
                }
            }
            Dataset::Contacts => Source::Contacts {
                after: cursor.and_then(|c| serde_json::from_str(&c).ok()),
                done: false,
            },
        }
    }

    /// The next rows, or `None` when the export is complete.
    pub async fn next_page(
        &mut self,
        ctx: &SourceContext<'_>,
    ) -> Result<Option<Vec<Row>>, StoreError> {
        match self {
            Source::Conversation {
                contact,
                format,
                types,
                columns,
                after,
                done,
            } => {
                if *done {
                    return Ok(None);
                }
                let query = TimelineQuery {
                    limit: CONVERSATION_PAGE,
                    after: after.as_deref(),
                    oldest_first: true,
                    from: ctx.filters.from,
                    to: ctx.filters.to,
                    types,
                    channels: &ctx.filters.channels,
                };
                let page = ctx.store.timeline_page(ctx.tenant, contact, &query).await?;
                let mut out = Vec::with_capacity(page.events.len());
                for event in &page.events {
                    let cursor = keys::event_sk(event.occurred_at, &event.event_id);
                    let bytes = match format {
                        Format::Csv => rows::event_record(event, columns, ctx.tz),
                        Format::Txt | Format::Pdf => {
                            match Entry::from_event(event, ctx.tz, ctx.filters.include_notes) {
                                Some(entry) => format!("\n{}", entry.to_text()).into_bytes(),
                                None => Vec::new(),
                            }
                        }
                    };
                    out.push(Row { bytes, cursor });
                }
                *done = page.next.is_none();
                *after = page.next;
                Ok(Some(out))
            }
            Source::Events {
                day,
                last_day,
                upper,
                profiles,
            } => {
                let mut page = Vec::new();
                while page.len() < EVENTS_PAGE {
                    let Some(reader) = day.as_mut() else {
                        break;
                    };
                    match reader.next(ctx.store).await? {
                        Some(found) => page.push(found),
                        None => {
                            let next = reader.day() + Duration::days(1);
                            *day = (next <= *last_day).then(|| {
                                DayEvents::new(
                                    ctx.tenant,
                                    next,
                                    None,
                                    upper.clone(),
                                    ctx.filters.channels.clone(),
                                    event_types(ctx.filters),
                                )
                            });
                        }
                    }
                }
                load_profiles(ctx, profiles, page.iter().map(|(_, e)| &e.contact_id)).await?;
                let out: Vec<Row> = page
                    .into_iter()
                    .map(|(sk, event)| {
                        let profile = profiles.get(&event.contact_id).and_then(Option::as_ref);
                        let wanted = ctx.filters.stage.as_ref().is_none_or(|stage| {
                            profile.is_some_and(|p| p.stage.as_ref() == Some(stage))
                        });
                        // A row left out still moves the cursor on.
                        let bytes = if wanted {
                            let columns = ContactColumns {
                                name: profile.and_then(|p| p.display_name.clone()),
                                stage: profile.and_then(|p| p.stage.clone()),
                            };
                            rows::event_record(&event, &columns, ctx.tz)
                        } else {
                            Vec::new()
                        };
                        Row { bytes, cursor: sk }
                    })
                    .collect();
                if out.is_empty() && day.is_none() {
                    return Ok(None);
                }
                Ok(Some(out))
            }
            Source::Contacts { after, done } => {
                if *done {
                    return Ok(None);
                }
                let page = ctx
                    .store
                    .contacts_by_activity(ctx.tenant, CONTACTS_PAGE, after.clone())
                    .await?;
                let mut out = Vec::new();
                let from = ctx.filters.from.unwrap_or(DateTime::UNIX_EPOCH);
                for profile in &page.contacts {
                    let position = (
                        keys::contacts_by_activity_sk(
                            profile.last_activity_at,
                            &profile.contact_id,
                        ),
                        profile.contact_id.clone(),
                    );
                    let cursor = serde_json::to_string(&position).unwrap_or_default();
                    // Newest activity first: nobody further on was active
                    // (so first seen) within the range.
                    if profile.last_activity_at < from {
                        *done = true;
                        break;
                    }
                    let wanted_stage = ctx
                        .filters
                        .stage
                        .as_ref()
                        .is_none_or(|s| profile.stage.as_ref() == Some(s));
                    let bytes = if wanted_stage {
                        contact_record(ctx, profile).await?.unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    out.push(Row { bytes, cursor });
                }
                *after = page.next;
                *done |= after.is_none();
                Ok(Some(out))
            }
        }
    }
}

/// The day of an event sort key (`EV#2026-10-21T...`).
fn day_of_sort_key(sk: &str) -> Option<NaiveDate> {
    let date = sk.strip_prefix(keys::EVENT_SK_PREFIX)?.get(..10)?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// What a bulk export reads when no types are asked for (notes only on request).
pub const BULK_EVENT_TYPES: [&str; 6] = [
    "message",
    "call",
    "booking",
    "payment",
    "stage_change",
    "identity_link",
];

/// The event types a bulk export reads: as asked, notes only when asked.
fn event_types(filters: &ExportFilters) -> Vec<String> {
    let mut types = filters.event_types.clone();
    if types.is_empty() {
        types = BULK_EVENT_TYPES.map(String::from).to_vec();
        if filters.include_notes {
            types.push("note".into());
        }
    } else if !filters.include_notes {
        types.retain(|t| t != "note");
    }
    types
}

/// Loads into `profiles` those of `contacts` it does not hold yet, in
/// batches (one `BatchGetItem` per 100 contacts); a contact that no longer
/// exists is remembered as `None`.
async fn load_profiles<'a>(
    ctx: &SourceContext<'_>,
    profiles: &mut HashMap<String, Option<ContactProfile>>,
    contacts: impl Iterator<Item = &'a String>,
) -> Result<(), StoreError> {
    let missing: Vec<String> = contacts
        .filter(|c| !profiles.contains_key(*c))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if profiles.len() + missing.len() > PROFILE_CACHE {
        profiles.clear();
    }
    for profile in ctx.store.profiles(ctx.tenant, &missing).await? {
        profiles.insert(profile.contact_id.clone(), Some(profile));
    }
    for contact in missing {
        profiles.entry(contact).or_insert(None);
    }
    Ok(())
}

/// The columns of the analytics export, as docs/exports.md documents them.
pub const CONTACT_COLUMNS: [&str; 20] = [
    "contact_id",
    "name",
    "stage",
    "first_touch_at_local",
    "first_touch_at_utc",
    "first_touch_channel",
    "first_touch_source",
    "last_activity_at_local",
    "messages_total",
    "messages_in",
    "messages_out",
    "preferred_channel",
    "median_response_seconds",
    "engagement_score",
    "touchpoints_before_first_booking",
    "days_to_first_booking",
    "bookings",
    "payments_total",
    "currency",
    "first_booked_service",
];

/// What one pass over a contact's timeline finds, for the analytics row.
#[derive(Default)]
struct ContactFacts {
    first: Option<(DateTime<Utc>, Option<Channel>)>,
    source: Option<String>,
    first_booking: Option<(DateTime<Utc>, Option<String>)>,
    touchpoints: u64,
    bookings: u64,
    paid_minor: HashMap<String, i64>,
}

impl ContactFacts {
    /// The same definitions as the journey (`crate::journey`).
    fn add(&mut self, event: &TimelineEvent) {
        if self.first.is_none() {
            self.first = Some((event.occurred_at, event.channel));
        }
        match &event.detail {
            EventDetail::Message(m) => {
                if self.source.is_none()
                    && let Some(source) = &m.source
                {
                    self.source = Some(
                        source
                            .utm_source
                            .clone()
                            .or_else(|| source.referrer.clone())
                            .unwrap_or_else(|| source.kind.clone()),
                    );
                }
            }
            EventDetail::Booking(b) => {
                if self.first_booking.is_none() {
                    self.first_booking = Some((event.occurred_at, b.service.clone()));
                }
                if b.status != "cancelled" {
                    self.bookings += 1;
                }
            }
            EventDetail::Payment(p) => {
                let net = match p.status.as_str() {
                    "succeeded" => p.amount_minor,
                    "partially_refunded" | "refunded" => {
                        p.amount_minor - p.refunded_minor.unwrap_or(p.amount_minor)
                    }
                    _ => 0,
                };
                *self
                    .paid_minor
                    .entry(p.currency.to_ascii_uppercase())
                    .or_default() += net;
            }
            EventDetail::Call(_)
            | EventDetail::Note(_)
            | EventDetail::StageChange(_)
            | EventDetail::IdentityLink(_) => {}
        }
        if self.first_booking.is_none() {
            self.touchpoints += 1;
        }
    }
}

/// One contact's analytics row, or `None` when it was first seen outside
/// the range.
async fn contact_record(
    ctx: &SourceContext<'_>,
    profile: &ContactProfile,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut facts = ContactFacts::default();
    let mut after: Option<String> = None;
    loop {
        let query = TimelineQuery {
            limit: CONVERSATION_PAGE,
            after: after.as_deref(),
            oldest_first: true,
            ..TimelineQuery::default()
        };
        let page = ctx
            .store
            .timeline_page(ctx.tenant, &profile.contact_id, &query)
            .await?;
        if facts.first.is_none()
            && let Some(first) = page.events.first()
        {
            let in_range = ctx.filters.from.is_none_or(|f| first.occurred_at >= f)
                && ctx.filters.to.is_none_or(|t| first.occurred_at <= t);
            if !in_range {
                return Ok(None);
            }
        }
        for event in &page.events {
            facts.add(event);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let Some((first_at, first_channel)) = facts.first else {
        return Ok(None);
    };
    let stored = ctx
        .store
        .stored_metrics(ctx.tenant, &profile.contact_id)
        .await?;
    let (counters, last_message) = match stored {
        Some(m) => (m.counters, m.last_message_at),
        None => (Default::default(), None),
    };
    let metrics = crate::metrics::metrics(&counters, last_message, ctx.now);
    // One currency is a total; several cannot be added up.
    let (paid, currency) = match facts.paid_minor.len() {
        0 => (None, None),
        1 => facts
            .paid_minor
            .iter()
            .next()
            .map(|(c, v)| (Some(money(*v, c)), Some(c.clone())))
            .unwrap_or_default(),
        _ => (None, Some("MIXED".to_string())),
    };
    let booking_days = facts
        .first_booking
        .as_ref()
        .map(|(at, _)| format!("{:.1}", (*at - first_at).num_seconds() as f64 / 86_400.0));
    let first_service = facts.first_booking.as_ref().and_then(|(_, s)| s.clone());
    let cells = vec![
        Cell::text(profile.contact_id.as_str()),
        opt(profile.display_name.as_deref()),
        opt(profile.stage.as_deref()),
        Cell::text(local_time(first_at, ctx.tz)),
        Cell::text(first_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        opt(first_channel.map(channel_label)),
        opt(facts.source.as_deref()),
        Cell::text(local_time(profile.last_activity_at, ctx.tz)),
        Cell::number(metrics.messages_total),
        Cell::number(metrics.messages_in),
        Cell::number(metrics.messages_out),
        opt(metrics.preferred_channel.as_deref()),
        opt_number(
            metrics
                .response_time
                .median_seconds
                .map(|s| format!("{s:.0}")),
        ),
        Cell::number(metrics.engagement_score),
        opt_number(facts.first_booking.as_ref().map(|_| facts.touchpoints)),
        opt_number(booking_days),
        Cell::number(facts.bookings),
        opt_number(paid),
        opt(currency.as_deref()),
        opt(first_service.as_deref()),
    ];
    Ok(Some(rows::record(&cells)))
}

fn opt(value: Option<&str>) -> Cell<'_> {
    value.map_or(Cell::Empty, Cell::text)
}

fn opt_number(value: Option<impl ToString>) -> Cell<'static> {
    value.map_or(Cell::Empty, Cell::number)
}
