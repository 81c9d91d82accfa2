//! Who is calling: taken from the verified client certificate, never from the request body.

use tonic::Request;
use yanpei_domain::SchoolCode;
use yanpei_pki::{Identity, identity_of};

use crate::HubError;
use crate::gate::DevIdentity;
use crate::revocation::Revocations;

/// The caller's identity from its TLS client certificate, unless the certificate is revoked.
///
/// Under `--insecure-dev` (no TLS) the gate has put the identity the dev header names
/// in the request's extensions; nothing else can, and over TLS it never does.
pub(crate) fn caller<T>(req: &Request<T>, revoked: &Revocations) -> Result<Identity, HubError> {
    if let Some(DevIdentity(who)) = req.extensions().get::<DevIdentity>() {
        return Ok(who.clone());
    }
    let certs =
        req.peer_certs().ok_or_else(|| HubError::Unauthenticated("需要县 CA 签发的客户端证书".into()))?;
    let leaf = certs.first().ok_or_else(|| HubError::Unauthenticated("需要县 CA 签发的客户端证书".into()))?;
    revoked.check(leaf.as_ref())?;
    identity_of(leaf.as_ref()).map_err(|e| HubError::PermissionDenied(format!("证书未标明 yanpei 身份：{e}")))
}

/// The caller's school, if the caller is a node.
pub(crate) fn node_school<T>(req: &Request<T>, revoked: &Revocations) -> Result<SchoolCode, HubError> {
    match caller(req, revoked)? {
        Identity::Node { school } => Ok(school),
        Identity::Operator { .. } | Identity::Staff { .. } => {
            Err(HubError::PermissionDenied("同步接口只接受学校节点的证书".into()))
        }
    }
}
