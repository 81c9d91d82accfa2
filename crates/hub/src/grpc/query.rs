//! `QueryService` over the typed `Query` methods. Each call resolves the caller,
//! converts the request with `TryFrom` (a bad field is INVALID_ARGUMENT naming it), runs
//! the typed method in a span, converts the answer with `From` and notes its rows for the
//! audit log.

use tonic::{Request, Response, Status};
use tracing::{Instrument, info_span};
use yanpei_proto::pb::{self, query_service_server::QueryService};

use super::convert;
use super::rows::Rows;
use crate::audit::Note;
use crate::query::Query;
use crate::{HubError, auth, model};

/// Resolves the caller, converts the request, runs the handler in a span, converts the
/// answer and notes its rows.
macro_rules! query {
    ($self:ident, $req:ident, $name:literal, $method:ident, $typed:ty, $out:expr) => {{
        let note = Note::of(&$req);
        let who = auth::caller(&$req, &$self.revoked)?;
        let span = info_span!($name, caller = ?who);
        let typed = <$typed>::try_from($req.into_inner()).map_err(|e: HubError| Status::from(e))?;
        let answer = $self.$method(who, &note, typed).instrument(span).await?;
        let out = $out(answer);
        note.rows(out.rows());
        Ok(Response::new(out))
    }};
}

#[tonic::async_trait]
impl QueryService for Query {
    async fn stats(&self, req: Request<pb::StatsRequest>) -> Result<Response<pb::StatsResponse>, Status> {
        query!(self, req, "stats", county_stats, model::StatsQuery, pb::StatsResponse::from)
    }

    async fn sync_ledger(
        &self,
        req: Request<pb::SyncLedgerRequest>,
    ) -> Result<Response<pb::SyncLedgerResponse>, Status> {
        query!(self, req, "sync_ledger", session_ledger, model::LedgerQuery, convert::ledger_to_pb)
    }

    async fn audit(&self, req: Request<pb::AuditRequest>) -> Result<Response<pb::AuditResponse>, Status> {
        query!(self, req, "audit", audit_log, model::AuditQuery, convert::audit_to_pb)
    }

    async fn compliance(
        &self,
        req: Request<pb::ComplianceRequest>,
    ) -> Result<Response<pb::ComplianceResponse>, Status> {
        query!(
            self,
            req,
            "compliance",
            compliance_report,
            model::ComplianceQuery,
            pb::ComplianceResponse::from
        )
    }

    async fn coverage(
        &self,
        req: Request<pb::CoverageRequest>,
    ) -> Result<Response<pb::CoverageResponse>, Status> {
        query!(self, req, "coverage", coverage_report, model::CoverageQuery, pb::CoverageResponse::from)
    }

    async fn sync_status(
        &self,
        req: Request<pb::SyncStatusRequest>,
    ) -> Result<Response<pb::SyncStatusResponse>, Status> {
        query!(self, req, "sync_status", sync_status, model::SyncStatusQuery, pb::SyncStatusResponse::from)
    }

    async fn conflicts(
        &self,
        req: Request<pb::ConflictsRequest>,
    ) -> Result<Response<pb::ConflictsResponse>, Status> {
        query!(self, req, "conflicts", list_conflicts, model::ConflictsQuery, convert::conflicts_to_pb)
    }

    async fn pairings(
        &self,
        req: Request<pb::PairingsRequest>,
    ) -> Result<Response<pb::PairingsResponse>, Status> {
        query!(self, req, "pairings", pairings_report, model::PairingsQuery, pb::PairingsResponse::from)
    }

    async fn gaps(&self, req: Request<pb::GapsRequest>) -> Result<Response<pb::GapsResponse>, Status> {
        query!(self, req, "gaps", gaps_report, model::GapsQuery, pb::GapsResponse::from)
    }
}
