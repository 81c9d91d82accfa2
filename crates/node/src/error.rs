//! The node agent's error type: whether to retry, and a message for the clerk.

use std::error::Error as _;

use tonic::{Code, Status};
use yanpei_store::StoreError;

/// What a node operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The local store failed.
    #[error("本地数据库出错：{0}")]
    Store(#[from] StoreError),
    /// The hub could not be reached (network, TLS, the connection was cut).
    #[error("无法连接县中心：{0}")]
    Transport(String),
    /// The hub answered with an error.
    #[error("县中心拒绝了请求（{}）：{}", .0.code(), .0.message())]
    Hub(Status),
    /// The configuration is incomplete or wrong.
    #[error("配置错误：{0}")]
    Config(String),
    /// The hub holds more of this node's changes than this store ever made: the
    /// store is an older copy. A person must set up a new store (it pulls the
    /// school's records back) and re-enter what was recorded since the copy.
    #[error(
        "本地库比县中心记录的旧（中心已确认到序号 {hub_acked}，本地库只编到 {local_last}），可能是从旧备份恢复的：\
         请另建本地库（yanpei node init --store 新文件），同步后会取回本校已上报的记录，再补录备份之后的记录"
    )]
    StoreBehindHub {
        /// What the hub acknowledged.
        hub_acked: u64,
        /// What this store issued.
        local_last: u64,
    },
    /// An attachment cannot be stored or sent (too large, missing, unreadable).
    #[error("附件：{0}")]
    Attachment(String),
    /// A fault injected on purpose (tests): the agent stopped as if it had crashed.
    #[error("injected fault: {0}")]
    Injected(&'static str),
}

impl From<Status> for NodeError {
    fn from(s: Status) -> Self {
        // A status tonic made from a failed connection (a cut stream, a reset) carries
        // the error as its source, under UNKNOWN; the hub's own answers carry none.
        if s.code() == Code::Unknown && s.source().is_some() {
            return NodeError::Transport(s.message().to_owned());
        }
        NodeError::Hub(s)
    }
}

impl NodeError {
    /// Whether trying again later may succeed without anyone changing anything: a
    /// connection that failed, a crash injected on purpose, a busy store, and the hub's
    /// answers whose code says so ([`retryable`], the one place that decides).
    pub fn is_retryable(&self) -> bool {
        match self {
            NodeError::Transport(_) | NodeError::Injected(_) => true,
            NodeError::Store(e) => e.is_retryable(),
            NodeError::Hub(s) => retryable(s.code()),
            NodeError::Config(_) | NodeError::StoreBehindHub { .. } | NodeError::Attachment(_) => false,
        }
    }

    /// The code of the hub's answer, when the hub answered with an error.
    pub fn hub_code(&self) -> Option<Code> {
        match self {
            NodeError::Hub(s) => Some(s.code()),
            _ => None,
        }
    }
}

/// Whether a call that ended with `code` may succeed if tried again later without anyone
/// changing anything: the hub busy, shedding load or restarting, a call cut or timed out.
/// The one place this is decided ([`NodeError::is_retryable`] asks it).
pub fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Unknown
            | Code::Cancelled
    )
}
