//! `AccountService`: the Login RPC, open to callers with neither certificate nor token.

use tonic::{Request, Response, Status};
use yanpei_proto::pb::{self, account_service_server::AccountService};

use crate::accounts::Accounts;

/// The gRPC face of [`Accounts`].
pub(crate) struct AccountGrpc(pub(crate) Accounts);

#[tonic::async_trait]
impl AccountService for AccountGrpc {
    async fn login(&self, req: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let r = req.into_inner();
        let s = self.0.login(&r.username, &r.password).await?;
        Ok(Response::new(pb::LoginResponse {
            token: s.token,
            username: s.username,
            display_name: s.display_name,
            role: s.role.code().into(),
            subject: s.role.subject(),
            expires_at: s.expires_at.to_rfc3339(),
        }))
    }
}
