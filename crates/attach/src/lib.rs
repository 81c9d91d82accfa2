//! Attachments on disk: evidence files (photos, lesson plans) kept by content.
//!
//! A file is named by its SHA-256 and stored once at `ROOT/ab/<sha256>` (its first two hex
//! digits as a fan-out directory), written to a temporary file, fsynced and renamed into place,
//! so a visible file is always whole. The node copies attached files in ([`BlobDir::import`]);
//! the hub receives them in fixed chunks ([`CHUNK_BYTES`]) appended to a partial file
//! ([`BlobDir::put_chunk`]) whose durable length is what an interrupted upload resumes from
//! ([`BlobDir::progress`]), and verifies the whole file's hash before it becomes visible.
//! Paths are derived only from a validated [`Digest`], never from a name a peer sends.
//!
//! Everything here is blocking file I/O: async callers run it in `spawn_blocking`.

mod dir;

use std::fmt;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

pub use dir::{BlobDir, Imported, Progress};
pub use yanpei_domain::MAX_ATTACHMENT_BYTES;

/// Bytes per upload chunk: every chunk but a file's last is exactly this long.
pub const CHUNK_BYTES: u64 = 256 * 1024;

/// A SHA-256 as 64 lowercase hex digits, checked: safe to use as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Checks `hex` is 64 lowercase hex digits.
    pub fn parse(hex: &str) -> Result<Digest, AttachError> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Digest(hex.to_owned()))
        } else {
            Err(AttachError::BadDigest(hex.chars().take(80).collect()))
        }
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest(hex(&Sha256::digest(data)))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// What attachment storage and uploads fail with. Messages are for clerks (Chinese).
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// A declared size outside 1 byte ..= [`MAX_ATTACHMENT_BYTES`].
    #[error("附件大小 {size} 字节不合要求：须在 1 字节到 {} MB 之间", MAX_ATTACHMENT_BYTES / 1024 / 1024)]
    BadSize {
        /// The declared size.
        size: u64,
    },
    /// A local file over the per-file limit (checked before anything is written).
    #[error(
        "文件「{}」大小 {:.1} MB，超过附件上限 {} MB：未保存任何内容",
        path.display(), *size as f64 / 1024.0 / 1024.0, MAX_ATTACHMENT_BYTES / 1024 / 1024
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// An empty local file.
    #[error("文件「{}」是空文件，不能作为附件", .0.display())]
    EmptyFile(PathBuf),
    /// Not 64 lowercase hex digits.
    #[error("附件的 SHA-256「{0}」无效：须为 64 位小写十六进制")]
    BadDigest(String),
    /// A chunk not at the offset the hub durably holds.
    #[error("分块偏移 {offset} 与已收到的 {held} 字节不符：请从偏移 {held} 续传")]
    WrongOffset {
        /// Bytes durably held.
        held: u64,
        /// The chunk's offset.
        offset: u64,
    },
    /// A chunk of the wrong length for its place in the file.
    #[error("偏移 {offset} 处的分块应为 {expected} 字节，收到 {got} 字节")]
    WrongLength {
        /// The chunk's offset.
        offset: u64,
        /// The length it must have.
        expected: u64,
        /// The length it has.
        got: u64,
    },
    /// A chunk whose content does not match its hash: nothing of it was written.
    #[error("偏移 {offset} 处的分块校验失败（SHA-256 不符），未写入：请重新发送该分块")]
    ChunkDigest {
        /// The chunk's offset.
        offset: u64,
    },
    /// The assembled file does not hash to its name: it was discarded.
    #[error("附件拼合后的 SHA-256 为 {actual}，与声明的 {expected} 不符：已丢弃收到的内容，请重新上传")]
    FileDigest {
        /// The declared digest.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
    },
    /// A file operation failed.
    #[error("附件存储出错（{what}）：{source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl AttachError {
    pub(crate) fn io(what: impl fmt::Display, source: std::io::Error) -> AttachError {
        AttachError::Io { what: what.to_string(), source }
    }
}

/// Checks a declared file size against the per-file limit.
pub fn check_size(size: u64) -> Result<(), AttachError> {
    if size == 0 || size > MAX_ATTACHMENT_BYTES { Err(AttachError::BadSize { size }) } else { Ok(()) }
}

/// The length the chunk at `offset` must have in a file of `size` bytes.
pub fn chunk_len(size: u64, offset: u64) -> u64 {
    size.saturating_sub(offset).min(CHUNK_BYTES)
}

/// How much of a partial file of `len` bytes counts towards a file of `size` bytes: whole
/// chunks only, so a write torn by a crash is dropped and re-sent; a partial longer than the
/// file counts for nothing.
pub fn durable_prefix(size: u64, len: u64) -> u64 {
    if len > size {
        0
    } else if len == size {
        size
    } else {
        len - len % CHUNK_BYTES
    }
}

/// Checks a chunk of `len` bytes at `offset` of a `size`-byte file when `held` bytes are
/// durably held: it must start exactly there and be a whole chunk (or the file's tail).
pub fn check_chunk(size: u64, held: u64, offset: u64, len: u64) -> Result<(), AttachError> {
    check_size(size)?;
    if offset != held {
        return Err(AttachError::WrongOffset { held, offset });
    }
    let expected = chunk_len(size, offset);
    if len != expected || len == 0 {
        return Err(AttachError::WrongLength { offset, expected, got: len });
    }
    Ok(())
}

/// The offsets of every chunk of a `size`-byte file from `from` on.
pub fn chunk_offsets(size: u64, from: u64) -> impl Iterator<Item = u64> {
    (from..size).step_by(usize::try_from(CHUNK_BYTES).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u64 = CHUNK_BYTES;

    #[test]
    fn digests_are_checked_lowercase_hex() {
        let empty = Digest::of(b"");
        assert_eq!(empty.as_str(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(Digest::parse(empty.as_str()).is_ok());
        assert!(Digest::parse(&empty.as_str().to_uppercase()).is_err());
        assert!(Digest::parse("../../etc/passwd").is_err());
        assert!(Digest::parse(&"a".repeat(63)).is_err());
        assert!(Digest::parse(&format!("{}/", &"a".repeat(63))).is_err());
    }

    #[test]
    fn chunks_are_fixed_except_the_tail() {
        assert_eq!(chunk_len(2 * C + 5, 0), C);
        assert_eq!(chunk_len(2 * C + 5, 2 * C), 5);
        assert_eq!(chunk_len(2 * C + 5, 3 * C), 0);
        assert_eq!(chunk_offsets(2 * C + 5, 0).collect::<Vec<_>>(), vec![0, C, 2 * C]);
        assert_eq!(chunk_offsets(2 * C, C).collect::<Vec<_>>(), vec![C]);
        assert_eq!(chunk_offsets(C, C).count(), 0);
    }

    #[test]
    fn a_chunk_must_start_where_the_hub_holds_and_be_whole() {
        let size = 3 * C + 10;
        assert!(check_chunk(size, 0, 0, C).is_ok());
        assert!(check_chunk(size, 3 * C, 3 * C, 10).is_ok());
        assert!(
            matches!(check_chunk(size, C, 0, C), Err(AttachError::WrongOffset { held, offset: 0 }) if held == C)
        );
        assert!(matches!(check_chunk(size, 0, C, C), Err(AttachError::WrongOffset { .. })));
        assert!(matches!(check_chunk(size, 0, 0, C - 1), Err(AttachError::WrongLength { .. })));
        assert!(matches!(check_chunk(size, 3 * C, 3 * C, 11), Err(AttachError::WrongLength { .. })));
        assert!(matches!(check_chunk(size, size, size, 0), Err(AttachError::WrongLength { .. })));
        assert!(matches!(check_chunk(0, 0, 0, 0), Err(AttachError::BadSize { size: 0 })));
        let over = MAX_ATTACHMENT_BYTES + 1;
        assert!(matches!(check_chunk(over, 0, 0, C), Err(AttachError::BadSize { .. })));
    }

    #[test]
    fn only_whole_chunks_of_a_partial_count() {
        assert_eq!(durable_prefix(3 * C, 0), 0);
        assert_eq!(durable_prefix(3 * C, C), C);
        assert_eq!(durable_prefix(3 * C, C + 7), C);
        assert_eq!(durable_prefix(3 * C, 3 * C), 3 * C);
        assert_eq!(durable_prefix(3 * C, 3 * C + 1), 0);
        assert_eq!(durable_prefix(10, 9), 0);
        assert_eq!(durable_prefix(10, 10), 10);
    }

    #[test]
    fn the_limit_message_names_the_file_and_the_limit() {
        let e = AttachError::FileTooLarge { path: "大视频.mp4".into(), size: 70 * 1024 * 1024 };
        assert_eq!(e.to_string(), "文件「大视频.mp4」大小 70.0 MB，超过附件上限 64 MB：未保存任何内容");
    }
}
