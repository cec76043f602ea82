//! The export worker: takes a job off the export queue, claims it, streams
//! its rows into an S3 upload and records the outcome.
//!
//! Nothing is lost and nothing is doubled: a job is claimed under a lease
//! before any work, so a duplicated or redelivered message finds it held (or
//! finished) and stops; after each uploaded part the cursor and part count
//! are saved under that lease, so a worker that crashed or timed out is
//! resumed by the redelivery from its last part; the file only becomes
//! visible when the upload completes, and a completed upload whose job was
//! not yet marked done is found by its key. A worker near its deadline
//! saves, queues a continuation of the job and stops.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::csv as rows;
use super::document::{Document, Entry, local_time};
use super::job::Progress;
use super::sources::{CONTACT_COLUMNS, Source, SourceContext};
use super::upload::{self, MIN_PART_BYTES, MultipartFile, Target, UploadError};
use super::{Dataset, ExportFilters, ExportJob, Format, PdfRender};
use crate::store::{ContactProfile, Store, StoreError, TenantSettings};

/// Most entries a PDF holds; longer conversations export as CSV or TXT, or
/// over a shorter period. Time, memory and size grow with the entry count:
/// 5,000 chat messages in mixed scripts took 0.63 s, 270 MB peak memory and
/// made 252 pages (2.6 MB) in a release build on 2 x86_64 cores
/// (`EXPORT_PDF_BENCH_ENTRIES=5000 cargo bench -p export-pdf`); the export
/// function has 1,024 MB.
pub const MAX_PDF_ENTRIES: usize = 5_000;

#[derive(Debug, Clone)]
pub struct ExportLimits {
    /// Bytes per uploaded part (S3 takes 5 MiB to 5 GiB, 10,000 parts).
    pub part_bytes: usize,
    /// How long a claim holds: longer than the function's timeout, shorter
    /// than the queue's visibility timeout.
    pub lease: Duration,
    /// Stop and continue in a new invocation this long before the deadline.
    pub margin: Duration,
    /// After this many deliveries a failing job is marked failed (the
    /// queue's `maxReceiveCount` then moves the message to its DLQ).
    pub max_receives: u32,
}

impl Default for ExportLimits {
    fn default() -> Self {
        Self {
            part_bytes: 8 << 20,
            lease: Duration::from_secs(16 * 60),
            margin: Duration::from_secs(60),
            max_receives: 5,
        }
    }
}

pub struct ExportDeps {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bucket: String,
    pub queue_url: String,
    /// `None` where PDF rendering is not linked in: PDF jobs then fail.
    pub pdf: Option<Arc<dyn PdfRender>>,
    pub limits: ExportLimits,
}

impl ExportDeps {
    pub fn from_settings(
        clients: &crate::aws::AwsClients,
        settings: &crate::config::Settings,
        pdf: Option<Arc<dyn PdfRender>>,
    ) -> Result<Self, crate::config::SettingsError> {
        Ok(Self {
            store: Store::from_settings(clients, settings)?,
            s3: clients.s3.clone(),
            sqs: clients.sqs.clone(),
            bucket: settings.required(crate::config::EXPORT_BUCKET)?.to_string(),
            queue_url: settings
                .required(crate::config::EXPORT_QUEUE_URL)?
                .to_string(),
            pdf,
            limits: ExportLimits::default(),
        })
    }
}

/// What the export queue carries: which job, nothing of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub tenant: String,
    pub export_id: String,
}

/// Puts a job on the export queue.
pub async fn enqueue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    message: &JobMessage,
) -> Result<(), String> {
    let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("continuing the export: {0}")]
    Queue(String),
    /// The job cannot succeed; the text is shown to the admin.
    #[error("{0}")]
    Refused(String),
}

impl ExportError {
    /// Retrying cannot help.
    fn is_permanent(&self) -> bool {
        matches!(
            self,
            ExportError::Refused(_) | ExportError::Upload(UploadError::TooLarge)
        )
    }
}

/// What became of one delivery of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    /// Another worker holds the job; it finishes it.
    Busy,
    /// Finished already, or no such job (expired): nothing to do.
    Gone,
    /// Saved near the deadline; a continuation is queued.
    Continued,
}

enum Produced {
    Finished(Progress),
    Paused,
    LostLease,
}

/// Runs every job of the batch (the queue's batch size is 1; more work too,
/// one after the other); a job that failed for a reason worth retrying is
/// reported back for redelivery.
pub async fn handle_batch(
    deps: &ExportDeps,
    event: SqsEvent,
    deadline: tokio::time::Instant,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let Some(message) = record
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<JobMessage>(b).ok())
        else {
            tracing::error!(message_id = %id, "not an export job message: dropped");
            continue;
        };
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        match run(deps, &message, deadline, receives).await {
            Ok(outcome) => {
                tracing::info!(export = %message.export_id, ?outcome, "export job handled");
            }
            Err(e) => {
                tracing::warn!(export = %message.export_id, error = %e, "export job will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

/// One delivery of a job.
pub async fn run(
    deps: &ExportDeps,
    message: &JobMessage,
    deadline: tokio::time::Instant,
    receives: u32,
) -> Result<Outcome, ExportError> {
    let (tenant, id) = (message.tenant.as_str(), message.export_id.as_str());
    let store = &deps.store;
    let owner = Ulid::new().to_string();
    let now = Utc::now();
    let lease = chrono::Duration::from_std(deps.limits.lease).unwrap_or_default();
    let Some(job) = store
        .claim_export(tenant, id, &owner, now, now + lease)
        .await?
    else {
        return Ok(match store.export_job(tenant, id).await? {
            Some(job) if job.status.is_open() => Outcome::Busy,
            _ => Outcome::Gone,
        });
    };
    let target = Target {
        bucket: deps.bucket.clone(),
        key: job.object_key(tenant),
        content_type: job.format.content_type().to_string(),
        file_name: job.file_name(),
    };
    let worker = Worker {
        deps,
        tenant,
        job: &job,
        owner: &owner,
        target: &target,
        deadline,
    };
    match worker.produce().await {
        Ok(Produced::Finished(progress)) => {
            store
                .finish_export(tenant, id, &owner, Ok(&progress))
                .await?;
            Ok(Outcome::Done)
        }
        Ok(Produced::Paused) => {
            // Released first: a continuation that found the job still held
            // would be dropped as a duplicate. If queueing it fails, this
            // delivery's retry continues instead.
            store.release_export(tenant, id, &owner).await?;
            enqueue(&deps.sqs, &deps.queue_url, message)
                .await
                .map_err(ExportError::Queue)?;
            Ok(Outcome::Continued)
        }
        Ok(Produced::LostLease) => Ok(Outcome::Busy),
        Err(ExportError::Upload(UploadError::UploadGone)) => {
            // Its upload was aborted (the lifecycle rule, after a day): the
            // retry starts over.
            let lease_until = Utc::now() + lease;
            store
                .save_export_progress(tenant, id, &owner, &Progress::default(), lease_until)
                .await?;
            store.release_export(tenant, id, &owner).await?;
            Err(ExportError::Upload(UploadError::UploadGone))
        }
        Err(e) if e.is_permanent() || receives >= deps.limits.max_receives => {
            let saved = store.export_job(tenant, id).await?;
            let upload_id = saved.and_then(|j| j.progress.upload_id);
            upload::abort(&deps.s3, &target, upload_id.as_deref()).await?;
            let reason = match &e {
                ExportError::Refused(reason) => reason.clone(),
                ExportError::Upload(UploadError::TooLarge) => format!(
                    "the file would be larger than S3 takes in one upload: {e}; \
                     choose a shorter period"
                ),
                _ => "the export failed repeatedly; request it again".to_string(),
            };
            tracing::error!(export = %id, error = %e, "export failed");
            store
                .finish_export(tenant, id, &owner, Err(&reason))
                .await?;
            Ok(Outcome::Failed)
        }
        Err(e) => {
            // The retry may claim it at once rather than after the lease.
            store.release_export(tenant, id, &owner).await?;
            Err(e)
        }
    }
}

impl super::ExportStatus {
    fn is_open(self) -> bool {
        matches!(
            self,
            super::ExportStatus::Queued | super::ExportStatus::Running
        )
    }
}

struct Worker<'a> {
    deps: &'a ExportDeps,
    tenant: &'a str,
    job: &'a ExportJob,
    owner: &'a str,
    target: &'a Target,
    deadline: tokio::time::Instant,
}

impl Worker<'_> {
    async fn produce(&self) -> Result<Produced, ExportError> {
        let store = &self.deps.store;
        let settings = store.settings(self.tenant).await?;
        let tz = settings.tz();
        let contact = match (&self.job.dataset, &self.job.contact_id) {
            (Dataset::Conversation, Some(contact)) => Some(
                store
                    .profile(self.tenant, contact)
                    .await?
                    .ok_or_else(|| ExportError::Refused("the contact no longer exists".into()))?,
            ),
            _ => None,
        };
        let ctx = SourceContext {
            store,
            tenant: self.tenant,
            tz,
            filters: &self.job.filters,
            now: Utc::now(),
        };
        if self.job.format == Format::Pdf {
            return self.pdf(&ctx, &settings, contact.as_ref()).await;
        }
        // Completed before, but the crash came before the job said so.
        if self.job.progress.upload_id.is_some()
            && upload::exists(&self.deps.s3, self.target).await?
        {
            return Ok(Produced::Finished(self.job.progress.clone()));
        }
        let (mut file, mut progress) = self.open_file().await?;
        if progress.etags.is_empty() {
            if self.job.filters.bom && self.job.format == Format::Csv {
                file.push(rows::BOM);
            }
            file.push(&self.preamble(&settings, contact.as_ref()));
        }
        let mut source = Source::new(
            self.job.dataset,
            self.job.format,
            contact.as_ref(),
            &self.job.filters,
            self.tenant,
            progress.cursor.clone(),
        );
        while let Some(page) = source.next_page(&ctx).await? {
            for row in page {
                file.push(&row.bytes);
                progress.cursor = Some(row.cursor);
                progress.rows += u64::from(!row.bytes.is_empty());
                // Near the deadline a smaller part (S3 takes 5 MiB) saves
                // what was read, so the continuation does not read it again.
                let short_of_time = file.bytes_buffered() >= MIN_PART_BYTES
                    && self.time_left() < self.deps.limits.margin;
                if !file.part_ready() && !short_of_time {
                    continue;
                }
                if let Err(e) = file.send_part().await {
                    return Err(e.into());
                }
                progress.upload_id = file.upload_id().map(str::to_string);
                progress.etags = file.etags();
                progress.bytes = file.bytes();
                if !self.save(&progress).await? {
                    return Ok(Produced::LostLease);
                }
                if self.time_left() < self.deps.limits.margin {
                    return Ok(Produced::Paused);
                }
            }
        }
        progress.bytes = file.finish().await?;
        // Done: the upload's bookkeeping is of no further use.
        progress.etags.clear();
        Ok(Produced::Finished(progress))
    }

    fn time_left(&self) -> Duration {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// The upload to continue (from saved progress) or a new one.
    async fn open_file(&self) -> Result<(MultipartFile, Progress), ExportError> {
        let part_bytes = self.deps.limits.part_bytes;
        let saved = &self.job.progress;
        if let Some(upload_id) = &saved.upload_id
            && !saved.etags.is_empty()
        {
            let file = MultipartFile::resume(
                self.deps.s3.clone(),
                self.target.clone(),
                part_bytes,
                upload_id.clone(),
                &saved.etags,
                saved.bytes,
            );
            return Ok((file, saved.clone()));
        }
        let file = MultipartFile::new(self.deps.s3.clone(), self.target.clone(), part_bytes);
        Ok((file, Progress::default()))
    }

    async fn save(&self, progress: &Progress) -> Result<bool, StoreError> {
        let lease = chrono::Duration::from_std(self.deps.limits.lease).unwrap_or_default();
        self.deps
            .store
            .save_export_progress(
                self.tenant,
                &self.job.export_id,
                self.owner,
                progress,
                Utc::now() + lease,
            )
            .await
    }

    /// What comes before the rows: the CSV header, or the TXT title block.
    fn preamble(&self, settings: &TenantSettings, contact: Option<&ContactProfile>) -> Vec<u8> {
        match (self.job.format, self.job.dataset) {
            (Format::Csv, Dataset::Contacts) => rows::header(&CONTACT_COLUMNS),
            (Format::Csv, _) => rows::header(&rows::EVENT_COLUMNS),
            (Format::Txt | Format::Pdf, _) => self
                .document(settings, contact, Vec::new())
                .to_text()
                .into_bytes(),
        }
    }

    fn document(
        &self,
        settings: &TenantSettings,
        contact: Option<&ContactProfile>,
        entries: Vec<Entry>,
    ) -> Document {
        let tz = settings.tz();
        let contact_id = contact.map(|c| c.contact_id.clone()).unwrap_or_default();
        Document {
            business: settings
                .business_name
                .clone()
                .unwrap_or_else(|| self.tenant.to_string()),
            contact: contact
                .and_then(|c| c.display_name.clone())
                .unwrap_or_else(|| contact_id.clone()),
            contact_id,
            period: period(&self.job.filters, tz),
            timezone: tz.name().to_string(),
            generated_at: local_time(Utc::now(), tz),
            entries,
        }
    }

    /// A PDF is laid out whole: its entries are read (at most
    /// [`MAX_PDF_ENTRIES`]), rendered, and stored in one write.
    async fn pdf(
        &self,
        ctx: &SourceContext<'_>,
        settings: &TenantSettings,
        contact: Option<&ContactProfile>,
    ) -> Result<Produced, ExportError> {
        let renderer = self.deps.pdf.as_ref().ok_or_else(|| {
            ExportError::Refused("PDF export is not available here; choose CSV or TXT".into())
        })?;
        let mut entries = Vec::new();
        let mut after: Option<String> = None;
        let types = super::sources::conversation_types(Format::Pdf, ctx.filters.include_notes);
        let contact_id = contact.map(|c| c.contact_id.as_str()).unwrap_or_default();
        loop {
            let query = crate::store::TimelineQuery {
                limit: 200,
                after: after.as_deref(),
                oldest_first: true,
                from: ctx.filters.from,
                to: ctx.filters.to,
                types: &types,
                channels: &ctx.filters.channels,
            };
            let page = ctx
                .store
                .timeline_page(self.tenant, contact_id, &query)
                .await?;
            entries.extend(
                page.events
                    .iter()
                    .filter_map(|e| Entry::from_event(e, ctx.tz, ctx.filters.include_notes)),
            );
            if entries.len() > MAX_PDF_ENTRIES {
                return Err(ExportError::Refused(format!(
                    "the conversation has more than {MAX_PDF_ENTRIES} entries in this period, \
                     too many for a PDF: export CSV or TXT, or choose a shorter period"
                )));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let rows = entries.len() as u64;
        let document = self.document(settings, contact, entries);
        let pdf = renderer
            .render_pdf(&document)
            .map_err(|e| ExportError::Refused(format!("the PDF could not be made: {e}")))?;
        let bytes = upload::put(&self.deps.s3, self.target, pdf).await?;
        Ok(Produced::Finished(Progress {
            rows,
            bytes,
            ..Progress::default()
        }))
    }
}

/// The period an export covers, in business-local dates.
fn period(filters: &ExportFilters, tz: Tz) -> String {
    let day = |at: DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d").to_string();
    match (filters.from, filters.to) {
        (Some(from), Some(to)) => format!("{} to {}", day(from), day(to)),
        (Some(from), None) => format!("from {}", day(from)),
        (None, Some(to)) => format!("until {}", day(to)),
        (None, None) => "all time".to_string(),
    }
}
