//! Throughput and memory of the bulk events export against the emulators:
//! N events of one business (default 1,000,000, over 5,000 contacts and 7
//! days, so the day index has 7 days of 4 shards) are seeded into DynamoDB
//! Local; then, for the first 100,000 events and for all N, a raw paginated
//! `Query` over the same tenant-day partitions is set against the export
//! worker writing the same events as CSV to moto's S3 (8 MiB parts). The
//! export/raw ratio and the export's peak RSS are the figures that matter
//! (the emulators' absolute speed is not AWS's): the export should reach 70%
//! of the raw rate, and its peak RSS should not grow with the row count.
//! What the export does besides reading is measured apart (its reader
//! alone, its profile lookups, one part upload), so a shortfall can be
//! traced without instrumenting the worker.
//!
//! `make bench` runs it (about 8 minutes on two shared cores, most of it the
//! seed); with the emulators up,
//! `cargo run --release -p devtools --bin bench-export -- [--events N] [--contacts C] [--days D] [--small M]`
//! (or a bare N) chooses the sizes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use devtools::BoxError;
use devtools::clients::LocalClients;
use devtools::provision::provision;
use devtools::template::Template;
use shared::export::upload::{MultipartFile, Target};
use shared::export::worker::{self, JobMessage, Outcome};
use shared::export::{
    Dataset, ExportDeps, ExportFilters, ExportJob, ExportLimits, ExportStatus, Format,
};
use shared::identity::Identity;
use shared::keys;
use shared::model::{
    Author, Booking, Call, Channel, DeliveryStatus, Direction, EventDetail, Message, Payment,
    Provider, TimelineEvent,
};
use shared::store::{AuditEntry, DayEvents, Store, event_item};
use tokio::task::JoinSet;

const TENANT: &str = "bench";
const ADMIN: &str = "bench-admin";
const DEFAULT_EVENTS: usize = 1_000_000;
const DEFAULT_CONTACTS: usize = 5_000;
const DEFAULT_DAYS: u32 = 7;
/// The smaller export, to show that memory does not grow with the rows.
const DEFAULT_SMALL: usize = 100_000;
/// Concurrent `BatchWriteItem` writers, as many as `import_history` runs.
const WRITERS: usize = 8;
/// Concurrent contact creations (a transaction each).
const CONTACT_WRITERS: usize = 8;
/// Items per read of the day index: `DayEvents` reads pages of 500, and the
/// raw read must make as many round trips as the export does.
const DAY_PAGE: i32 = 500;
/// Reads before the timed ones, so DynamoDB Local's JIT is warm for both.
const WARM_UP_ROWS: usize = 20_000;
/// The first event; the seed is spread evenly over `days` days from here.
const START: (i32, u32, u32) = (2026, 10, 5);
const SEED: u64 = 0x5EED_E4B0;
const MB: f64 = 1024.0 * 1024.0;

struct Args {
    events: usize,
    contacts: usize,
    days: u32,
    small: usize,
}

fn args() -> Result<Args, BoxError> {
    let mut parsed = Args {
        events: DEFAULT_EVENTS,
        contacts: DEFAULT_CONTACTS,
        days: DEFAULT_DAYS,
        small: DEFAULT_SMALL,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, BoxError> {
            let raw = args.next().ok_or(format!("{name} needs a number"))?;
            Ok(raw.replace('_', "").parse()?)
        };
        match arg.as_str() {
            "--events" => parsed.events = value("--events")?,
            "--contacts" => parsed.contacts = value("--contacts")?,
            "--days" => parsed.days = u32::try_from(value("--days")?)?,
            "--small" => parsed.small = value("--small")?,
            bare => parsed.events = bare.replace('_', "").parse()?,
        }
    }
    if parsed.events == 0 || parsed.contacts == 0 || parsed.days == 0 {
        return Err("--events, --contacts and --days must be positive".into());
    }
    parsed.small = parsed.small.min(parsed.events);
    Ok(parsed)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = args()?;
    let clients = LocalClients::from_env()?;
    let template = Template::load_default()?;
    let prefix = format!(
        "benche{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let stack = provision(&clients, &template, &prefix).await?;
    let bucket = stack.bucket("BlobBucket")?.to_string();
    let deps = ExportDeps {
        store: Store::new(clients.dynamodb.clone(), &stack.table),
        s3: clients.s3.clone(),
        sqs: clients.sqs.clone(),
        bucket: bucket.clone(),
        queue_url: stack.queue("ExportQueue")?.url.clone(),
        pdf: None,
        limits: ExportLimits::default(),
    };
    let mut keys_written = Vec::new();
    let result = run(&args, &clients, &deps, &stack.table, &mut keys_written).await;
    // Give the shared emulators their memory back, whatever happened: moto
    // holds every exported file in its own memory.
    for key in keys_written {
        if let Err(e) = clients
            .s3
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
        {
            eprintln!("could not delete s3://{bucket}/{key}: {e}");
        }
    }
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

async fn run(
    args: &Args,
    clients: &LocalClients,
    deps: &ExportDeps,
    table: &str,
    keys_written: &mut Vec<String>,
) -> Result<(), BoxError> {
    let plan = Plan::new(args)?;
    let load_before = load_average();
    let seeded = seed(&plan, &deps.store, &clients.dynamodb, table).await?;
    let db = &clients.dynamodb;

    // Not timed: warms DynamoDB Local's query path for whichever runs first.
    raw_read(
        db,
        table,
        plan.at(0),
        plan.at(WARM_UP_ROWS.min(plan.events) - 1),
    )
    .await?;

    let mut results = Vec::new();
    let mut sizes = vec![plan.small];
    if plan.events != plan.small {
        sizes.push(plan.events);
    }
    for (k, rows) in sizes.into_iter().enumerate() {
        let (from, to) = (plan.at(0), plan.at(rows - 1));
        let raw = raw_read(db, table, from, to).await?;
        if raw.rows != rows {
            return Err(format!("raw Query read {} items, want {rows}", raw.rows).into());
        }
        let export = export(deps, from, to, keys_written).await?;
        if export.rows != rows as u64 {
            return Err(format!("the export wrote {} rows, want {rows}", export.rows).into());
        }
        // The export's reader alone, at the smaller size only: at the full
        // size it would add as long again as the raw read to the run.
        let merged = match k {
            0 => Some(merged_read(&deps.store, from, to).await?),
            _ => None,
        };
        results.push((rows, raw, export, merged));
    }
    let lookups = profile_lookups(&deps.store, &seeded.contact_ids).await?;
    let part = part_upload(deps).await?;

    let load_after = load_average();
    println!();
    println!(
        "seed: {} contacts in {:.1} s; {} events over {} days (4 day-index shards each) in {:.1} s = {:.0} events/s",
        plan.contacts,
        seeded.contacts_secs,
        plan.events,
        plan.days,
        seeded.events_secs,
        plan.events as f64 / seeded.events_secs
    );
    println!(
        "      (BatchWriteItem x{WRITERS} of store::event_item items, as import_history writes them; no search postings)"
    );
    println!();
    println!(
        "{:>9} {:>11} {:>13} {:>10} {:>12} {:>14} {:>12} {:>9} {:>6} {:>12}",
        "rows",
        "raw rows/s",
        "export rows/s",
        "export/raw",
        "peak RSS MB",
        "max VmRSS MB",
        "before MB",
        "MB out",
        "parts",
        "merged rows/s"
    );
    for (rows, raw, export, merged) in &results {
        println!(
            "{:>9} {:>11.0} {:>13.0} {:>10.2} {:>12.1} {:>14.1} {:>12.1} {:>9.1} {:>6} {:>12}",
            rows,
            raw.rate(),
            export.rate(),
            export.rate() / raw.rate(),
            export.peak_rss as f64 / MB,
            export.max_sampled_rss as f64 / MB,
            export.rss_before as f64 / MB,
            export.bytes as f64 / MB,
            export.parts,
            merged
                .as_ref()
                .map_or("-".to_string(), |m| format!("{:.0}", m.rate())),
        );
    }
    println!();
    for (rows, raw, export, _) in &results {
        println!(
            "{rows:>9} rows: raw {:.1} s in {} queries; export {:.1} s, of which about {:.1} s profile lookups and {:.1} s part uploads (measured apart, below)",
            raw.elapsed.as_secs_f64(),
            raw.queries,
            export.elapsed.as_secs_f64(),
            lookups.as_secs_f64(),
            part.as_secs_f64() * export.parts as f64,
        );
    }
    println!(
        "profile lookups: {} profiles by Store::profiles (100 per BatchGetItem) = {:.1} s ({:.2} ms each); the export reads each contact's once (up to 10,000 kept)",
        seeded.contact_ids.len(),
        lookups.as_secs_f64(),
        lookups.as_secs_f64() * 1000.0 / seeded.contact_ids.len() as f64
    );
    println!(
        "part upload: MultipartFile::send_part of {} MiB to moto = {:.2} s each (the worker reads nothing meanwhile)",
        ExportLimits::default().part_bytes >> 20,
        part.as_secs_f64()
    );
    println!(
        "\nraw = paginated SDK Query on gsi3 over the same tenant-day shards and sort-key range, Limit {DAY_PAGE}, one request at a time, items only counted"
    );
    println!(
        "export = shared::export::worker::run of an events CSV job (lease, profile lookups, CSV, {} MiB parts to moto S3, progress saved per part)",
        ExportLimits::default().part_bytes >> 20
    );
    println!(
        "merged = store::DayEvents alone over the same range, smaller size only (reads, item decoding, merging the 4 shards; no profiles, CSV or upload)"
    );
    println!(
        "peak RSS = this process's VmHWM over the export alone (reset through /proc/self/clear_refs before it); max VmRSS = sampled every 10 ms; before = VmRSS when it started"
    );
    println!(
        "moto keeps the uploaded parts in memory in its own process: that is not counted here"
    );
    println!(
        "load average (1 min) at start {load_before}, at end {load_after}: whatever else runs on this machine competes with the emulators for the same cores"
    );
    Ok(())
}

/// Where every event goes: event `i` of `events` is a pure function of `i`,
/// so any range's bounds are known without keeping the events.
#[derive(Clone)]
struct Plan {
    events: usize,
    contacts: usize,
    days: u32,
    small: usize,
    start: DateTime<Utc>,
    /// Milliseconds between consecutive slots; each event is somewhere in
    /// its own slot, so instants are distinct and in order.
    step_ms: i64,
}

impl Plan {
    fn new(args: &Args) -> Result<Self, BoxError> {
        let (y, m, d) = START;
        let start = Utc
            .with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .ok_or("bad start date")?;
        let span_ms = i64::from(args.days) * 86_400_000;
        let step_ms = span_ms / i64::try_from(args.events)?;
        if step_ms < 1 {
            return Err("more than one event per millisecond: use more --days".into());
        }
        Ok(Self {
            events: args.events,
            contacts: args.contacts,
            days: args.days,
            small: args.small,
            start,
            step_ms,
        })
    }

    fn rng(&self, i: usize) -> Rng {
        Rng(SEED ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn at(&self, i: usize) -> DateTime<Utc> {
        let jitter = self.rng(i).below(self.step_ms as u64) as i64;
        self.start + chrono::Duration::milliseconds(i as i64 * self.step_ms + jitter)
    }

    /// Event `i` and the index of its contact.
    fn event(&self, i: usize) -> (usize, TimelineEvent) {
        let at = self.at(i);
        let mut rng = self.rng(i);
        rng.next(); // the jitter's draw
        let contact = rng.below(self.contacts as u64) as usize;
        let (channel, provider, detail) = detail(&mut rng, i, at);
        let event = TimelineEvent {
            event_id: ulid::Ulid::from_parts(at.timestamp_millis() as u64, u128::from(rng.next()))
                .to_string(),
            contact_id: String::new(),
            occurred_at: at,
            recorded_at: at + chrono::Duration::seconds(1),
            channel,
            provider: Some(provider),
            provider_ref: Some(format!("bench-{i}")),
            detail,
        };
        (contact, event)
    }
}

struct Seeded {
    contact_ids: Vec<String>,
    contacts_secs: f64,
    events_secs: f64,
}

async fn seed(
    plan: &Plan,
    store: &Store,
    db: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Seeded, BoxError> {
    let started = Instant::now();
    let identities: Vec<Identity> = (0..plan.contacts)
        .map(|c| Identity::phone(&format!("+447700{:06}", 900_000 + c), None))
        .collect::<Result<_, _>>()?;
    let mut contact_ids = vec![String::new(); plan.contacts];
    let mut creating = JoinSet::new();
    for (c, identity) in identities.iter().enumerate() {
        if creating.len() >= CONTACT_WRITERS
            && let Some(done) = creating.join_next().await
        {
            let (c, id): (usize, String) = done??;
            contact_ids[c] = id;
        }
        let (store, identity) = (store.clone(), identity.clone());
        let first_seen = plan.start;
        creating.spawn(async move {
            let name = customer_name(c);
            let id = store
                .resolve_contact(TENANT, &identity, Some(&name), first_seen)
                .await?;
            Ok::<_, shared::store::StoreError>((c, id))
        });
    }
    while let Some(done) = creating.join_next().await {
        let (c, id) = done??;
        contact_ids[c] = id;
    }
    let contacts_secs = started.elapsed().as_secs_f64();
    eprintln!("seeded {} contacts in {contacts_secs:.1} s", plan.contacts);

    // Events are made as they are written (batch b goes to writer b % WRITERS),
    // so the seed holds a few batches, not a million events, and the export
    // starts from a small RSS.
    let started = Instant::now();
    let shared_plan = Arc::new(plan.clone());
    let contacts = Arc::new((contact_ids.clone(), identities));
    let written = Arc::new(AtomicUsize::new(0));
    let batches = plan.events.div_ceil(25);
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let (plan, contacts, written) = (shared_plan.clone(), contacts.clone(), written.clone());
        let (db, table) = (db.clone(), table.to_string());
        writers.spawn(async move {
            for b in (w..batches).step_by(WRITERS) {
                let mut requests = Vec::with_capacity(25);
                for i in b * 25..((b + 1) * 25).min(plan.events) {
                    let (c, mut event) = plan.event(i);
                    event.contact_id = contacts.0[c].clone();
                    let item = event_item(TENANT, event, contacts.1[c].clone())?;
                    let put = PutRequest::builder().set_item(Some(item)).build()?;
                    requests.push(WriteRequest::builder().put_request(put).build());
                }
                let n = requests.len();
                batch_write(&db, &table, requests).await?;
                written.fetch_add(n, Ordering::Relaxed);
            }
            Ok::<(), BoxError>(())
        });
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(15));
    ticker.tick().await;
    loop {
        tokio::select! {
            done = writers.join_next() => match done {
                Some(done) => done??,
                None => break,
            },
            _ = ticker.tick() => {
                let n = written.load(Ordering::Relaxed);
                eprintln!(
                    "seeded {n} of {} events ({:.0} events/s)",
                    plan.events,
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let events_secs = started.elapsed().as_secs_f64();
    eprintln!("seeded {} events in {events_secs:.1} s", plan.events);
    Ok(Seeded {
        contact_ids,
        contacts_secs,
        events_secs,
    })
}

/// Writes one batch, retrying what DynamoDB Local leaves unprocessed.
async fn batch_write(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    mut pending: Vec<WriteRequest>,
) -> Result<(), BoxError> {
    for attempt in 0..10 {
        if pending.is_empty() {
            return Ok(());
        }
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
        }
        let out = db
            .batch_write_item()
            .request_items(table, pending)
            .send()
            .await?;
        pending = out
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
    }
    Err(format!("{} writes left unprocessed", pending.len()).into())
}

struct Read {
    rows: usize,
    queries: usize,
    elapsed: Duration,
}

impl Read {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Every item of the events from `from` to `to` (inclusive) straight from
/// the day index: the 4 shards of each day, page after page.
async fn raw_read(
    db: &aws_sdk_dynamodb::Client,
    table: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Read, BoxError> {
    let lower = format!("{}{}", keys::EVENT_SK_PREFIX, keys::instant(from));
    let upper = format!("{}{}#~", keys::EVENT_SK_PREFIX, keys::instant(to));
    let (mut rows, mut queries) = (0, 0);
    let started = Instant::now();
    for day in days(from.date_naive(), to.date_naive()) {
        for shard in 0..keys::DAY_SHARDS {
            let mut start = None;
            loop {
                let out = db
                    .query()
                    .table_name(table)
                    .index_name("gsi3")
                    .key_condition_expression("gsi3pk = :pk AND gsi3sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(
                        ":pk",
                        AttributeValue::S(keys::tenant_day_shard_pk(TENANT, day, shard)),
                    )
                    .expression_attribute_values(":lo", AttributeValue::S(lower.clone()))
                    .expression_attribute_values(":hi", AttributeValue::S(upper.clone()))
                    .limit(DAY_PAGE)
                    .set_exclusive_start_key(start)
                    .send()
                    .await?;
                queries += 1;
                rows += out.items.map_or(0, |items| items.len());
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
    }
    Ok(Read {
        rows,
        queries,
        elapsed: started.elapsed(),
    })
}

/// The export's own reader alone over the same range: where the export's
/// time goes that is not CSV, profiles or uploads.
async fn merged_read(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Read, BoxError> {
    let upper = format!("{}{}#~", keys::EVENT_SK_PREFIX, keys::instant(to));
    let types = shared::export::BULK_EVENT_TYPES.map(String::from).to_vec();
    let mut after = Some(format!("{}{}", keys::EVENT_SK_PREFIX, keys::instant(from)));
    let mut rows = 0;
    let started = Instant::now();
    for day in days(from.date_naive(), to.date_naive()) {
        let mut reader = DayEvents::new(
            TENANT,
            day,
            after.take(),
            upper.clone(),
            Vec::new(),
            types.clone(),
        );
        while reader.next(store).await?.is_some() {
            rows += 1;
        }
    }
    Ok(Read {
        rows,
        queries: 0,
        elapsed: started.elapsed(),
    })
}

/// What the export spends on profiles: `Store::profiles` over every
/// contact, 100 to a `BatchGetItem`, as the export reads those of each page
/// of events.
async fn profile_lookups(store: &Store, contacts: &[String]) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let found = store.profiles(TENANT, contacts).await?;
    if found.len() != contacts.len() {
        return Err(format!("{} of {} profiles found", found.len(), contacts.len()).into());
    }
    Ok(started.elapsed())
}

/// What one part costs the export: the worker's own `send_part` of a full
/// part, averaged over a few, on an upload given up after.
async fn part_upload(deps: &ExportDeps) -> Result<Duration, BoxError> {
    const PARTS: u32 = 3;
    let target = Target {
        bucket: deps.bucket.clone(),
        key: format!("exports/{TENANT}/part-probe.csv"),
        content_type: Format::Csv.content_type().into(),
        file_name: "part-probe.csv".into(),
    };
    let part_bytes = deps.limits.part_bytes;
    let mut file = MultipartFile::new(deps.s3.clone(), target, part_bytes);
    let line = b"\"01JBENCH\",\"Hi! Do you have anything for a haircut on Monday?\"\r\n";
    let mut spent = Duration::ZERO;
    let mut result = Ok(());
    for _ in 0..PARTS {
        while !file.part_ready() {
            file.push(line);
        }
        let started = Instant::now();
        result = file.send_part().await;
        spent += started.elapsed();
        if result.is_err() {
            break;
        }
    }
    file.abort().await?;
    result?;
    Ok(spent / PARTS)
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

struct Exported {
    rows: u64,
    bytes: u64,
    parts: u64,
    elapsed: Duration,
    rss_before: u64,
    peak_rss: u64,
    max_sampled_rss: u64,
}

impl Exported {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// One events CSV job over `from..=to`, created as the API creates it and
/// run by the worker as one delivery of its message.
async fn export(
    deps: &ExportDeps,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    keys_written: &mut Vec<String>,
) -> Result<Exported, BoxError> {
    let job = ExportJob {
        export_id: ulid::Ulid::new().to_string(),
        dataset: Dataset::Events,
        format: Format::Csv,
        contact_id: None,
        filters: ExportFilters {
            from: Some(from),
            to: Some(to),
            ..ExportFilters::default()
        },
        requested_by: ADMIN.into(),
        requested_at: Utc::now(),
        status: ExportStatus::Queued,
        error: None,
        finished_at: None,
        progress: Default::default(),
    };
    let audit = AuditEntry::by(
        ADMIN,
        "export_requested",
        format!("events csv export {} (bench)", job.export_id),
    );
    deps.store
        .create_export(TENANT, &job, chrono::Duration::days(7), audit)
        .await?;
    keys_written.push(job.object_key(TENANT));
    let message = JobMessage {
        tenant: TENANT.into(),
        export_id: job.export_id.clone(),
    };
    // The export may take as long as it takes: no continuation.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);

    // Linux: "5" resets VmHWM to the current RSS, so the peak read after is
    // the export's own (the seed's allocations are behind us).
    std::fs::write("/proc/self/clear_refs", "5")
        .map_err(|e| format!("resetting the peak RSS: {e}"))?;
    let rss_before = proc_status("VmRSS")?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut max = 0;
            while !stop.load(Ordering::Relaxed) {
                max = max.max(proc_status("VmRSS").unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            max
        })
    };
    let started = Instant::now();
    let outcome = worker::run(deps, &message, deadline, 1).await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak_rss = proc_status("VmHWM")?;
    let max_sampled_rss = sampler.await?;
    let outcome = outcome?;
    if outcome != Outcome::Done {
        return Err(format!("the export ended {outcome:?}").into());
    }
    let done = deps
        .store
        .export_job(TENANT, &job.export_id)
        .await?
        .ok_or("the export job is gone")?;
    let stored = deps
        .s3
        .head_object()
        .bucket(&deps.bucket)
        .key(job.object_key(TENANT))
        .send()
        .await?;
    if stored.content_length() != i64::try_from(done.progress.bytes).ok() {
        return Err(format!(
            "the file has {:?} bytes, the job says {}",
            stored.content_length(),
            done.progress.bytes
        )
        .into());
    }
    Ok(Exported {
        rows: done.progress.rows,
        bytes: done.progress.bytes,
        // The saved ETags stop at the last part before the end: the last part
        // is sent by `finish`, which saves nothing.
        parts: done
            .progress
            .bytes
            .div_ceil(deps.limits.part_bytes as u64)
            .max(1),
        elapsed,
        rss_before,
        peak_rss,
        max_sampled_rss,
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A `kB` line of /proc/self/status, in bytes.
fn proc_status(field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?
        .trim()
        .parse::<u64>()?;
    Ok(kb * 1024)
}

/// SplitMix64: a deterministic seed without a dependency.
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

const FIRST_NAMES: &[&str] = &[
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Priya", "Mohammed",
    "Zofia", "Chen", "Aoife", "Kwame", "Lucía", "Sven",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Patel", "Williams", "Brown", "Khan", "Nowak", "Wang", "Murphy", "Mensah",
    "García", "Larsen", "Taylor", "Davies", "Evans", "O'Brien",
];
const SERVICES: &[&str] = &[
    "haircut",
    "colour",
    "highlights",
    "blow-dry",
    "trim",
    "keratin treatment",
    "root touch-up",
    "balayage",
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

fn customer_name(c: usize) -> String {
    format!(
        "{} {}",
        FIRST_NAMES[c % FIRST_NAMES.len()],
        LAST_NAMES[(c / FIRST_NAMES.len()) % LAST_NAMES.len()]
    )
}

/// About twenty words, as customers write on WhatsApp and SMS.
fn inbound_body(rng: &mut Rng) -> String {
    let (service, day, time) = (rng.pick(SERVICES), rng.pick(DAYS), rng.pick(TIMES));
    let stylist = rng.pick(STYLISTS);
    match rng.below(8) {
        0 => format!(
            "Hi! Do you have anything for a {service} on {day}? Ideally after work, so around {time} if {stylist} is free."
        ),
        1 => format!(
            "Could I move my {service} to {day} at {time}? Something came up at work, really sorry for the short notice."
        ),
        2 => format!(
            "Thanks so much, my {service} looks great! {stylist} was lovely as always, I'll book again in six weeks."
        ),
        3 => format!(
            "How much is a {service} with {stylist}, and roughly how long does it take? I need to arrange childcare."
        ),
        4 => format!(
            "Running about {} minutes late, the traffic on the high street is awful. Is that still okay for my {service}?",
            5 + rng.below(20)
        ),
        5 => format!(
            "Is {stylist} working on {day}? My friend recommended her for a {service} and I'd love to try it."
        ),
        6 => format!(
            "Can I bring my daughter for a {service} too on {day}? She's eight, so nothing fancy, just a tidy up."
        ),
        _ => format!(
            "Perfect, {day} at {time} works for me. Do I need to pay a deposit now or on the day itself?"
        ),
    }
}

fn outbound_body(rng: &mut Rng) -> String {
    let (service, day, time) = (rng.pick(SERVICES), rng.pick(DAYS), rng.pick(TIMES));
    let stylist = rng.pick(STYLISTS);
    match rng.below(6) {
        0 => format!(
            "Hi! {stylist} can do {day} at {time} for your {service}. Shall I pop you in? Just reply yes to confirm."
        ),
        1 => format!(
            "Yes, a {service} is £{} and takes about an hour. Would you like me to book it for you this week?",
            35 + 5 * rng.below(20)
        ),
        2 => format!(
            "No problem at all, see you at {time} then. Let us know if anything changes, we're open until seven."
        ),
        3 => format!(
            "Reminder: your {service} with {stylist} is on {day} at {time}. Reply C to cancel or R to rearrange, thank you!"
        ),
        4 => format!(
            "Thanks for coming in today! How are you finding the {service}? We'd love a quick review if you have a minute."
        ),
        _ => format!(
            "We've had a cancellation on {day} at {time} for a {service} with {stylist}, would you like it? First come first served!"
        ),
    }
}

/// 94% messages (two thirds WhatsApp, a third SMS), the rest calls,
/// bookings and payments.
fn detail(rng: &mut Rng, i: usize, at: DateTime<Utc>) -> (Option<Channel>, Provider, EventDetail) {
    let roll = rng.below(100);
    if roll < 94 {
        let (channel, provider) = if rng.percent(66) {
            (Channel::Whatsapp, Provider::Whatsapp)
        } else {
            (Channel::Sms, Provider::TwilioSms)
        };
        let message = if rng.percent(55) {
            Message::inbound(Some(inbound_body(rng)), Vec::new())
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
                ..Message::outbound(author, Some(outbound_body(rng)), Vec::new())
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
            booking_id: format!("bk_bench_{i}"),
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
            payment_id: format!("pi_bench_{i}"),
            status: "succeeded".into(),
            amount_minor: 100 * (35 + 5 * rng.below(20) as i64),
            currency: "gbp".into(),
            refunded_minor: None,
            description: Some(service.to_string()),
        });
        (None, Provider::Stripe, detail)
    }
}
