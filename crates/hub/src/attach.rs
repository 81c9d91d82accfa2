//! `AttachmentService`: nodes upload the files their records reference, in checked chunks.
//!
//! Who may upload: any node certificate (the same `auth::node_school` as every sync RPC),
//! any file it is about to reference. Records arrive only after their attachments (a
//! node uploads first, and `Push` refuses a record whose attachment is not here whole), so
//! there is no record yet to check an upload against; content is addressed by its hash, so
//! an upload can add a file but never change or remove one another school sent. No path
//! from the request reaches the filesystem: paths come from the validated digest.

use std::sync::Arc;

use yanpei_attach::{AttachError, BlobDir, Digest, Progress};
use yanpei_domain::SchoolCode;
use yanpei_store::hub::IncomingChange;

use crate::HubError;
use crate::revocation::Revocations;

pub(crate) struct Attachments {
    /// Where files live; `None`: this hub was started without an attachment directory.
    blobs: Option<BlobDir>,
    pub(crate) revoked: Arc<Revocations>,
}

/// One chunk of a file a node uploads.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// The whole file's digest (hex) and size.
    pub sha256: String,
    pub size: u64,
    /// Where this chunk starts, its bytes and their digest (hex).
    pub offset: u64,
    pub data: Vec<u8>,
    pub chunk_sha256: String,
}

impl Attachments {
    pub(crate) fn new(blobs: Option<BlobDir>, revoked: Arc<Revocations>) -> Self {
        Attachments { blobs, revoked }
    }

    /// How much of the file `sha256` of `size` bytes the hub holds.
    pub(crate) async fn status(
        &self,
        school: SchoolCode,
        sha256: &str,
        size: u64,
    ) -> Result<Progress, HubError> {
        let blobs = configured(self.blobs.as_ref())?.clone();
        let d = Digest::parse(sha256).map_err(attach_error)?;
        let p = blocking(move || blobs.progress(&d, size)).await?;
        tracing::debug!(%school, %sha256, received = p.received, complete = p.complete, "attachment status");
        Ok(p)
    }

    /// Stores one chunk (checked against its digest and the hub's progress).
    pub(crate) async fn put(&self, school: SchoolCode, r: Chunk) -> Result<Progress, HubError> {
        let blobs = configured(self.blobs.as_ref())?.clone();
        let d = Digest::parse(&r.sha256).map_err(attach_error)?;
        let (size, offset, len) = (r.size, r.offset, r.data.len());
        let p = blocking(move || blobs.put_chunk(&d, r.size, r.offset, &r.data, &r.chunk_sha256)).await?;
        tracing::debug!(%school, sha256 = %r.sha256, size, offset, len, received = p.received, "chunk stored");
        if p.complete && offset + len as u64 == size {
            tracing::info!(%school, sha256 = %r.sha256, size, "attachment received");
        }
        Ok(p)
    }
}

/// Every attachment a batch references must be here whole before its records are applied.
pub(crate) async fn check_batch(blobs: Option<&BlobDir>, changes: &[IncomingChange]) -> Result<(), HubError> {
    let wanted: Vec<(usize, IncomingChange)> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.activity.body.details.attachments.is_empty())
        .map(|(i, c)| (i, c.clone()))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let blobs = configured(blobs)?.clone();
    let missing = blocking(move || {
        for (i, c) in &wanted {
            for a in &c.activity.body.details.attachments {
                if !Digest::parse(&a.sha256).is_ok_and(|d| blobs.has(&d, a.size)) {
                    return Ok(Some(format!(
                        "第 {} 条变更（记录 {}）引用的附件「{}」（{}）尚未完整上传到中心：请先上传附件再推送记录；整批未写入",
                        i + 1,
                        c.activity.id,
                        a.name,
                        a.sha256
                    )));
                }
            }
        }
        Ok(None)
    })
    .await?;
    missing.map_or(Ok(()), |m| Err(HubError::FailedPrecondition(m)))
}

fn configured(blobs: Option<&BlobDir>) -> Result<&BlobDir, HubError> {
    blobs.ok_or_else(|| {
        HubError::FailedPrecondition(
            "本中心未配置附件目录，不能接收附件：请县进修学校设置 hub.attachments".into(),
        )
    })
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AttachError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("attachment task failed: {e}")))?
        .map_err(attach_error)
}

/// The one mapping of attachment errors to hub errors (and so to status codes).
fn attach_error(e: AttachError) -> HubError {
    match e {
        // The request breaks a fixed rule: retrying the same request cannot succeed.
        AttachError::BadSize { .. }
        | AttachError::BadDigest(_)
        | AttachError::WrongLength { .. }
        | AttachError::ChunkDigest { .. }
        | AttachError::FileDigest { .. } => HubError::InvalidArgument(e.to_string()),
        // The hub holds a different amount than the node thought: ask again and resume.
        AttachError::WrongOffset { .. } => HubError::FailedPrecondition(e.to_string()),
        AttachError::Io { .. } | AttachError::FileTooLarge { .. } | AttachError::EmptyFile(_) => {
            tracing::error!(error = %e, "attachment storage failure");
            HubError::Internal(e.to_string())
        }
    }
}
