//! The hub's error type and its one mapping to gRPC status codes.

use tonic::{Code, Status};
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

impl HubError {
    /// The gRPC code a caller gets for this error: the hub's one table. The dashboard maps
    /// these codes to HTTP statuses, and the audit log records them.
    pub fn code(&self) -> Code {
        match self {
            HubError::InvalidArgument(_) => Code::InvalidArgument,
            HubError::PermissionDenied(_) => Code::PermissionDenied,
            HubError::Unauthenticated(_) => Code::Unauthenticated,
            HubError::FailedPrecondition(_) => Code::FailedPrecondition,
            HubError::NotFound(_) => Code::NotFound,
            HubError::ResourceExhausted(_) => Code::ResourceExhausted,
            HubError::Store(s) => store_code(s),
            HubError::Internal(_) | HubError::Startup(_) => Code::Internal,
        }
    }

    /// Whether the same call may succeed later (the database was briefly unavailable or
    /// could not write); typed, so callers never match on messages.
    pub fn is_retryable(&self) -> bool {
        self.code() == Code::Unavailable
    }
}

/// The code a storage error reaches the caller with.
pub(crate) fn store_code(e: &StoreError) -> Code {
    match e {
        StoreError::Unavailable(_) | StoreError::Storage { .. } => Code::Unavailable,
        StoreError::NotFound(_) => Code::NotFound,
        StoreError::PermissionDenied(_) => Code::PermissionDenied,
        StoreError::Invalid(_) => Code::InvalidArgument,
        StoreError::Corrupt(_) | StoreError::Db(_) => Code::Internal,
    }
}

/// The message the caller reads: the error's own for what the caller can act on, a
/// generic one (the detail logged here) for what only the county can fix.
impl From<HubError> for Status {
    fn from(e: HubError) -> Status {
        let code = e.code();
        let message = match e {
            HubError::InvalidArgument(m)
            | HubError::PermissionDenied(m)
            | HubError::Unauthenticated(m)
            | HubError::FailedPrecondition(m)
            | HubError::NotFound(m)
            | HubError::ResourceExhausted(m)
            | HubError::Startup(m) => m,
            HubError::Store(s) => match s {
                StoreError::Unavailable(m) => {
                    tracing::warn!(error = %m, "database unavailable");
                    "中心数据库暂时不可用，请稍后重试".to_owned()
                }
                StoreError::Storage { fault, detail } => {
                    tracing::error!(%fault, error = %detail, "the database cannot write");
                    "中心存储暂时无法写入（磁盘已满或读写故障），本次未写入任何数据，请稍后重试".to_owned()
                }
                StoreError::NotFound(m) | StoreError::PermissionDenied(m) | StoreError::Invalid(m) => m,
                other @ (StoreError::Corrupt(_) | StoreError::Db(_)) => {
                    tracing::error!(error = %other, "storage failure");
                    INTERNAL.to_owned()
                }
            },
            HubError::Internal(m) => {
                tracing::error!(error = %m, "internal failure");
                INTERNAL.to_owned()
            }
        };
        Status::new(code, message)
    }
}

/// What a caller reads for a failure inside the hub.
const INTERNAL: &str = "中心内部错误，已记录日志；请联系县进修学校";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error maps to the code its variant promises, with the message a person can act on.
    #[test]
    fn each_error_has_one_code_and_its_message() {
        let cases: Vec<(HubError, Code, &str)> = vec![
            (HubError::InvalidArgument("字段不对".into()), Code::InvalidArgument, "字段不对"),
            (HubError::PermissionDenied("无权".into()), Code::PermissionDenied, "无权"),
            (HubError::Unauthenticated("请登录".into()), Code::Unauthenticated, "请登录"),
            (HubError::FailedPrecondition("请升级".into()), Code::FailedPrecondition, "请升级"),
            (HubError::NotFound("没有".into()), Code::NotFound, "没有"),
            (HubError::ResourceExhausted("太频繁".into()), Code::ResourceExhausted, "太频繁"),
            (HubError::Internal("secret detail".into()), Code::Internal, INTERNAL),
            (
                HubError::Store(StoreError::Unavailable("pool".into())),
                Code::Unavailable,
                "中心数据库暂时不可用，请稍后重试",
            ),
            (HubError::Store(StoreError::Corrupt("row".into())), Code::Internal, INTERNAL),
            (HubError::Store(StoreError::Invalid("坏".into())), Code::InvalidArgument, "坏"),
        ];
        for (e, code, message) in cases {
            let retryable = e.is_retryable();
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(retryable, code == Code::Unavailable, "{e:?}");
            let s = Status::from(e);
            assert_eq!((s.code(), s.message()), (code, message));
        }
    }
}
