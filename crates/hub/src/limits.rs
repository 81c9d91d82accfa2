//! Size limits answered as RESOURCE_EXHAUSTED.
//!
//! tonic refuses a message over the decoding limit with OUT_OF_RANGE (and one that
//! decompresses past it with RESOURCE_EXHAUSTED). For a peer both mean "you sent too
//! much", so the hub answers both the same way; this rewrites the one status here.

use tonic::codegen::http::{HeaderValue, Response};

const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";

/// Rewrites tonic's "message length too large" OUT_OF_RANGE into RESOURCE_EXHAUSTED.
pub(crate) fn oversized_is_resource_exhausted<B>(mut res: Response<B>) -> Response<B> {
    let headers = res.headers_mut();
    let out_of_range = headers.get(GRPC_STATUS).is_some_and(|v| v.as_bytes() == b"11");
    let too_large = headers.get(GRPC_MESSAGE).and_then(|v| v.to_str().ok()).is_some_and(|m| {
        m.contains("message%20length%20too%20large") || m.contains("message length too large")
    });
    if out_of_range && too_large {
        headers.insert(GRPC_STATUS, HeaderValue::from_static("8"));
    }
    res
}
