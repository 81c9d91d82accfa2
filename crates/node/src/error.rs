//! The node agent's error type: whether to retry, and a message for the clerk.

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
    /// A fault injected on purpose (tests): the agent stopped as if it had crashed.
    #[error("injected fault: {0}")]
    Injected(&'static str),
}

impl From<Status> for NodeError {
    fn from(s: Status) -> Self {
        // A cut connection surfaces as a status too; treat it as transport.
        if s.code() == Code::Unknown && s.message().contains("transport") {
            return NodeError::Transport(s.message().to_owned());
        }
        NodeError::Hub(s)
    }
}

impl NodeError {
    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            NodeError::Transport(_) | NodeError::Injected(_) => true,
            NodeError::Store(e) => e.is_retryable(),
            NodeError::Hub(s) => matches!(
                s.code(),
                Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::Unknown
                    | Code::Cancelled
            ),
            NodeError::Config(_) => false,
        }
    }
}
