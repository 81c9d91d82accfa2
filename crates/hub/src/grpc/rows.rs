//! What the audit log counts of each message: the rows a request or answer carries, and
//! the schools an answer involves beyond the caller's. Defined over the wire types, so
//! the count is what crossed the wire.

use yanpei_proto::pb;

/// Rows a message carries, for the log.
pub(crate) trait Rows {
    /// How many records, statistics rows or entries.
    fn rows(&self) -> usize;
}

macro_rules! rows {
    ($($t:ty => |$m:ident| $e:expr),* $(,)?) => { $(impl Rows for $t { fn rows(&self) -> usize { let $m = self; $e } })* };
}

rows! {
    pb::HandshakeRequest => |_m| 0,
    pb::PushRequest => |m| m.changes.len(),
    pb::PullRequest => |_m| 0,
    pb::PullRosterRequest => |_m| 0,
    pb::FinishRequest => |_m| 0,
    pb::ReconcileDigestsRequest => |m| m.digests.len(),
    pb::ReconcilePeriodRequest => |m| m.held.len(),
    pb::ReconcileDigestsResponse => |m| m.differing.len(),
    pb::ReconcilePeriodResponse => |m| m.records.len() + m.wanted.len() + m.gone.len(),
    pb::HandshakeResponse => |_m| 0,
    pb::PushResponse => |_m| 0,
    pb::PullResponse => |m| m.changes.len(),
    pb::PullRosterResponse => |m| usize::from(m.roster.is_some()),
    pb::FinishResponse => |_m| 0,
    pb::StatsResponse => |m| m.rows.len(),
    pb::SyncLedgerResponse => |m| m.sessions.len(),
    pb::AuditResponse => |m| m.entries.len(),
    pb::ConflictsResponse => |m| m.conflicts.len(),
    pb::ComplianceResponse => |m| m.rows.len(),
    pb::CoverageResponse => |m| m.schools.len(),
    pb::SyncStatusResponse => |m| m.schools.len(),
    pb::PairingsResponse => |m| m.pairings.len(),
    pb::GapsResponse => |m| m.groups.len(),
}

/// The schools an answer involves beyond the caller's, for the audit note.
pub(crate) trait Involves {
    fn schools(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Involves for pb::PushResponse {
    fn schools(&self) -> Vec<String> {
        self.refused.iter().filter(|r| !r.owner_school.is_empty()).map(|r| r.owner_school.clone()).collect()
    }
}

macro_rules! involves_nothing {
    ($($t:ty),* $(,)?) => { $(impl Involves for $t {})* };
}

involves_nothing!(
    pb::HandshakeResponse,
    pb::PullResponse,
    pb::PullRosterResponse,
    pb::FinishResponse,
    pb::ReconcileDigestsResponse,
    pb::ReconcilePeriodResponse,
);
