//! Read latency of the query API against DynamoDB Local: one contact of 100
//! events and one of 100,000 (loaded with `Store::import_history`), each read
//! through the local gateway (JWT check, payload-2.0 event, the real `api`
//! handler) as the first timeline page, a channel-filtered page, a message
//! search for a word only a few old messages hold, and the metrics read.
//! Each figure is set against one raw `Query` of 50 items on the same
//! partition: the ratio is the figure that matters (the emulator's absolute
//! speed is not AWS's).
//!
//! `make bench` runs it; `cargo run --release -p devtools --bin bench-query -- N`
//! with the emulators up uses N events for the large contact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use devtools::BoxError;
use devtools::clients::LocalClients;
use devtools::gateway::{Functions, Gateway};
use devtools::provision::provision;
use devtools::template::Template;
use devtools::tokens::DevTokens;
use http::StatusCode;
use serde_json::Value;
use shared::identity::Identity;
use shared::keys;
use shared::model::{
    Author, Booking, Call, Channel, DeliveryStatus, Direction, EventDetail, Message, Payment,
    Provider, TimelineEvent,
};
use shared::store::Store;

const TENANT: &str = "bench";
const SMALL: usize = 100;
const LARGE: usize = 100_000;
const PAGE: usize = 50;
/// The search term: only the `RARE` oldest inbound messages hold it, so a
/// search that read messages would read the whole history (the word index
/// reads only those).
const RARE_WORD: &str = "balayage";
const RARE: usize = 5;
/// Iterations per measurement: as many as fit in `BUDGET`, within bounds.
const MAX_ITERATIONS: usize = 200;
const MIN_ITERATIONS: usize = 5;
const BUDGET: Duration = Duration::from_secs(30);
const WARM_UPS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let large: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(LARGE);
    let clients = LocalClients::from_env()?;
    let template = Template::load_default()?;
    let prefix = format!(
        "benchq{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let stack = provision(&clients, &template, &prefix).await?;
    let functions = Arc::new(Functions::new(&clients, &template, &stack, None, None).await?);
    let gateway = Gateway::new(template.routes(), functions.clone(), DevTokens::random());
    let token = gateway.tokens().mint(TENANT, "bench-admin", "admin")?;
    let bench = Bench {
        gateway,
        token,
        db: clients.dynamodb.clone(),
        table: stack.table.clone(),
    };
    let result = run(&bench, &functions.store, large).await;
    // Give the shared emulator its memory back, whatever happened.
    if let Err(e) = clients
        .dynamodb
        .delete_table()
        .table_name(&stack.table)
        .send()
        .await
    {
        eprintln!("could not delete table {}: {e}", stack.table);
    }
    result
}

async fn run(bench: &Bench, store: &Store, large: usize) -> Result<(), BoxError> {
    let contacts = [
        seed(store, SMALL, "+447700900101", 1).await?,
        seed(store, large, "+447700900102", 2).await?,
    ];
    let ops = [
        Op::Timeline,
        Op::ChannelPage,
        Op::Search,
        Op::Metrics,
        Op::RawQuery,
    ];
    let mut rows = Vec::new();
    for seeded in &contacts {
        let mut samples = Vec::new();
        for op in ops {
            samples.push((op, bench.measure(op, seeded).await?));
        }
        let raw_p50 = samples
            .iter()
            .find(|(op, _)| matches!(op, Op::RawQuery))
            .map(|(_, s)| s.p50)
            .ok_or("no raw query sample")?;
        for (op, sample) in samples {
            rows.push((op, seeded.events, sample, raw_p50));
        }
    }
    println!();
    println!(
        "{:<30} {:>8} {:>6} {:>5} {:>9} {:>9} {:>8}",
        "operation", "events", "items", "N", "p50 ms", "p99 ms", "p50/raw"
    );
    for (op, events, sample, raw_p50) in rows {
        println!(
            "{:<30} {:>8} {:>6} {:>5} {:>9.2} {:>9.2} {:>8.1}",
            op.label(),
            events,
            sample.items.map_or("-".to_string(), |n| n.to_string()),
            sample.n,
            ms(sample.p50),
            ms(sample.p99),
            sample.p50.as_secs_f64() / raw_p50.as_secs_f64()
        );
    }
    println!(
        "\nraw = one SDK Query (pk = contact, begins_with(sk, \"EV#\"), newest first, Limit 50) on the same partition"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A seeded contact and what its reads must return.
struct Seeded {
    contact: String,
    events: usize,
    messages: usize,
    /// Search-index postings the messages' words make.
    postings: usize,
    sms: usize,
    rare: usize,
    newest: String,
}

async fn seed(store: &Store, n: usize, phone: &str, seed: u64) -> Result<Seeded, BoxError> {
    let identity = Identity::phone(phone, None)?;
    let events = history(n, seed)?;
    let first_seen = events
        .first()
        .map(|e| e.occurred_at)
        .ok_or("no events generated")?;
    let contact = store
        .resolve_contact(TENANT, &identity, Some("Bench Customer"), first_seen)
        .await?;
    let mut seeded = Seeded {
        contact: contact.clone(),
        events: n,
        messages: 0,
        postings: 0,
        sms: 0,
        rare: 0,
        newest: events
            .last()
            .map(|e| e.event_id.clone())
            .ok_or("no events generated")?,
    };
    let mut batch = Vec::with_capacity(n);
    for mut event in events {
        if let EventDetail::Message(m) = &event.detail {
            seeded.messages += 1;
            let body = m.body.as_deref().unwrap_or_default();
            seeded.postings += shared::text::index_keys(body).len();
            if body.contains(RARE_WORD) {
                seeded.rare += 1;
            }
        }
        if event.channel == Some(Channel::Sms) {
            seeded.sms += 1;
        }
        event.contact_id = contact.clone();
        batch.push((event, identity.clone()));
    }
    let started = Instant::now();
    let written = store.import_history(TENANT, &contact, batch).await?;
    let secs = started.elapsed().as_secs_f64();
    if written != n {
        return Err(format!("imported {written} of {n} events").into());
    }
    println!(
        "loaded {n:>7} events ({} messages, {} search postings, {} sms, {} with '{RARE_WORD}') in {secs:>6.1} s = {:>6.0} events/s (import_history: BatchWriteItem x8, postings, metrics rebuild)",
        seeded.messages,
        seeded.postings,
        seeded.sms,
        seeded.rare,
        n as f64 / secs
    );
    Ok(seeded)
}

#[derive(Clone, Copy)]
enum Op {
    Timeline,
    ChannelPage,
    Search,
    Metrics,
    RawQuery,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Timeline => "timeline?limit=50",
            Op::ChannelPage => "timeline?limit=50&channels=sms",
            Op::Search => "messages?q=balayage",
            Op::Metrics => "metrics",
            Op::RawQuery => "raw Query, 50 items",
        }
    }

    fn path(self, contact: &str) -> Option<String> {
        match self {
            Op::Timeline => Some(format!("/contacts/{contact}/timeline?limit={PAGE}")),
            Op::ChannelPage => Some(format!(
                "/contacts/{contact}/timeline?limit={PAGE}&channels=sms"
            )),
            Op::Search => Some(format!("/contacts/{contact}/messages?q={RARE_WORD}")),
            Op::Metrics => Some(format!("/contacts/{contact}/metrics")),
            Op::RawQuery => None,
        }
    }

    /// What a correct answer looks like (a wrong one stops the bench); how
    /// many items it listed.
    fn check(self, seeded: &Seeded, body: &Value) -> Result<Option<usize>, String> {
        let items = || {
            body["items"]
                .as_array()
                .ok_or_else(|| format!("no items in {body}"))
        };
        match self {
            Op::Timeline => {
                let items = items()?;
                if items.len() != PAGE {
                    return Err(format!("{} items, want {PAGE}", items.len()));
                }
                if items[0]["event_id"] != seeded.newest.as_str() {
                    return Err(format!("first item {} is not the newest", items[0]));
                }
                Ok(Some(items.len()))
            }
            Op::ChannelPage => {
                let items = items()?;
                let want = seeded.sms.min(PAGE);
                if items.len() != want || items.iter().any(|e| e["channel"] != "sms") {
                    return Err(format!("{} items, want {want} sms only", items.len()));
                }
                Ok(Some(items.len()))
            }
            Op::Search => {
                let items = items()?;
                let marked = items.iter().all(|e| {
                    e["matches"].as_array().is_some_and(|m| !m.is_empty())
                        && e["body"]
                            .as_str()
                            .is_some_and(|b| b.to_lowercase().contains(RARE_WORD))
                });
                if items.len() != seeded.rare || !marked {
                    return Err(format!(
                        "{} matches, want {} marked matches",
                        items.len(),
                        seeded.rare
                    ));
                }
                Ok(Some(items.len()))
            }
            Op::Metrics => {
                if body["messages_total"].as_u64() != u64::try_from(seeded.messages).ok() {
                    return Err(format!(
                        "messages_total {}, want {}",
                        body["messages_total"], seeded.messages
                    ));
                }
                Ok(None)
            }
            Op::RawQuery => Ok(Some(PAGE)),
        }
    }
}

struct Sample {
    n: usize,
    /// Items each answer listed (the same every time).
    items: Option<usize>,
    p50: Duration,
    p99: Duration,
}

struct Bench {
    gateway: Gateway,
    token: String,
    db: aws_sdk_dynamodb::Client,
    table: String,
}

impl Bench {
    /// Warm-up calls (the first one sizes N), then N timed calls in a row.
    async fn measure(&self, op: Op, seeded: &Seeded) -> Result<Sample, BoxError> {
        let (estimate, items) = self.once(op, seeded).await?;
        if estimate < Duration::from_millis(200) {
            for _ in 1..WARM_UPS {
                self.once(op, seeded).await?;
            }
        }
        let n = usize::try_from(BUDGET.as_nanos() / estimate.as_nanos().max(1))
            .unwrap_or(MAX_ITERATIONS)
            .clamp(MIN_ITERATIONS, MAX_ITERATIONS);
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            times.push(self.once(op, seeded).await?.0);
        }
        times.sort();
        Ok(Sample {
            n,
            items,
            p50: percentile(&times, 0.50),
            p99: percentile(&times, 0.99),
        })
    }

    /// One call, timed; its answer checked outside the timing.
    async fn once(&self, op: Op, seeded: &Seeded) -> Result<(Duration, Option<usize>), BoxError> {
        let Some(path) = op.path(&seeded.contact) else {
            return self.raw_query(seeded).await;
        };
        let request = http::Request::get(&path)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .body(Bytes::new())?;
        let started = Instant::now();
        let response = self.gateway.handle(request).await;
        let elapsed = started.elapsed();
        if response.status() != StatusCode::OK {
            return Err(format!(
                "GET {path} answered {}: {}",
                response.status(),
                String::from_utf8_lossy(response.body())
            )
            .into());
        }
        let body: Value = serde_json::from_slice(response.body())?;
        let items = op
            .check(seeded, &body)
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok((elapsed, items))
    }

    async fn raw_query(&self, seeded: &Seeded) -> Result<(Duration, Option<usize>), BoxError> {
        let started = Instant::now();
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :ev)")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(keys::contact_pk(TENANT, &seeded.contact)),
            )
            .expression_attribute_values(":ev", AttributeValue::S(keys::EVENT_SK_PREFIX.into()))
            .scan_index_forward(false)
            .limit(PAGE as i32)
            .send()
            .await?;
        let elapsed = started.elapsed();
        let count = out.items.map_or(0, |items| items.len());
        if count != PAGE {
            return Err(format!("raw Query returned {count} items, want {PAGE}").into());
        }
        Ok((elapsed, Some(count)))
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// SplitMix64: a deterministic history without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

const SERVICES: &[&str] = &[
    "haircut",
    "colour",
    "highlights",
    "blow-dry",
    "trim",
    "keratin treatment",
    "root touch-up",
    "fringe trim",
    "gloss",
    "cut and finish",
];
const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const TIMES: &[&str] = &["9:30", "10:00", "11:15", "12:30", "2pm", "3:45", "5pm"];
const STYLISTS: &[&str] = &["Sam", "Priya", "Jo", "Marta", "Leo"];
const RELATIVES: &[&str] = &["daughter", "mum", "sister", "partner"];

fn inbound_body(rng: &mut Rng) -> String {
    let (service, day, time) = (rng.pick(SERVICES), rng.pick(DAYS), rng.pick(TIMES));
    let stylist = rng.pick(STYLISTS);
    match rng.below(8) {
        0 => format!("Hi! Do you have anything for a {service} on {day}?"),
        1 => format!("Could I move my {service} to {day} at {time}?"),
        2 => format!("Thanks so much, my {service} looks great"),
        3 => format!("How much is a {service} with {stylist}?"),
        4 => format!("Running about {} minutes late, sorry!", 5 + rng.below(20)),
        5 => format!("Is {stylist} working on {day}?"),
        6 => format!(
            "Can I bring my {} for a {service} too?",
            rng.pick(RELATIVES)
        ),
        _ => format!("Perfect, {day} at {time} works for me"),
    }
}

fn outbound_body(rng: &mut Rng) -> String {
    let (service, day, time) = (rng.pick(SERVICES), rng.pick(DAYS), rng.pick(TIMES));
    let stylist = rng.pick(STYLISTS);
    match rng.below(6) {
        0 => format!("{stylist} can do {day} at {time} for your {service}."),
        1 => format!(
            "Yes, a {service} is £{}. Shall I book it?",
            35 + 5 * rng.below(20)
        ),
        2 => format!("No problem, see you at {time}."),
        3 => format!("Reminder: your {service} with {stylist} is on {day} at {time}."),
        4 => format!("Thanks for coming in! How are you finding the {service}?"),
        _ => format!("We have a cancellation on {day} at {time} if you'd like it."),
    }
}

/// `n` events oldest first, ending 2026-11-20: ~94% messages on WhatsApp,
/// SMS, Instagram and email in runs of inbound and outbound, the rest calls,
/// bookings and payments. The `RARE` oldest inbound messages ask about
/// balayage; nothing else mentions it.
fn history(n: usize, seed: u64) -> Result<Vec<TimelineEvent>, BoxError> {
    let mut rng = Rng(seed);
    let end: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 11, 20, 18, 0, 0)
        .single()
        .ok_or("bad end date")?;
    let mut instants = Vec::with_capacity(n);
    let mut at = end;
    for _ in 0..n {
        instants.push(at);
        // 1 to 180 minutes apart, plus a few seconds so instants differ.
        at -= chrono::Duration::seconds((60 + rng.below(179 * 60)) as i64);
    }
    instants.reverse();
    let mut events = Vec::with_capacity(n);
    let mut outbound_last = true;
    let mut rare_left = RARE;
    for (k, at) in instants.into_iter().enumerate() {
        let roll = rng.below(100);
        let (channel, provider, detail) = if roll < 94 {
            let (channel, provider) = match rng.below(20) {
                0..=8 => (Channel::Whatsapp, Provider::Whatsapp),
                9..=12 => (Channel::Sms, Provider::TwilioSms),
                13..=16 => (Channel::Instagram, Provider::Instagram),
                _ => (Channel::Email, Provider::Ses),
            };
            let inbound = rng.percent(if outbound_last { 85 } else { 40 });
            outbound_last = !inbound;
            let message = if inbound {
                let body = if rare_left > 0 {
                    rare_left -= 1;
                    format!(
                        "Do you do {RARE_WORD} on dark hair? A friend of mine had it done with {}",
                        rng.pick(STYLISTS)
                    )
                } else {
                    inbound_body(&mut rng)
                };
                Message::inbound(Some(body), Vec::new())
            } else {
                let author = if rng.percent(30) {
                    Author::Ai
                } else {
                    Author::Human {
                        user_id: Some(format!("stylist-{}", rng.below(5))),
                    }
                };
                let status = if rng.percent(70) {
                    DeliveryStatus::Read
                } else {
                    DeliveryStatus::Delivered
                };
                Message {
                    status: Some(status),
                    ..Message::outbound(author, Some(outbound_body(&mut rng)), Vec::new())
                }
            };
            (Some(channel), provider, EventDetail::Message(message))
        } else if roll < 96 {
            let detail = EventDetail::Call(Call {
                direction: if rng.percent(60) {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                status: "completed".into(),
                duration_secs: Some(30 + rng.below(600) as u32),
                recording_url: None,
            });
            (Some(Channel::Phone), Provider::TwilioVoice, detail)
        } else if roll < 98 {
            let detail = EventDetail::Booking(Booking {
                booking_id: format!("bk_bench_{seed}_{k}"),
                status: "accepted".into(),
                service: Some(rng.pick(SERVICES).to_string()),
                starts_at: Some(at + chrono::Duration::days(3)),
                ends_at: Some(at + chrono::Duration::days(3) + chrono::Duration::hours(1)),
                replaces_booking_id: None,
            });
            (None, Provider::Calcom, detail)
        } else {
            let service = rng.pick(SERVICES);
            let detail = EventDetail::Payment(Payment {
                payment_id: format!("pi_bench_{seed}_{k}"),
                status: "succeeded".into(),
                amount_minor: 100 * (35 + 5 * rng.below(20) as i64),
                currency: "gbp".into(),
                refunded_minor: None,
                description: Some(service.to_string()),
            });
            (None, Provider::Stripe, detail)
        };
        events.push(TimelineEvent {
            event_id: ulid::Ulid::from_datetime(at.into()).to_string(),
            // Set to the contact once it exists.
            contact_id: String::new(),
            occurred_at: at,
            recorded_at: Utc::now(),
            channel,
            provider: Some(provider),
            provider_ref: Some(format!("bench-{seed}-{k}")),
            detail,
        });
    }
    Ok(events)
}
