//! `POST /contacts/{contact}/exports`, `POST /exports`, `GET /exports/{export}`
//! (admins only): export jobs are queued, and a finished one is downloaded
//! through a presigned URL signed anew on every `GET`. Every request and
//! every URL handed out is in the audit log (who, when, which filters).

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{ApiDeps, Caller, body};
use crate::export::worker::{JobMessage, enqueue};
use crate::export::{Dataset, ExportFilters, ExportJob, ExportStatus, Format, presign};
use crate::http::{ApiError, json};
use crate::model::Channel;
use crate::store::AuditEntry;

/// The longest date range of a bulk export.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Where exports go, for the API: the queue to put jobs on and the bucket
/// to presign downloads from.
pub struct ExportTarget {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// How long a job and its file are kept.
    pub keep: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversationRequest {
    format: Format,
    #[serde(default)]
    channels: Vec<Channel>,
    #[serde(default, deserialize_with = "body::present")]
    from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "body::present")]
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    include_notes: bool,
    #[serde(default)]
    bom: bool,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum BulkDataset {
    Events,
    Contacts,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum EventType {
    Message,
    Call,
    Booking,
    Payment,
    Note,
    StageChange,
    IdentityLink,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Message => "message",
            EventType::Call => "call",
            EventType::Booking => "booking",
            EventType::Payment => "payment",
            EventType::Note => "note",
            EventType::StageChange => "stage_change",
            EventType::IdentityLink => "identity_link",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    #[serde(default = "events")]
    dataset: BulkDataset,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(default)]
    channels: Vec<Channel>,
    #[serde(default)]
    event_types: Vec<EventType>,
    #[serde(default, deserialize_with = "body::present")]
    stage: Option<String>,
    #[serde(default)]
    include_notes: bool,
    #[serde(default)]
    bom: bool,
}

fn events() -> BulkDataset {
    BulkDataset::Events
}

/// A job as the API shows it (its upload's bookkeeping stays inside).
#[derive(Serialize)]
struct ExportView<'a> {
    export_id: &'a str,
    dataset: Dataset,
    format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_id: Option<&'a str>,
    filters: &'a ExportFilters,
    requested_by: &'a str,
    requested_at: DateTime<Utc>,
    status: ExportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
    /// Rows (CSV), entries (PDF, TXT) and bytes written so far.
    rows: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    download: Option<Download>,
}

impl<'a> ExportView<'a> {
    fn of(job: &'a ExportJob, download: Option<Download>) -> Self {
        Self {
            export_id: &job.export_id,
            dataset: job.dataset,
            format: job.format,
            contact_id: job.contact_id.as_deref(),
            filters: &job.filters,
            requested_by: &job.requested_by,
            requested_at: job.requested_at,
            status: job.status,
            error: job.error.as_deref(),
            finished_at: job.finished_at,
            rows: job.progress.rows,
            bytes: job.progress.bytes,
            download,
        }
    }
}

#[derive(Serialize)]
struct Download {
    url: String,
    expires_at: DateTime<Utc>,
    file_name: String,
}

fn target(deps: &ApiDeps) -> Result<&ExportTarget, ApiError> {
    deps.exports
        .as_ref()
        .ok_or_else(|| ApiError::Upstream("exports are not configured".into()))
}

fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad_request("to", "must not be before from"));
    }
    Ok(())
}

fn dedup<T: PartialEq + Copy>(values: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(*v);
        }
    }
    out
}

pub async fn conversation(
    deps: &ApiDeps,
    caller: &Caller,
    contact: &str,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let asked: ConversationRequest = body::parse_json(request)?;
    check_range(asked.from, asked.to)?;
    if !deps
        .store
        .contact_exists(&caller.tenant_id, contact)
        .await?
    {
        return Err(ApiError::NotFound("no such contact".into()));
    }
    let filters = ExportFilters {
        from: asked.from,
        to: asked.to,
        channels: dedup(&asked.channels),
        include_notes: asked.include_notes,
        bom: asked.bom,
        ..ExportFilters::default()
    };
    let job = new_job(
        caller,
        Dataset::Conversation,
        asked.format,
        Some(contact),
        filters,
    );
    queue(deps, caller, job).await
}

pub async fn bulk(
    deps: &ApiDeps,
    caller: &Caller,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let asked: BulkRequest = body::parse_json(request)?;
    check_range(Some(asked.from), Some(asked.to))?;
    if asked.to - asked.from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::bad_request(
            "to",
            format!("the range may span at most {MAX_RANGE_DAYS} days"),
        ));
    }
    if let Some(stage) = &asked.stage {
        let settings = deps.store.settings(&caller.tenant_id).await?;
        if !settings.stages.contains(stage) {
            return Err(ApiError::bad_request(
                "stage",
                format!("must be one of: {}", settings.stages.join(", ")),
            ));
        }
    }
    let dataset = match asked.dataset {
        BulkDataset::Events => Dataset::Events,
        BulkDataset::Contacts => Dataset::Contacts,
    };
    let filters = ExportFilters {
        from: Some(asked.from),
        to: Some(asked.to),
        channels: dedup(&asked.channels),
        event_types: dedup(&asked.event_types)
            .into_iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        stage: asked.stage,
        include_notes: asked.include_notes,
        bom: asked.bom,
    };
    let job = new_job(caller, dataset, Format::Csv, None, filters);
    queue(deps, caller, job).await
}

fn new_job(
    caller: &Caller,
    dataset: Dataset,
    format: Format,
    contact: Option<&str>,
    filters: ExportFilters,
) -> ExportJob {
    ExportJob {
        export_id: Ulid::new().to_string(),
        dataset,
        format,
        contact_id: contact.map(str::to_string),
        filters,
        requested_by: caller.user_id.clone(),
        requested_at: Utc::now(),
        status: ExportStatus::Queued,
        error: None,
        finished_at: None,
        progress: Default::default(),
    }
}

/// What the audit log says about a request: its filters, no content.
fn described(job: &ExportJob) -> String {
    let f = &job.filters;
    let mut parts = vec![format!(
        "{} {} export {}",
        job.dataset.as_str(),
        job.format.extension(),
        job.export_id
    )];
    let instant = |at: &Option<DateTime<Utc>>| at.map(|t| t.to_rfc3339());
    if let Some(from) = instant(&f.from) {
        parts.push(format!("from {from}"));
    }
    if let Some(to) = instant(&f.to) {
        parts.push(format!("to {to}"));
    }
    if !f.channels.is_empty() {
        let names: Vec<&str> = f.channels.iter().map(|c| c.as_str()).collect();
        parts.push(format!("channels {}", names.join(",")));
    }
    if !f.event_types.is_empty() {
        parts.push(format!("types {}", f.event_types.join(",")));
    }
    if let Some(stage) = &f.stage {
        parts.push(format!("stage {stage}"));
    }
    if f.include_notes {
        parts.push("with internal notes".into());
    }
    parts.join(", ")
}

async fn queue(
    deps: &ApiDeps,
    caller: &Caller,
    job: ExportJob,
) -> Result<Response<Body>, ApiError> {
    let target = target(deps)?;
    let tenant = &caller.tenant_id;
    let mut audit = AuditEntry::by(&caller.user_id, "export_requested", described(&job));
    audit.at = job.requested_at;
    audit.contact_id = job.contact_id.clone().unwrap_or_default();
    deps.store
        .create_export(tenant, &job, target.keep, audit)
        .await?;
    let message = JobMessage {
        tenant: tenant.clone(),
        export_id: job.export_id.clone(),
    };
    if let Err(e) = enqueue(&target.sqs, &target.queue_url, &message).await {
        // Not queued means not requested: take the job back.
        deps.store.delete_export(tenant, &job.export_id).await?;
        return Err(ApiError::Upstream(e));
    }
    let mut response = json(StatusCode::ACCEPTED, &ExportView::of(&job, None));
    if let Ok(location) = format!("/exports/{}", job.export_id).parse() {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(
    deps: &ApiDeps,
    caller: &Caller,
    export_id: &str,
) -> Result<Response<Body>, ApiError> {
    caller.require_admin()?;
    let not_found = || ApiError::NotFound("no such export".into());
    if Ulid::from_string(export_id).is_err() {
        return Err(not_found());
    }
    let tenant = &caller.tenant_id;
    let job = deps
        .store
        .export_job(tenant, export_id)
        .await?
        .ok_or_else(not_found)?;
    let mut download = None;
    if job.status == ExportStatus::Done {
        let target = target(deps)?;
        let now = Utc::now();
        let file_name = job.file_name();
        let (url, expires_at) = presign::download_url(
            &target.s3,
            &target.bucket,
            &job.object_key(tenant),
            &file_name,
            job.format.content_type(),
            now,
            presign::MAX_URL_TTL,
        )
        .await
        .map_err(ApiError::Upstream)?;
        let mut audit = AuditEntry::by(
            &caller.user_id,
            "export_url_issued",
            format!(
                "download URL of export {export_id}, valid until {}",
                expires_at.to_rfc3339()
            ),
        );
        audit.at = now;
        audit.contact_id = job.contact_id.clone().unwrap_or_default();
        deps.store.record_audit(tenant, audit).await?;
        download = Some(Download {
            url,
            expires_at,
            file_name,
        });
    }
    Ok(json(StatusCode::OK, &ExportView::of(&job, download)))
}
