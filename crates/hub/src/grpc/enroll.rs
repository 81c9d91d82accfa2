//! `EnrollService`: the wire face of [`crate::enroll::Enroll`], and the handshake's check
//! that a node uses the node id its certificate is bound to.

use tonic::{Request, Response, Status};
use tracing::warn;
use yanpei_proto::pb::{self, enroll_service_server::EnrollService};

use crate::audit::Note;
use crate::enroll::{Enroll, EnrollRequest, bound_node_id};
use crate::{HubError, auth};

/// Refuses a handshake whose node id is not the one the caller's certificate is bound to.
pub(crate) fn check_handshake(req: &Request<pb::HandshakeRequest>) -> Result<(), Status> {
    match bound_node_id(req) {
        Some(bound) if !bound.eq_ignore_ascii_case(req.get_ref().node_id.trim()) => {
            warn!(%bound, claimed = %req.get_ref().node_id, "handshake with another node's id refused");
            Err(HubError::PermissionDenied(format!(
                "本节点证书绑定的节点编号是 {bound}，不能以节点「{}」的身份同步；请使用本机的节点程序和本地库",
                req.get_ref().node_id
            ))
            .into())
        }
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl EnrollService for Enroll {
    async fn enroll(&self, req: Request<pb::EnrollRequest>) -> Result<Response<pb::EnrollResponse>, Status> {
        let note = Note::of(&req);
        let address = req.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default();
        let r = req.into_inner();
        let r = EnrollRequest { code: r.code, node_id: r.node_id, csr_pem: r.csr_pem };
        let e = self.enroll(&address, r, &note).await?;
        note.rows(1);
        Ok(Response::new(pb::EnrollResponse {
            cert_pem: e.cert_pem,
            ca_pem: e.ca_pem,
            school_code: e.school_code,
            school_name: e.school_name,
        }))
    }

    async fn renew(&self, req: Request<pb::RenewRequest>) -> Result<Response<pb::RenewResponse>, Status> {
        let note = Note::of(&req);
        let school = auth::node_school(&req, &self.revoked)?;
        note.school(&school);
        let node_id = bound_node_id(&req);
        let cert_pem = self.renew(school, node_id, &req.get_ref().csr_pem).await?;
        note.rows(1);
        Ok(Response::new(pb::RenewResponse { cert_pem }))
    }
}
