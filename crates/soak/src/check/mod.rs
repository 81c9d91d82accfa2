//! The checker: the end state the intent log and the spec's rules demand, against
//! the hub's rows as read from outside (a copy of its database, after it exited)
//! and the nodes' stores. It never derives what is expected from a store.
//!
//! For each record the committed intents form a tree (see `tree`); every committed
//! intent must be the hub's current version, an ancestor of it, or a kept losing
//! version in `conflict` (or an ancestor of one); the current version must be the
//! spec's winner among the heads; the hub holds nothing no intent made, counts each
//! record once, and its rollups equal a recomputation from its rows; every node
//! holds exactly the hub's view of its school.

mod counts;
mod facts;
mod node;
mod records;

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};
use yanpei_store::rollup::Rollups;

use self::facts::Facts;
use crate::intent::IntentLog;

/// The hub's state, read from its database by a fresh connection.
#[derive(Debug, Clone, Default)]
pub struct HubSnapshot {
    /// Every record's current version (tombstones included).
    pub records: BTreeMap<Uuid, Activity>,
    /// Every kept losing version (open or resolved).
    pub conflicts: Vec<Activity>,
    /// The rollups as stored.
    pub rollups: Rollups,
    /// The rollup tables were empty while live records existed (the store's open rebuilds them).
    pub rollups_were_empty: bool,
    /// Live records per school as the county statistics count them.
    pub counted: BTreeMap<String, u64>,
    /// Every refusal reason the sync ledger holds, one per line.
    pub ledger_rejections: String,
}

/// A node's state after healing.
#[derive(Debug, Clone)]
pub struct NodeSnapshot {
    /// Its name in the schedule.
    pub name: String,
    /// Its school.
    pub school: SchoolCode,
    /// Every record it holds (tombstones included).
    pub records: BTreeMap<Uuid, Activity>,
    /// Outbox entries still unsent (quarantined ones not counted).
    pub pending: u64,
    /// The changes the hub refused that the node keeps, with the hub's reasons.
    pub quarantined: Vec<(Activity, String)>,
    /// Errors of its last healing syncs.
    pub sync_errors: Vec<String>,
}

/// A class of violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Class {
    /// A committed intent the hub does not hold (the record is missing or older).
    Lost,
    /// Something counted or kept twice.
    Duplicated,
    /// A committed intent replaced by a concurrent one without being kept as a conflict.
    SilentlyOverwritten,
    /// Something at the hub (or made from at a node) that no intent made, or that must be refused.
    Extra,
    /// The hub's current version is not the winner the spec's key picks among the heads.
    WrongWinner,
    /// A node's store differs from what the hub says it may see.
    NodeMismatch,
    /// Rollups or statistics differ from a recomputation of the hub's rows.
    RollupMismatch,
    /// A change the spec refuses, refused without a note in the sync ledger.
    Unrecorded,
}

impl Class {
    /// The name printed in reports.
    pub fn label(self) -> &'static str {
        match self {
            Class::Lost => "lost",
            Class::Duplicated => "duplicated",
            Class::SilentlyOverwritten => "silently overwritten",
            Class::Extra => "extra",
            Class::WrongWinner => "wrong winner",
            Class::NodeMismatch => "node mismatch",
            Class::RollupMismatch => "rollup mismatch",
            Class::Unrecorded => "unrecorded refusal",
        }
    }
}

/// Most violation lines kept per class (the counts are exact).
const LINES_PER_CLASS: usize = 40;

/// What the checker found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// Intents in the log.
    pub intents_logged: u64,
    /// Committed intents checked against the hub.
    pub intents_checked: u64,
    /// Records checked.
    pub records_checked: u64,
    /// Committed intents the hub does not hold.
    pub lost: u64,
    /// Versions kept or counted twice.
    pub duplicated: u64,
    /// Committed intents replaced without a kept conflict.
    pub silently_overwritten: u64,
    /// Things at the hub no intent made, or that must have been refused.
    pub extra: u64,
    /// Records whose current version is not the spec's winner.
    pub wrong_winner: u64,
    /// Node records (or sync failures) that differ from the hub's view.
    pub node_mismatch: u64,
    /// Rollup or statistics differences.
    pub rollup_mismatch: u64,
    /// Refusals the sync ledger does not name.
    pub unrecorded: u64,
    /// Losing versions made before a restore of the hub and absent after it: a node may
    /// already have replaced them with the winner, so only the hub held them, and the copy
    /// put back may predate their arrival.
    pub excused_by_restore: u64,
    /// Committed intents the hub refused for a reason the spec gives (a partner school no
    /// roster version had, a date outside the county's semester), kept quarantined at their
    /// node with that reason.
    pub quarantined: u64,
    /// One line per violation (at most 40 per class), each starting with its class.
    pub violations: Vec<String>,
}

impl Verdict {
    /// Whether nothing was violated.
    pub fn is_clean(&self) -> bool {
        self.lost
            + self.duplicated
            + self.silently_overwritten
            + self.extra
            + self.wrong_winner
            + self.node_mismatch
            + self.rollup_mismatch
            + self.unrecorded
            == 0
    }

    fn add(&mut self, class: Class, n: u64, line: String) {
        let counter = match class {
            Class::Lost => &mut self.lost,
            Class::Duplicated => &mut self.duplicated,
            Class::SilentlyOverwritten => &mut self.silently_overwritten,
            Class::Extra => &mut self.extra,
            Class::WrongWinner => &mut self.wrong_winner,
            Class::NodeMismatch => &mut self.node_mismatch,
            Class::RollupMismatch => &mut self.rollup_mismatch,
            Class::Unrecorded => &mut self.unrecorded,
        };
        let before = *counter;
        *counter += n;
        if usize::try_from(before).unwrap_or(usize::MAX) < LINES_PER_CLASS {
            self.violations.push(format!("{}: {line}", class.label()));
        }
    }
}

/// A rev shortened for a report line: its version number and the first 8 hex digits.
fn short(r: &str) -> &str {
    r.get(..r.find('-').map_or(0, |i| i + 9).min(r.len())).unwrap_or(r)
}

/// Checks the hub and the nodes against the log.
pub fn check(log: &IntentLog, hub: &HubSnapshot, nodes: &[NodeSnapshot]) -> Verdict {
    let mut v = Verdict { intents_logged: log.intents().len() as u64, ..Verdict::default() };
    let facts = Facts::gather(&mut v, log, hub, nodes);
    records::check_refusals_recorded(&mut v, log, hub, &facts);
    records::check_records(&mut v, log, hub, &facts);
    counts::check_counts(&mut v, hub);
    for node in nodes {
        node::check_node(&mut v, hub, node);
    }
    v
}
