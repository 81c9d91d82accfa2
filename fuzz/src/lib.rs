//! What the fuzz targets run: the decoding and validation of every message a
//! hub or a node accepts from a peer, and of a roster file's CSV bytes.
//!
//! Each function takes the fuzzer's bytes, decodes them with prost exactly as
//! tonic's codec does, and runs the validating conversions the receiving side
//! runs (`TryFrom<pb::Activity>` with `Activity::validate`, `semester_from_pb`,
//! `roster_from_pb`, school codes, session UUIDs, the batch rules of the hub's
//! `validate_batch`). Nothing may panic; where a conversion succeeds, the
//! result must survive a round trip unchanged.
//!
//! Inputs that carry several message types start with a selector byte
//! ([`HubRequest`], [`NodeResponse`]); `examples/seeds.rs` writes seeds in
//! that layout from real messages.

use prost::Message;
use uuid::Uuid;
use yanpei_domain::roster::{Roster, Sheet, roster_from_sheets, roster_to_sheets};
use yanpei_domain::{Activity, SchoolCode};
use yanpei_proto::pb;

/// Most changes one push may carry (the hub's `sync::MAX_BATCH`).
pub const MAX_BATCH: usize = 1000;

/// Separates the sheets of a `roster_csv` input: 0xFF is a byte neither UTF-8 nor GBK uses.
pub const SHEET_SEPARATOR: u8 = 0xFF;

/// The request messages the hub accepts, in selector order (the byte modulo their count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubRequest {
    /// `SyncService.Handshake`.
    Handshake,
    /// `SyncService.Push`.
    Push,
    /// `SyncService.Pull`.
    Pull,
    /// `SyncService.PullRoster`.
    PullRoster,
    /// `SyncService.Finish`.
    Finish,
    /// `QueryService.Stats`.
    Stats,
    /// `QueryService.SyncLedger`.
    SyncLedger,
    /// `QueryService.Audit`.
    Audit,
}

impl HubRequest {
    /// Every request type, in selector order.
    pub const ALL: [HubRequest; 8] = [
        HubRequest::Handshake,
        HubRequest::Push,
        HubRequest::Pull,
        HubRequest::PullRoster,
        HubRequest::Finish,
        HubRequest::Stats,
        HubRequest::SyncLedger,
        HubRequest::Audit,
    ];

    /// The selector byte of this type.
    pub fn selector(self) -> u8 {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8
    }
}

/// The response messages a node (or `yanpei query`) accepts from the hub, in selector order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeResponse {
    /// `SyncService.Handshake`.
    Handshake,
    /// `SyncService.Push`.
    Push,
    /// `SyncService.Pull`.
    Pull,
    /// `SyncService.PullRoster`.
    PullRoster,
    /// `QueryService.Stats`.
    Stats,
    /// `QueryService.SyncLedger`.
    SyncLedger,
    /// `QueryService.Audit`.
    Audit,
}

impl NodeResponse {
    /// Every response type, in selector order.
    pub const ALL: [NodeResponse; 7] = [
        NodeResponse::Handshake,
        NodeResponse::Push,
        NodeResponse::Pull,
        NodeResponse::PullRoster,
        NodeResponse::Stats,
        NodeResponse::SyncLedger,
        NodeResponse::Audit,
    ];

    /// The selector byte of this type.
    pub fn selector(self) -> u8 {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8
    }
}

fn split(data: &[u8], count: usize) -> Option<(usize, &[u8])> {
    let (first, rest) = data.split_first()?;
    Some((usize::from(*first) % count, rest))
}

fn session(id: &str) {
    let _ = Uuid::try_parse(id);
}

fn school(code: &str) -> Option<SchoolCode> {
    code.parse().ok()
}

/// One request to the hub: selector byte, then the encoded message.
pub fn hub_requests(data: &[u8]) {
    let Some((which, bytes)) = split(data, HubRequest::ALL.len()) else { return };
    match HubRequest::ALL[which] {
        HubRequest::Handshake => {
            let Ok(r) = pb::HandshakeRequest::decode(bytes) else { return };
            let _ = Uuid::try_parse(&r.node_id);
            let _ = school(&r.school_code);
            let _agent: String = r.agent_version.chars().take(64).collect();
        }
        HubRequest::Push => {
            let Ok(r) = pb::PushRequest::decode(bytes) else { return };
            session(&r.session_id);
            let caller = school("CGZ1");
            let _ = push_batch(caller.as_ref(), r.changes);
        }
        HubRequest::Pull => {
            let Ok(r) = pb::PullRequest::decode(bytes) else { return };
            session(&r.session_id);
        }
        HubRequest::PullRoster => {
            let Ok(r) = pb::PullRosterRequest::decode(bytes) else { return };
            session(&r.session_id);
        }
        HubRequest::Finish => {
            let Ok(r) = pb::FinishRequest::decode(bytes) else { return };
            session(&r.session_id);
        }
        HubRequest::Stats => {
            let Ok(r) = pb::StatsRequest::decode(bytes) else { return };
            if let Some(s) = &r.semester {
                let _ = yanpei_proto::semester_from_pb(Some(s));
            }
            if let Some(pb::scope::Target::SchoolCode(code)) = r.scope.and_then(|s| s.target) {
                let _ = school(&code);
            }
            let _ = pb::GroupBy::try_from(r.group_by);
        }
        HubRequest::SyncLedger => {
            let Ok(r) = pb::SyncLedgerRequest::decode(bytes) else { return };
            let _ = school(&r.school_code);
        }
        HubRequest::Audit => {
            let Ok(r) = pb::AuditRequest::decode(bytes) else { return };
            let _ = school(&r.school_code);
            let _caller = r.caller.trim();
        }
    }
}

/// The hub's batch rules (`sync::validate_batch`): at most [`MAX_BATCH`], `seq`
/// strictly increasing, every change carries a valid activity involving the caller's school.
pub fn push_batch(caller: Option<&SchoolCode>, changes: Vec<pb::Change>) -> Option<Vec<(u64, Activity)>> {
    if changes.len() > MAX_BATCH {
        return None;
    }
    let mut out = Vec::with_capacity(changes.len());
    let mut last_seq = 0u64;
    for c in changes {
        if c.seq <= last_seq {
            return None;
        }
        last_seq = c.seq;
        let activity = valid_activity(c.activity?)?;
        // Protocol 3: ancestors are revisions older than the version; a bad one is refused.
        for r in &c.ancestors {
            let rev = r.parse::<yanpei_domain::Rev>().ok()?;
            assert_eq!(rev.to_string(), *r, "a revision does not print as it parsed");
        }
        if !caller.is_some_and(|c| activity.involves(c)) {
            return None;
        }
        out.push((c.seq, activity));
    }
    Some(out)
}

/// Converts and validates one wire activity; a valid one must round-trip unchanged.
fn valid_activity(p: pb::Activity) -> Option<Activity> {
    let a = Activity::try_from(p).ok()?;
    let back = Activity::try_from(pb::Activity::from(&a));
    assert_eq!(back.as_ref(), Ok(&a), "a valid activity does not survive the wire");
    Some(a)
}

/// One encoded `Activity`, as it arrives inside a push or a pull.
pub fn activity(data: &[u8]) {
    if let Ok(p) = pb::Activity::decode(data) {
        let _ = valid_activity(p);
    }
}

/// One response from the hub: selector byte, then the encoded message.
pub fn node_responses(data: &[u8]) {
    let Some((which, bytes)) = split(data, NodeResponse::ALL.len()) else { return };
    match NodeResponse::ALL[which] {
        NodeResponse::Handshake => {
            let _ = pb::HandshakeResponse::decode(bytes);
        }
        NodeResponse::Push => {
            let _ = pb::PushResponse::decode(bytes);
        }
        NodeResponse::Pull => {
            let Ok(r) = pb::PullResponse::decode(bytes) else { return };
            for c in r.changes {
                if let Some(p) = c.activity {
                    let _ = valid_activity(p);
                }
            }
        }
        NodeResponse::PullRoster => {
            let Ok(r) = pb::PullRosterResponse::decode(bytes) else { return };
            let Some(part) = r.roster else { return };
            let Ok((version, roster)) = yanpei_proto::roster_from_pb(part) else { return };
            let _ = yanpei_domain::roster::validate(&roster);
            let again = yanpei_proto::roster_from_pb(yanpei_proto::roster_to_pb(version, &roster));
            assert_eq!(again, Ok((version, roster)), "a roster part does not survive the wire");
        }
        NodeResponse::Stats => {
            let Ok(r) = pb::StatsResponse::decode(bytes) else { return };
            for row in r.rows {
                let _ = yanpei_proto::kind_from_pb(row.kind);
            }
        }
        NodeResponse::SyncLedger => {
            let _ = pb::SyncLedgerResponse::decode(bytes);
        }
        NodeResponse::Audit => {
            let _ = pb::AuditResponse::decode(bytes);
        }
    }
}

/// The names of a roster's sheets, in workbook order.
pub fn sheet_names() -> Vec<String> {
    roster_to_sheets(&Roster::default()).into_iter().map(|s| s.name).collect()
}

/// A roster folder's CSV files (UTF-8 or GBK), in sheet order, separated by
/// [`SHEET_SEPARATOR`], through the importer. An accepted roster must export
/// and import back unchanged.
pub fn roster_csv(data: &[u8]) {
    let names = sheet_names();
    let mut sheets: Vec<Sheet> = Vec::new();
    for (name, bytes) in names.iter().zip(data.split(|b| *b == SHEET_SEPARATOR)) {
        match yanpei_roster_io::sheet_from_csv_bytes(name, bytes) {
            Ok(sheet) => sheets.push(sheet),
            Err(_) => return,
        }
    }
    let Ok(roster) = roster_from_sheets(&sheets) else { return };
    let again = roster_from_sheets(&roster_to_sheets(&roster));
    assert_eq!(again.as_ref().ok(), Some(&roster), "an accepted roster does not survive export and import");
}
