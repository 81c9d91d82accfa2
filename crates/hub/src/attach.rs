//! `AttachmentService`: nodes upload the files their records reference, in checked chunks.
//!
//! Who may upload: any node certificate (the same `auth::node_school` as every sync RPC),
//! any file it is about to reference. Records arrive only after their attachments (a
//! node uploads first, and `Push` refuses a record whose attachment is not here whole), so
//! there is no record yet to check an upload against; content is addressed by its hash, so
//! an upload can add a file but never change or remove one another school sent. No path
//! from the request reaches the filesystem: paths come from the validated digest.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use yanpei_attach::{AttachError, BlobDir, CHUNK_BYTES, Digest, Progress};
use yanpei_domain::SchoolCode;
use yanpei_proto::pb::{self, attachment_service_server::AttachmentService};
use yanpei_store::hub::IncomingChange;

use crate::revocation::Revocations;
use crate::{HubError, auth};

pub(crate) struct Attachments {
    /// Where files live; `None`: this hub was started without an attachment directory.
    blobs: Option<BlobDir>,
    revoked: Arc<Revocations>,
}

impl Attachments {
    pub(crate) fn new(blobs: Option<BlobDir>, revoked: Arc<Revocations>) -> Self {
        Attachments { blobs, revoked }
    }

    async fn status(&self, school: SchoolCode, r: pb::AttachmentStatusRequest) -> Result<Progress, HubError> {
        let blobs = configured(self.blobs.as_ref())?.clone();
        let d = Digest::parse(&r.sha256).map_err(attach_error)?;
        let p = blocking(move || blobs.progress(&d, r.size)).await?;
        tracing::debug!(%school, sha256 = %r.sha256, received = p.received, complete = p.complete, "attachment status");
        Ok(p)
    }

    async fn put(&self, school: SchoolCode, r: pb::PutChunkRequest) -> Result<Progress, HubError> {
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

fn progress_to_pb(p: Progress) -> pb::AttachmentProgress {
    pb::AttachmentProgress { received: p.received, complete: p.complete, chunk_size: CHUNK_BYTES }
}

#[tonic::async_trait]
impl AttachmentService for Attachments {
    async fn attachment_status(
        &self,
        req: Request<pb::AttachmentStatusRequest>,
    ) -> Result<Response<pb::AttachmentProgress>, Status> {
        let school = auth::node_school(&req, &self.revoked)?;
        let span = info_span!("attachment_status", school_code = %school);
        self.status(school, req.into_inner())
            .instrument(span)
            .await
            .map(|p| Response::new(progress_to_pb(p)))
            .map_err(Status::from)
    }

    async fn put_chunk(
        &self,
        req: Request<pb::PutChunkRequest>,
    ) -> Result<Response<pb::AttachmentProgress>, Status> {
        let school = auth::node_school(&req, &self.revoked)?;
        let span = info_span!("put_chunk", school_code = %school);
        self.put(school, req.into_inner())
            .instrument(span)
            .await
            .map(|p| Response::new(progress_to_pb(p)))
            .map_err(Status::from)
    }
}
