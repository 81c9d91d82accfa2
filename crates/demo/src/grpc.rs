//! The demo's one edge to the hub's gRPC types: county statistics asked over gRPC as
//! the operator, a typed query in and typed rows out (the hub's own query model,
//! `yanpei_hub::model`), and the same call in wire terms for the whole-system tests.

use yanpei_hub::model::{GroupBy, StatsAnswer, StatsQuery, StatsScope};
use yanpei_proto::pb::{self, query_service_client::QueryServiceClient};

use crate::DEMO_SEMESTER;
use crate::error::DemoError;
use crate::run::DemoWorld;

impl DemoWorld {
    /// County statistics over gRPC as the operator, read back into the hub's query model.
    pub async fn stats(&self, query: &StatsQuery) -> Result<StatsAnswer, DemoError> {
        let channel = self.operator_endpoint()?.connect().await?;
        let reply = QueryServiceClient::new(channel).stats(stats_request(query)).await?.into_inner();
        Ok(StatsAnswer::try_from(reply)?)
    }

    /// County statistics of the demo semester over gRPC as the operator, in wire terms.
    pub async fn query_stats(
        &self,
        scope: Option<pb::scope::Target>,
        group_by: pb::GroupBy,
    ) -> Result<pb::StatsResponse, DemoError> {
        let channel = self.operator_endpoint()?.connect().await?;
        let mut client = QueryServiceClient::new(channel);
        Ok(client
            .stats(pb::StatsRequest {
                semester: Some(yanpei_proto::semester_to_pb(DEMO_SEMESTER)),
                scope: scope.map(|t| pb::Scope { target: Some(t) }),
                group_by: group_by as i32,
                ..Default::default()
            })
            .await?
            .into_inner())
    }
}

/// The wire request asking `query` (weeks as their Mondays' dates).
fn stats_request(query: &StatsQuery) -> pb::StatsRequest {
    let target = match &query.scope {
        StatsScope::Readable => None,
        StatsScope::County => Some(pb::scope::Target::County(true)),
        StatsScope::Alliance(code) => Some(pb::scope::Target::AllianceCode(code.clone())),
        StatsScope::School(code) => Some(pb::scope::Target::SchoolCode(code.to_string())),
        StatsScope::Township(name) => Some(pb::scope::Target::Township(name.clone())),
        StatsScope::Area(area) => Some(pb::scope::Target::Area(area.code().to_owned())),
    };
    let group_by = match query.group_by {
        GroupBy::None => pb::GroupBy::Unspecified,
        GroupBy::School => pb::GroupBy::School,
        GroupBy::Alliance => pb::GroupBy::Alliance,
    };
    let week = |w: Option<chrono::NaiveDate>| w.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    pb::StatsRequest {
        semester: query.semester.map(yanpei_proto::semester_to_pb),
        scope: target.map(|t| pb::Scope { target: Some(t) }),
        subject: query.subject.clone().unwrap_or_default(),
        from_week: week(query.from_week),
        to_week: week(query.to_week),
        group_by: group_by as i32,
    }
}
