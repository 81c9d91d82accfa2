//! The gate every request passes through, whatever service or handler serves it:
//! it names the caller from the client certificate, applies the caller's rate
//! limit, opens the audit [`Note`] and writes the audit entry once answered.
//!
//! A caller without a certificate may present a login token instead
//! (`authorization: Bearer <token>`): the gate verifies it ([`Accounts::verify`]),
//! refuses a bad one (UNAUTHENTICATED) before any handler runs, and puts the
//! account's identity in the request as [`TokenIdentity`], which only the gate can
//! do and which `auth::caller` reads. A certificate always wins over a token.
//!
//! Health checks pass untouched (probes would flood the log and the buckets).
//! Under `--insecure-dev` there is no certificate: the caller is named by the
//! `x-yanpei-dev-identity` header instead ([`DevIdentity`]); over TLS that header
//! is ignored.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};
use yanpei_pki::{Identity, identity_of};
use yanpei_store::audit::AuditEntry;

use crate::HubError;
use crate::accounts::{Accounts, audit_name};
use crate::audit::{AuditSink, Note, caller_name};
use crate::ratelimit::Buckets;

/// The header naming the caller when the hub runs with `--insecure-dev`.
pub const DEV_IDENTITY_HEADER: &str = "x-yanpei-dev-identity";

/// The identity a `--insecure-dev` hub takes from [`DEV_IDENTITY_HEADER`]; only the gate inserts it.
#[derive(Debug, Clone)]
pub(crate) struct DevIdentity(pub(crate) Identity);

/// The identity of a caller who presented a valid login token and no certificate;
/// only the gate inserts it. Sync and attachment RPCs refuse it.
#[derive(Debug, Clone)]
pub(crate) struct TokenIdentity(pub(crate) Identity);

/// How the log names a caller with no identity.
const NOBODY: &str = "（无身份）";

/// Parses `node:CODE`, `staff:ID`, `operator:NAME` or `principal:CODE`.
pub(crate) fn parse_identity(text: &str) -> Option<Identity> {
    let (kind, value) = text.trim().split_once(':')?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match kind.trim() {
        "node" => value.parse().ok().map(|school| Identity::Node { school }),
        "staff" => Some(Identity::Staff { id: value.to_owned() }),
        "operator" => Some(Identity::Operator { name: value.to_owned() }),
        "principal" => value.parse().ok().map(|school| Identity::Principal { school }),
        _ => None,
    }
}

#[derive(Debug)]
struct State {
    buckets: Buckets,
    audit: AuditSink,
    insecure_dev: bool,
    accounts: Accounts,
}

/// The layer that puts the gate in front of every service.
#[derive(Debug, Clone)]
pub(crate) struct GateLayer(Arc<State>);

impl GateLayer {
    pub(crate) fn new(buckets: Buckets, audit: AuditSink, insecure_dev: bool, accounts: Accounts) -> Self {
        GateLayer(Arc::new(State { buckets, audit, insecure_dev, accounts }))
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Gate<S> {
        Gate { inner, state: self.0.clone() }
    }
}

/// The gate in front of one service.
#[derive(Debug, Clone)]
pub(crate) struct Gate<S> {
    inner: S,
    state: Arc<State>,
}

/// The caller's identity as the certificate (or, in dev mode, the header) names it.
fn identity<B>(req: &http::Request<B>, insecure_dev: bool) -> Option<Identity> {
    if insecure_dev {
        let header = req.headers().get(DEV_IDENTITY_HEADER)?.to_str().ok()?;
        return parse_identity(header);
    }
    let certs = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?.peer_certs()?;
    identity_of(certs.first()?.as_ref()).ok()
}

/// The token of an `authorization: Bearer <token>` header, if any.
fn bearer<B>(req: &http::Request<B>) -> Option<String> {
    let value = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// The peer's IP address: callers without an identity share a rate-limit bucket per address.
fn peer_ip<B>(req: &http::Request<B>) -> String {
    let ext = req.extensions();
    let addr = ext
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|t| t.get_ref().remote_addr())
        .or_else(|| ext.get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr));
    addr.map(|a| a.ip().to_string()).unwrap_or_default()
}

/// A request tonic could not decode (invalid UTF-8 in a string, a malformed message) is
/// the caller's mistake: INVALID_ARGUMENT with a Chinese message, not tonic's INTERNAL.
fn undecodable_is_invalid<R: Default>(res: http::Response<R>) -> http::Response<R> {
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if header("grpc-status") == "13" && header("grpc-message").starts_with("failed%20to%20decode") {
        return tonic::Status::from(HubError::InvalidArgument(
            "请求无法解码：消息格式不对，或文字不是合法的 UTF-8 编码；请检查客户端（protobuf 的 string 字段须为 UTF-8）".into(),
        ))
        .into_http();
    }
    res
}

fn grpc_code<B>(res: &http::Response<B>) -> i32 {
    res.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl<S, B, R> Service<http::Request<B>> for Gate<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The service that was polled ready serves this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rpc = req.uri().path().to_owned();
        if rpc.starts_with("/grpc.health.v1.Health/") {
            return Box::pin(inner.call(req));
        }
        let state = self.state.clone();
        let at = chrono::Utc::now();
        let who = identity(&req, state.insecure_dev);
        // A certificate (or, in dev mode, the header) wins; only without one is a token read.
        let token = if who.is_none() { bearer(&req) } else { None };
        let mut caller = who.as_ref().map(caller_name);
        let ip = peer_ip(&req);
        if let (true, Some(who)) = (state.insecure_dev, who) {
            req.extensions_mut().insert(DevIdentity(who));
        }
        let note = Note::default();
        req.extensions_mut().insert(note.clone());
        Box::pin(async move {
            let mut refused = None;
            if let Some(token) = token {
                match state.accounts.verify(&token).await {
                    Ok(c) => {
                        caller = Some(audit_name(&c.username));
                        req.extensions_mut().insert(TokenIdentity(c.identity));
                    }
                    Err(e) => refused = Some(tonic::Status::from(e)),
                }
            }
            let bucket = caller.clone().unwrap_or_else(|| format!("{NOBODY}@{ip}"));
            let caller = caller.unwrap_or_else(|| NOBODY.to_owned());
            let res = match state.buckets.take(&bucket, Instant::now()) {
                Ok(()) => match refused {
                    Some(status) => {
                        tracing::warn!(%rpc, %ip, reason = status.message(), "login token refused");
                        status.into_http()
                    }
                    None => undecodable_is_invalid(inner.call(req).await?),
                },
                Err(wait) => {
                    let limit = state.buckets.limit();
                    tracing::warn!(%caller, %rpc, "rate limit exceeded; request shed");
                    tonic::Status::from(HubError::ResourceExhausted(format!(
                        "请求过于频繁：每个证书每秒最多 {} 次请求（可连续 {} 次）；请 {} 秒后重试，节点会自动稍后重试",
                        limit.per_second,
                        limit.burst,
                        wait.as_secs().max(1)
                    )))
                    .into_http()
                }
            };
            let (schools, rows) = note.take();
            let code = grpc_code(&res);
            state.audit.record(AuditEntry { at, caller, rpc, schools, rows, code }).await;
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_identities_parse() {
        assert!(matches!(parse_identity("node:CGZ1"), Some(Identity::Node { .. })));
        assert!(
            matches!(parse_identity(" operator: dev "), Some(Identity::Operator { name }) if name == "dev")
        );
        assert!(matches!(parse_identity("staff:JY01"), Some(Identity::Staff { id }) if id == "JY01"));
        assert!(parse_identity("node:").is_none());
        assert!(parse_identity("root:x").is_none());
        assert!(parse_identity("CGZ1").is_none());
    }

    #[test]
    fn an_undecodable_request_is_invalid_argument_in_chinese() {
        // What tonic answers for a message prost cannot decode.
        let decode = || {
            tonic::Status::internal("failed to decode Protobuf message: Activity.actor: invalid string value: data is not UTF-8 encoded")
                .into_http::<()>()
        };
        // (the handler's answer, the code the caller gets)
        let table: [(http::Response<()>, &str); 3] = [
            (decode(), "3"),
            (tonic::Status::internal("数据库出错").into_http(), "13"),
            (tonic::Status::not_found("没有").into_http(), "5"),
        ];
        for (res, want) in table {
            let res = undecodable_is_invalid(res);
            assert_eq!(res.headers().get("grpc-status").and_then(|v| v.to_str().ok()), Some(want));
        }
        let res = undecodable_is_invalid(decode());
        let message = res.headers().get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(message.contains("UTF-8") && !message.contains("failed"), "{message}");
    }
}
