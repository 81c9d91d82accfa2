//! How the dashboard's endpoints answer: JSON bodies, and failures as HTTP statuses with
//! the same Chinese message a gRPC client gets (through the hub's one error table).

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::assets::respond;
use crate::HubError;

/// A failure as the page sees it: the HTTP status and the same Chinese message a gRPC client gets.
pub(super) struct Failure {
    pub(super) status: StatusCode,
    pub(super) code: tonic::Code,
    pub(super) message: String,
}

impl From<HubError> for Failure {
    fn from(e: HubError) -> Self {
        // The one mapping to gRPC codes (which also logs internal failures), then to HTTP.
        let status = tonic::Status::from(e);
        let http = match status.code() {
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Failure { status: http, code: status.code(), message: status.message().to_owned() }
    }
}

impl Failure {
    pub(super) fn into_response(self) -> Response {
        json(self.status, &serde_json::json!({ "error": self.message }))
    }
}

pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    respond(status, "application/json; charset=utf-8", body)
}
