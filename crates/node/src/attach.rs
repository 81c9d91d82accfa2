//! Attachments at the node: attaching files to a record, and uploading what the outbox
//! references before the records that reference it are pushed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tonic::Code;
use tracing::{debug, info};
use uuid::Uuid;
use yanpei_attach::{AttachError, BlobDir, Digest, chunk_len};
use yanpei_domain::{Activity, AttachmentRef, MAX_ATTACHMENTS};
use yanpei_store::node::NodeStore;

use crate::NodeError;
use crate::client::SyncSession;

/// What uploading a batch's attachments did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Uploaded {
    /// Files the hub did not hold whole and now does.
    pub(crate) files: u64,
    /// Files the hub already held (sent earlier, or by another school).
    pub(crate) present: u64,
    /// Chunk bytes sent.
    pub(crate) bytes: u64,
}

/// Copies `files` into `blobs` and adds them to record `id` as a new version (which syncs).
///
/// Every file's size is checked against the limit before anything is written; the same
/// content is stored once, and a file the record already references is not added twice.
pub async fn attach_files(
    store: &NodeStore,
    blobs: &BlobDir,
    id: Uuid,
    files: &[PathBuf],
) -> Result<Activity, NodeError> {
    let mut a =
        store.get(id).await?.ok_or_else(|| NodeError::Attachment(format!("没有编号为 {id} 的记录")))?;
    if a.deleted {
        return Err(NodeError::Attachment(format!("记录 {id} 已删除，不能添加附件")));
    }
    if files.is_empty() {
        return Err(NodeError::Attachment("请给出要添加的文件".into()));
    }
    if a.body.details.attachments.len() + files.len() > MAX_ATTACHMENTS {
        return Err(NodeError::Attachment(format!(
            "每条记录最多 {MAX_ATTACHMENTS} 个附件：本记录已有 {} 个，又给出 {} 个文件",
            a.body.details.attachments.len(),
            files.len()
        )));
    }
    let (dir, list) = (blobs.clone(), files.to_vec());
    let imported = blocking(move || {
        // Every size first: nothing is written if any file is over the limit.
        for f in &list {
            let meta = std::fs::metadata(f)
                .map_err(|e| AttachError::Io { what: format!("读取 {}", f.display()), source: e })?;
            if meta.len() > yanpei_attach::MAX_ATTACHMENT_BYTES {
                return Err(AttachError::FileTooLarge { path: f.clone(), size: meta.len() });
            }
        }
        list.iter().map(|f| dir.import(f).map(|i| (file_name(f), i))).collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut added = 0;
    for (name, i) in imported {
        if a.body.details.attachments.iter().any(|r| r.sha256 == i.digest.as_str()) {
            continue;
        }
        a.body.details.attachments.push(AttachmentRef { sha256: i.digest.to_string(), name, size: i.size });
        added += 1;
    }
    if added == 0 {
        return Ok(a);
    }
    a.version += 1;
    a.validate().map_err(|e| NodeError::Attachment(e.to_string()))?;
    store.update(&a).await?;
    info!(record = %id, added, version = a.version, "attachments added");
    Ok(a)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// Uploads every attachment `records` reference that the hub does not hold whole, resuming
/// each from what the hub durably holds.
pub(crate) async fn upload_referenced(
    hub: &mut SyncSession,
    blobs: Option<&BlobDir>,
    records: &[&Activity],
) -> Result<Uploaded, NodeError> {
    let refs: BTreeSet<(String, u64, String)> = records
        .iter()
        .flat_map(|a| a.body.details.attachments.iter())
        .map(|r| (r.sha256.clone(), r.size, r.name.clone()))
        .collect();
    let mut done = Uploaded::default();
    let mut seen = BTreeSet::new();
    for (sha256, size, name) in refs {
        if !seen.insert((sha256.clone(), size)) {
            continue;
        }
        let status = hub.attachment_status(&sha256, size).await?;
        if status.complete {
            done.present += 1;
            continue;
        }
        let missing = || {
            NodeError::Attachment(format!(
                "附件「{name}」（{sha256}）不在本机附件目录中，中心也没有：无法报送引用它的记录"
            ))
        };
        let dir = blobs.ok_or_else(missing)?.clone();
        let digest = Digest::parse(&sha256).map_err(|e| NodeError::Attachment(e.to_string()))?;
        let (d, s) = (dir.clone(), digest.clone());
        if !blocking(move || Ok(d.has(&s, size))).await? {
            return Err(missing());
        }
        done.bytes += send_from(hub, &dir, &digest, size, status.received).await?;
        done.files += 1;
        info!(sha256 = %digest, size, resumed_from = status.received, "attachment uploaded");
    }
    Ok(done)
}

/// Sends the chunks of one file from `offset` on; returns the chunk bytes sent.
async fn send_from(
    hub: &mut SyncSession,
    dir: &BlobDir,
    d: &Digest,
    size: u64,
    mut offset: u64,
) -> Result<u64, NodeError> {
    let mut sent = 0;
    let mut realigned = 0;
    while offset < size {
        let len = chunk_len(size, offset);
        let (dd, dg) = (dir.clone(), d.clone());
        let data = blocking(move || dd.read_chunk(&dg, offset, len)).await?;
        let reply = hub.put_chunk(d, size, offset, data).await;
        sent += len;
        match reply {
            Ok(p) => {
                if p.complete {
                    break;
                }
                offset = p.received;
            }
            // The hub holds a different amount (another school is sending the same file,
            // or the hub dropped a torn chunk): ask where to go on, a few times at most.
            Err(e) if e.hub_code() == Some(Code::FailedPrecondition) && realigned < 3 => {
                realigned += 1;
                let p = hub.attachment_status(d.as_str(), size).await?;
                debug!(sha256 = %d, held = p.received, "resuming where the hub holds");
                if p.complete {
                    break;
                }
                offset = p.received;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AttachError> + Send + 'static,
) -> Result<T, NodeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Attachment(format!("附件任务失败：{e}")))?
        .map_err(|e| NodeError::Attachment(e.to_string()))
}
