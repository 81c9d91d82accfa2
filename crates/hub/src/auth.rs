//! Who is calling: taken from the verified client certificate (or a login token the
//! gate verified), never from the request body.

use tonic::Request;
use yanpei_domain::SchoolCode;
use yanpei_pki::{Identity, identity_of};

use crate::HubError;
use crate::gate::{DevIdentity, TokenIdentity};
use crate::revocation::Revocations;

/// The caller's identity from its TLS client certificate, unless the certificate is revoked;
/// without a certificate, the identity of the login token the gate verified.
///
/// Under `--insecure-dev` (no TLS) the gate has put the identity the dev header names
/// in the request's extensions; nothing else can, and over TLS it never does.
pub(crate) fn caller<T>(req: &Request<T>, revoked: &Revocations) -> Result<Identity, HubError> {
    if let Some(DevIdentity(who)) = req.extensions().get::<DevIdentity>() {
        return Ok(who.clone());
    }
    if let Some(TokenIdentity(who)) = req.extensions().get::<TokenIdentity>() {
        return Ok(who.clone());
    }
    let none = || HubError::Unauthenticated(NO_IDENTITY.into());
    let certs = req.peer_certs().ok_or_else(none)?;
    let leaf = certs.first().ok_or_else(none)?;
    revoked.check(leaf.as_ref())?;
    identity_of(leaf.as_ref()).map_err(|e| HubError::PermissionDenied(format!("证书未标明 yanpei 身份：{e}")))
}

const NO_IDENTITY: &str = "需要县 CA 签发的客户端证书，或先用 yanpei login 登录";

/// The caller's school, if the caller is a node (by certificate: a login token never is).
pub(crate) fn node_school<T>(req: &Request<T>, revoked: &Revocations) -> Result<SchoolCode, HubError> {
    if req.extensions().get::<TokenIdentity>().is_some() {
        return Err(HubError::PermissionDenied(
            "同步和附件接口只接受学校节点的证书；登录凭据只能用于查询".into(),
        ));
    }
    match caller(req, revoked)? {
        Identity::Node { school } => Ok(school),
        Identity::Operator { .. } | Identity::Staff { .. } | Identity::Principal { .. } => {
            Err(HubError::PermissionDenied("同步接口只接受学校节点的证书".into()))
        }
    }
}
