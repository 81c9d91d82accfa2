//! The content-addressed directory: complete files at `ROOT/ab/<sha256>`, uploads in
//! progress at `ROOT/partial/<sha256>-<size>`, imports being copied at `ROOT/tmp/`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};

use crate::{AttachError, Digest, MAX_ATTACHMENT_BYTES, check_chunk, check_size, durable_prefix, hex};

/// How much of a file a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes durably held (all of them when complete).
    pub received: u64,
    /// The whole file is there, verified, under its hash.
    pub complete: bool,
}

/// A file copied into the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Its content's hash.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// False when the same content was already stored (nothing new was kept).
    pub new: bool,
}

/// A content-addressed attachment directory. Clones share the per-file upload locks.
#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
    locks: Arc<Mutex<HashMap<Digest, Arc<Mutex<()>>>>>,
}

static TEMP_NAMES: AtomicU64 = AtomicU64::new(0);

impl BlobDir {
    /// The directory at `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> BlobDir {
        BlobDir { root: root.into(), locks: Arc::default() }
    }

    /// A node's attachment directory: beside its store, `<store>.attachments`.
    pub fn beside_node_store(store: &Path) -> BlobDir {
        let mut name = store.as_os_str().to_owned();
        name.push(".attachments");
        BlobDir::new(PathBuf::from(name))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the complete file with this digest lives.
    pub fn path_of(&self, d: &Digest) -> PathBuf {
        self.root.join(&d.as_str()[..2]).join(d.as_str())
    }

    fn partial_path(&self, d: &Digest, size: u64) -> PathBuf {
        self.root.join("partial").join(format!("{d}-{size}"))
    }

    /// Whether the complete file is here with this size.
    pub fn has(&self, d: &Digest, size: u64) -> bool {
        fs::metadata(self.path_of(d)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Complete files held (walks the directory; for checks and tests).
    pub fn count(&self) -> usize {
        let Ok(fans) = fs::read_dir(&self.root) else { return 0 };
        fans.flatten()
            .filter(|f| f.file_name().len() == 2)
            .filter_map(|f| fs::read_dir(f.path()).ok())
            .map(|files| {
                files.flatten().filter(|f| Digest::parse(&f.file_name().to_string_lossy()).is_ok()).count()
            })
            .sum()
    }

    /// Copies the file at `src` in under its hash. The size limit is checked before anything
    /// is written; the same content already here is kept once.
    pub fn import(&self, src: &Path) -> Result<Imported, AttachError> {
        let meta = fs::metadata(src).map_err(|e| AttachError::io(format!("读取 {}", src.display()), e))?;
        if !meta.is_file() {
            return Err(AttachError::io(
                format!("读取 {}", src.display()),
                std::io::Error::other("不是普通文件"),
            ));
        }
        if meta.len() > MAX_ATTACHMENT_BYTES {
            return Err(AttachError::FileTooLarge { path: src.to_owned(), size: meta.len() });
        }
        if meta.len() == 0 {
            return Err(AttachError::EmptyFile(src.to_owned()));
        }
        let mut input = File::open(src).map_err(|e| AttachError::io(format!("打开 {}", src.display()), e))?;
        let tmp_dir = self.root.join("tmp");
        create_dir(&tmp_dir)?;
        let n = TEMP_NAMES.fetch_add(1, Ordering::Relaxed);
        let tmp = tmp_dir.join(format!("import-{}-{n}", std::process::id()));
        let result = (|| {
            let mut out =
                File::create(&tmp).map_err(|e| AttachError::io(format!("创建 {}", tmp.display()), e))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let k = input
                    .read(&mut buf)
                    .map_err(|e| AttachError::io(format!("读取 {}", src.display()), e))?;
                if k == 0 {
                    break;
                }
                size += k as u64;
                if size > MAX_ATTACHMENT_BYTES {
                    // The file grew while it was copied.
                    return Err(AttachError::FileTooLarge { path: src.to_owned(), size });
                }
                hasher.update(&buf[..k]);
                out.write_all(&buf[..k])
                    .map_err(|e| AttachError::io(format!("写入 {}", tmp.display()), e))?;
            }
            out.sync_all().map_err(|e| AttachError::io(format!("写入 {}", tmp.display()), e))?;
            let digest = Digest(hex(&hasher.finalize()));
            check_size(size)?;
            let new = if self.has(&digest, size) {
                false
            } else {
                self.publish(&tmp, &digest)?;
                true
            };
            Ok(Imported { digest, size, new })
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Reads `len` bytes at `offset` of the complete file `d` (a chunk to upload).
    pub fn read_chunk(&self, d: &Digest, offset: u64, len: u64) -> Result<Vec<u8>, AttachError> {
        let path = self.path_of(d);
        let what = || format!("读取 {}", path.display());
        let mut f = File::open(&path).map_err(|e| AttachError::io(what(), e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| AttachError::io(what(), e))?;
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        f.read_exact(&mut buf).map_err(|e| AttachError::io(what(), e))?;
        Ok(buf)
    }

    /// How much of the `size`-byte file `d` is durably here. A partial file whose every byte
    /// arrived but that was not yet published (a crash in between) is verified and published now.
    pub fn progress(&self, d: &Digest, size: u64) -> Result<Progress, AttachError> {
        check_size(size)?;
        let lock = self.lock(d);
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let p = self.progress_locked(d, size)?;
        if !p.complete && p.received == size {
            self.finish_locked(d, size)?;
            return Ok(Progress { received: size, complete: true });
        }
        Ok(p)
    }

    fn progress_locked(&self, d: &Digest, size: u64) -> Result<Progress, AttachError> {
        if self.has(d, size) {
            return Ok(Progress { received: size, complete: true });
        }
        let partial = self.partial_path(d, size);
        let len = match fs::metadata(&partial) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(AttachError::io(format!("读取 {}", partial.display()), e)),
        };
        let received = durable_prefix(size, len);
        if received != len {
            // A torn tail (or a partial longer than the file): keep only whole chunks.
            let f = OpenOptions::new()
                .write(true)
                .open(&partial)
                .map_err(|e| AttachError::io(format!("打开 {}", partial.display()), e))?;
            f.set_len(received)
                .and_then(|()| f.sync_all())
                .map_err(|e| AttachError::io(format!("截断 {}", partial.display()), e))?;
            tracing::warn!(sha256 = %d, len, kept = received, "dropped an incomplete chunk of a partial upload");
        }
        Ok(Progress { received, complete: false })
    }

    /// Appends one chunk of the `size`-byte file `d` at `offset`, after checking its offset,
    /// its length and its hash (`chunk_sha256`); nothing of a rejected chunk is written. The
    /// chunk is on disk (fsynced) before this returns. With the last chunk the whole file is
    /// verified against `d` and published, or discarded if it does not match.
    pub fn put_chunk(
        &self,
        d: &Digest,
        size: u64,
        offset: u64,
        data: &[u8],
        chunk_sha256: &str,
    ) -> Result<Progress, AttachError> {
        check_size(size)?;
        let claimed = Digest::parse(chunk_sha256)?;
        let lock = self.lock(d);
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let p = self.progress_locked(d, size)?;
        if p.complete {
            // Already here (another school sent it, or this is a re-sent last chunk).
            return Ok(p);
        }
        check_chunk(size, p.received, offset, data.len() as u64)?;
        if Digest::of(data) != claimed {
            return Err(AttachError::ChunkDigest { offset });
        }
        let partial = self.partial_path(d, size);
        let what = || format!("写入 {}", partial.display());
        if offset == 0 {
            create_dir(partial.parent().unwrap_or(&self.root))?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .map_err(|e| AttachError::io(what(), e))?;
        f.write_all(data).and_then(|()| f.sync_data()).map_err(|e| AttachError::io(what(), e))?;
        if offset == 0 {
            sync_dir(partial.parent().unwrap_or(&self.root))?;
        }
        let received = offset + data.len() as u64;
        if received < size {
            return Ok(Progress { received, complete: false });
        }
        self.finish_locked(d, size)?;
        Ok(Progress { received: size, complete: true })
    }

    /// Verifies the complete partial file against `d` and publishes it, or discards it.
    fn finish_locked(&self, d: &Digest, size: u64) -> Result<(), AttachError> {
        let partial = self.partial_path(d, size);
        let actual = hash_file(&partial)?;
        if &actual != d {
            let _ = fs::remove_file(&partial);
            tracing::warn!(sha256 = %d, actual = %actual, "assembled attachment does not match its hash; discarded");
            return Err(AttachError::FileDigest { expected: d.clone(), actual });
        }
        self.publish(&partial, d)?;
        tracing::info!(sha256 = %d, size, "attachment complete");
        Ok(())
    }

    /// Renames a synced file into its place under `d` and syncs the directory.
    fn publish(&self, from: &Path, d: &Digest) -> Result<(), AttachError> {
        let to = self.path_of(d);
        let fan = to.parent().unwrap_or(&self.root);
        create_dir(fan)?;
        fs::rename(from, &to).map_err(|e| AttachError::io(format!("移动到 {}", to.display()), e))?;
        sync_dir(fan)
    }

    fn lock(&self, d: &Digest) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget locks nobody holds, so the map stays as small as the uploads in flight.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(d.clone()).or_default().clone()
    }
}

/// The SHA-256 of a file's content.
pub(crate) fn hash_file(path: &Path) -> Result<Digest, AttachError> {
    let what = || format!("读取 {}", path.display());
    let mut f = File::open(path).map_err(|e| AttachError::io(what(), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let k = f.read(&mut buf).map_err(|e| AttachError::io(what(), e))?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
    }
    Ok(Digest(hex(&hasher.finalize())))
}

fn create_dir(dir: &Path) -> Result<(), AttachError> {
    fs::create_dir_all(dir).map_err(|e| AttachError::io(format!("创建目录 {}", dir.display()), e))
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), AttachError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| AttachError::io(format!("同步目录 {}", dir.display()), e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CHUNK_BYTES, chunk_len, chunk_offsets};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("yanpei-attach-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn upload(dir: &BlobDir, data: &[u8], from: u64) -> Progress {
        let d = Digest::of(data);
        let size = data.len() as u64;
        let mut last = Progress { received: from, complete: false };
        for off in chunk_offsets(size, from) {
            let part = &data[off as usize..(off + chunk_len(size, off)) as usize];
            last = dir.put_chunk(&d, size, off, part, Digest::of(part).as_str()).unwrap();
        }
        last
    }

    #[test]
    fn import_stores_content_once_under_its_hash() {
        let tmp = scratch("import");
        let dir = BlobDir::new(tmp.join("blobs"));
        let data = content(1000);
        fs::write(tmp.join("a.jpg"), &data).unwrap();
        fs::write(tmp.join("copy.jpg"), &data).unwrap();
        let a = dir.import(&tmp.join("a.jpg")).unwrap();
        let b = dir.import(&tmp.join("copy.jpg")).unwrap();
        assert!(a.new && !b.new);
        assert_eq!(a.digest, Digest::of(&data));
        assert_eq!(fs::read(dir.path_of(&a.digest)).unwrap(), data);
        assert_eq!(dir.count(), 1);
        assert!(fs::read_dir(tmp.join("blobs/tmp")).unwrap().next().is_none(), "no temp file left");
    }

    #[test]
    fn an_oversized_or_empty_file_is_refused_before_anything_is_written() {
        let tmp = scratch("big");
        let dir = BlobDir::new(tmp.join("blobs"));
        let big = File::create(tmp.join("big.mp4")).unwrap();
        big.set_len(MAX_ATTACHMENT_BYTES + 1).unwrap(); // sparse: no bytes written
        let e = dir.import(&tmp.join("big.mp4")).unwrap_err();
        assert!(matches!(e, AttachError::FileTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("big.mp4") && e.to_string().contains("64 MB"), "{e}");
        File::create(tmp.join("empty.txt")).unwrap();
        assert!(matches!(dir.import(&tmp.join("empty.txt")), Err(AttachError::EmptyFile(_))));
        assert!(!dir.root().exists());
    }

    #[test]
    fn an_upload_resumes_from_whole_chunks_and_publishes_only_a_verified_file() {
        let dir = BlobDir::new(scratch("resume"));
        let data = content(3 * CHUNK_BYTES as usize + 123);
        let (d, size) = (Digest::of(&data), data.len() as u64);
        let first = &data[..CHUNK_BYTES as usize];
        assert_eq!(
            dir.put_chunk(&d, size, 0, first, Digest::of(first).as_str()).unwrap().received,
            CHUNK_BYTES
        );
        // A torn write after the first chunk (a crash mid-append) is dropped on the next look.
        let partial = dir.partial_path(&d, size);
        OpenOptions::new().append(true).open(&partial).unwrap().write_all(&data[..100]).unwrap();
        assert_eq!(dir.progress(&d, size).unwrap(), Progress { received: CHUNK_BYTES, complete: false });
        assert!(!dir.has(&d, size));
        // Re-sending the first chunk is refused with where to resume.
        let e = dir.put_chunk(&d, size, 0, first, Digest::of(first).as_str()).unwrap_err();
        assert!(matches!(e, AttachError::WrongOffset { held: CHUNK_BYTES, offset: 0 }), "{e}");
        assert_eq!(upload(&dir, &data, CHUNK_BYTES), Progress { received: size, complete: true });
        assert_eq!(fs::read(dir.path_of(&d)).unwrap(), data);
        assert!(!partial.exists());
        // Once complete, any further chunk just reports completion.
        assert!(dir.put_chunk(&d, size, 0, first, Digest::of(first).as_str()).unwrap().complete);
    }

    #[test]
    fn a_tampered_chunk_is_not_written_and_a_wrong_file_is_discarded() {
        let dir = BlobDir::new(scratch("tamper"));
        let data = content(2 * CHUNK_BYTES as usize);
        let (d, size) = (Digest::of(&data), data.len() as u64);
        let mut bad = data[..CHUNK_BYTES as usize].to_vec();
        let hash_of_good = Digest::of(&bad);
        bad[10] ^= 1;
        let e = dir.put_chunk(&d, size, 0, &bad, hash_of_good.as_str()).unwrap_err();
        assert!(matches!(e, AttachError::ChunkDigest { offset: 0 }), "{e}");
        assert_eq!(dir.progress(&d, size).unwrap().received, 0);
        // Chunks that each match their own hash but not the file's: the file is discarded.
        let mut other = data.clone();
        other[CHUNK_BYTES as usize + 5] ^= 0xff;
        let mut p = Progress { received: 0, complete: false };
        for off in [0, CHUNK_BYTES] {
            let part = &other[off as usize..(off + CHUNK_BYTES) as usize];
            match dir.put_chunk(&d, size, off, part, Digest::of(part).as_str()) {
                Ok(next) => p = next,
                Err(e) => {
                    assert!(matches!(e, AttachError::FileDigest { .. }), "{e}");
                    p.received = 0;
                }
            }
        }
        assert_eq!(p.received, 0);
        assert!(!dir.has(&d, size));
        assert_eq!(dir.count(), 0);
        assert_eq!(dir.progress(&d, size).unwrap().received, 0);
    }
}
