//! The hub's error type and its one mapping to gRPC status codes.

use tonic::Status;
use yanpei_store::StoreError;

/// Everything a hub RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A field of the request is wrong.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller presented no usable identity.
    #[error("{0}")]
    Unauthenticated(String),
    /// The request cannot proceed in the present state (an outdated node, a closed session).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller tried too often (wrong enrollment codes).
    #[error("{0}")]
    ResourceExhausted(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure inside the hub (logged; the caller sees a generic message).
    #[error("{0}")]
    Internal(String),
    /// The server could not start.
    #[error("hub could not start: {0}")]
    Startup(String),
}

impl From<HubError> for Status {
    fn from(e: HubError) -> Status {
        match e {
            HubError::InvalidArgument(m) => Status::invalid_argument(m),
            HubError::PermissionDenied(m) => Status::permission_denied(m),
            HubError::Unauthenticated(m) => Status::unauthenticated(m),
            HubError::FailedPrecondition(m) => Status::failed_precondition(m),
            HubError::NotFound(m) => Status::not_found(m),
            HubError::ResourceExhausted(m) => Status::resource_exhausted(m),
            HubError::Store(s) => match s {
                StoreError::Unavailable(m) => {
                    tracing::warn!(error = %m, "database unavailable");
                    Status::unavailable("中心数据库暂时不可用，请稍后重试")
                }
                StoreError::Storage { fault, detail } => {
                    tracing::error!(%fault, error = %detail, "the database cannot write");
                    Status::unavailable(
                        "中心存储暂时无法写入（磁盘已满或读写故障），本次未写入任何数据，请稍后重试",
                    )
                }
                StoreError::NotFound(m) => Status::not_found(m),
                StoreError::PermissionDenied(m) => Status::permission_denied(m),
                StoreError::Invalid(m) => Status::invalid_argument(m),
                other @ (StoreError::Corrupt(_) | StoreError::Db(_)) => {
                    tracing::error!(error = %other, "storage failure");
                    Status::internal("中心内部错误，已记录日志；请联系县进修学校")
                }
            },
            HubError::Internal(m) => {
                tracing::error!(error = %m, "internal failure");
                Status::internal("中心内部错误，已记录日志；请联系县进修学校")
            }
            HubError::Startup(m) => Status::internal(m),
        }
    }
}
