//! Writing an export file to S3 with memory bounded by one part: rows are
//! buffered and sent as parts of a multipart upload (about 8 MiB each). A
//! file smaller than one part is a single PutObject. Nothing is visible
//! under the key until the upload completes, so a reader never sees a
//! partial file; an upload that fails is aborted (and the bucket's
//! lifecycle rule aborts what a crash leaves behind).

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};

/// What S3 said no to, or why we could not reach it.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("s3: {0}")]
    S3(String),
    /// The multipart upload is gone (completed, aborted or expired).
    #[error("the multipart upload no longer exists")]
    UploadGone,
    #[error("the file would need more than {MAX_PARTS} parts")]
    TooLarge,
}

/// The smallest part S3 takes (but the last).
pub const MIN_PART_BYTES: usize = 5 << 20;

/// S3 takes 10,000 parts; we stop at half (40 GiB in 8 MiB parts), which
/// keeps the saved ETags well within one item.
pub const MAX_PARTS: usize = 5_000;

impl<E, R> From<SdkError<E, R>> for UploadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn from(e: SdkError<E, R>) -> Self {
        if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchUpload") {
            return UploadError::UploadGone;
        }
        UploadError::S3(DisplayErrorContext(e).to_string())
    }
}

/// Where the file goes and how it is served.
#[derive(Debug, Clone)]
pub struct Target {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub file_name: String,
}

impl Target {
    fn disposition(&self) -> String {
        super::presign::attachment(&self.file_name)
    }
}

pub struct MultipartFile {
    s3: aws_sdk_s3::Client,
    target: Target,
    part_bytes: usize,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    buffer: Vec<u8>,
    /// Bytes in parts already sent.
    sent: u64,
}

impl MultipartFile {
    /// A new file; nothing is sent until a part is full or it is finished.
    pub fn new(s3: aws_sdk_s3::Client, target: Target, part_bytes: usize) -> Self {
        Self {
            s3,
            target,
            part_bytes,
            upload_id: None,
            parts: Vec::new(),
            buffer: Vec::with_capacity(part_bytes + (64 << 10)),
            sent: 0,
        }
    }

    /// Carries on with `upload_id` after the parts whose ETags were saved
    /// (a retried job); parts above those, sent before a crash, are replaced.
    pub fn resume(
        s3: aws_sdk_s3::Client,
        target: Target,
        part_bytes: usize,
        upload_id: String,
        etags: &[String],
        sent: u64,
    ) -> Self {
        let mut file = Self::new(s3, target, part_bytes);
        file.parts = etags
            .iter()
            .enumerate()
            .map(|(i, etag)| {
                CompletedPart::builder()
                    .part_number(i as i32 + 1)
                    .e_tag(etag)
                    .build()
            })
            .collect();
        file.upload_id = Some(upload_id);
        file.sent = sent;
        file
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    pub fn bytes_buffered(&self) -> usize {
        self.buffer.len()
    }

    /// A part's worth is buffered: send it with [`Self::send_part`].
    pub fn part_ready(&self) -> bool {
        self.buffer.len() >= self.part_bytes
    }

    pub fn upload_id(&self) -> Option<&str> {
        self.upload_id.as_deref()
    }

    /// The ETags of the parts sent, in order.
    pub fn etags(&self) -> Vec<String> {
        self.parts
            .iter()
            .map(|p| p.e_tag().unwrap_or_default().to_string())
            .collect()
    }

    pub fn parts_done(&self) -> usize {
        self.parts.len()
    }

    /// Bytes written so far, sent or buffered.
    pub fn bytes(&self) -> u64 {
        self.sent + self.buffer.len() as u64
    }

    /// Sends what is buffered as the next part (starting the multipart
    /// upload if need be).
    pub async fn send_part(&mut self) -> Result<(), UploadError> {
        if self.parts.len() >= MAX_PARTS {
            return Err(UploadError::TooLarge);
        }
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .s3
                    .create_multipart_upload()
                    .bucket(&self.target.bucket)
                    .key(&self.target.key)
                    .content_type(&self.target.content_type)
                    .content_disposition(self.target.disposition())
                    .server_side_encryption(ServerSideEncryption::Aes256)
                    .send()
                    .await?;
                let id = out
                    .upload_id
                    .ok_or_else(|| UploadError::S3("no upload id".into()))?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buffer);
        let len = body.len() as u64;
        let out = self
            .s3
            .upload_part()
            .bucket(&self.target.bucket)
            .key(&self.target.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .build(),
        );
        self.sent += len;
        self.buffer.reserve(self.part_bytes + (64 << 10));
        Ok(())
    }

    /// Makes the file visible under its key; returns its size.
    pub async fn finish(mut self) -> Result<u64, UploadError> {
        let Some(upload_id) = self.upload_id.clone() else {
            let body = std::mem::take(&mut self.buffer);
            return put(&self.s3, &self.target, body).await;
        };
        if !self.buffer.is_empty() || self.parts.is_empty() {
            self.send_part().await?;
        }
        self.s3
            .complete_multipart_upload()
            .bucket(&self.target.bucket)
            .key(&self.target.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await?;
        Ok(self.sent)
    }

    /// Gives up the upload (its parts are deleted).
    pub async fn abort(&self) -> Result<(), UploadError> {
        abort(&self.s3, &self.target, self.upload_id.as_deref()).await
    }
}

/// Writes a whole file at once (a PDF, laid out in memory anyway); returns
/// its size.
pub async fn put(
    s3: &aws_sdk_s3::Client,
    target: &Target,
    body: Vec<u8>,
) -> Result<u64, UploadError> {
    let len = body.len() as u64;
    s3.put_object()
        .bucket(&target.bucket)
        .key(&target.key)
        .content_type(&target.content_type)
        .content_disposition(target.disposition())
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from(body))
        .send()
        .await?;
    Ok(len)
}

/// Aborts `upload_id` when there is one; an upload already gone is fine.
pub async fn abort(
    s3: &aws_sdk_s3::Client,
    target: &Target,
    upload_id: Option<&str>,
) -> Result<(), UploadError> {
    let Some(upload_id) = upload_id else {
        return Ok(());
    };
    match s3
        .abort_multipart_upload()
        .bucket(&target.bucket)
        .key(&target.key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match UploadError::from(e) {
            UploadError::UploadGone => Ok(()),
            other => Err(other),
        },
    }
}

/// Whether the finished file is there (a job that completed its upload but
/// crashed before recording it).
pub async fn exists(s3: &aws_sdk_s3::Client, target: &Target) -> Result<bool, UploadError> {
    match s3
        .head_object()
        .bucket(&target.bucket)
        .key(&target.key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
