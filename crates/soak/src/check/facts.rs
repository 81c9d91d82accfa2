//! What the checker reads from the log (and from what the nodes keep quarantined)
//! before judging any record: which actions committed, each record's tree of committed
//! versions, the records the spec refuses, the hub's restores and what the logged
//! roster versions had.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};

use super::{Class, HubSnapshot, NodeSnapshot, Verdict};
use crate::intent::{Action, EventKind, IntentLog, Outcome};
use crate::tree::{RecordTree, Version, rev};

/// What the logged roster versions had: their schools and semesters.
#[derive(Default)]
pub(super) struct Known<'a> {
    schools: BTreeSet<&'a SchoolCode>,
    semesters: BTreeSet<(yanpei_domain::Semester, chrono::NaiveDate, chrono::NaiveDate)>,
}

impl<'a> Known<'a> {
    /// The schools and semesters of every roster version the log imported.
    fn read(log: &'a IntentLog) -> Self {
        let mut known = Known::default();
        for e in log.events() {
            if let EventKind::RosterImported { schools, semesters, .. } = &e.kind {
                known.schools.extend(schools);
                known.semesters.extend(semesters.iter().map(|t| (t.semester, t.start, t.end)));
            }
        }
        known
    }

    /// Whether the spec refuses version `a` under the logged roster versions (none logged:
    /// nothing is refusable): it is live and names a partner school none of them had, or its
    /// date is outside its semester's dates in all of them.
    pub(super) fn refuses(&self, a: &Activity) -> bool {
        if self.schools.is_empty() || a.deleted {
            return false;
        }
        let ghost = a.body.details.partner_schools.iter().any(|p| !self.schools.contains(p));
        let dated = self.semesters.iter().filter(|(s, ..)| *s == a.semester).collect::<Vec<_>>();
        let out_of_term =
            !dated.is_empty() && !dated.iter().any(|(_, start, end)| (*start..=*end).contains(&a.date));
        ghost || out_of_term
    }
}

/// A version a node keeps quarantined: (the node's name, the version, the hub's reason).
pub(super) type Held<'n> = (&'n str, &'n Activity, &'n str);

/// Everything the checker knows before judging a record.
pub(super) struct Facts<'l, 'n> {
    /// Node names by node id.
    names: BTreeMap<Uuid, String>,
    /// Groups whose outcome is unknown but which committed (a later intent or the hub shows it).
    pub(super) unknown_committed: BTreeSet<u64>,
    /// Every record's tree of committed versions.
    pub(super) trees: BTreeMap<Uuid, RecordTree>,
    /// Records the spec refuses, with how they were made.
    pub(super) must_refuse: BTreeMap<Uuid, String>,
    /// Log positions of the hub's restores from an earlier copy.
    pub(super) restores: Vec<u64>,
    /// Versions the hub refused that a node keeps quarantined, by rev.
    pub(super) held: BTreeMap<String, Held<'n>>,
    /// What the logged roster versions had.
    pub(super) known: Known<'l>,
}

impl<'l, 'n> Facts<'l, 'n> {
    /// Reads the log; counts the committed intents into `v` and notes intents made from a
    /// version no intent made.
    pub(super) fn gather(
        v: &mut Verdict,
        log: &'l IntentLog,
        hub: &HubSnapshot,
        nodes: &'n [NodeSnapshot],
    ) -> Self {
        let names = log.intents().iter().map(|i| (i.actor.node_id, i.actor.node.clone())).collect();
        let (committed, unknown_committed) = committed_groups(log, hub);
        let (trees, must_refuse) = trees_and_refusals(v, log, &committed);
        let restores = log
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::HubRestored { .. }))
            .map(|e| e.n)
            .collect();
        let held = nodes
            .iter()
            .flat_map(|n| {
                n.quarantined.iter().map(move |(a, why)| (rev(a), (n.name.as_str(), a, why.as_str())))
            })
            .collect();
        Facts { names, unknown_committed, trees, must_refuse, restores, held, known: Known::read(log) }
    }

    /// Who made a version, as node names joined by `+`.
    pub(super) fn maker(&self, ver: &Version) -> String {
        let who: Vec<&str> =
            ver.makers.iter().map(|(_, id)| self.names.get(id).map_or("?", String::as_str)).collect();
        who.join("+")
    }
}

/// Which action groups committed: reported ok, or of unknown outcome with evidence (a
/// later intent was made from one of its versions, or the hub holds one). Returns the
/// committed groups and, among them, those of unknown outcome.
fn committed_groups(log: &IntentLog, hub: &HubSnapshot) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let mut at_hub: BTreeSet<String> = hub.records.values().map(rev).collect();
    at_hub.extend(hub.conflicts.iter().map(rev));
    let bases: BTreeSet<String> = log.intents().iter().filter_map(|i| i.base.as_ref()).map(rev).collect();
    let mut committed: BTreeSet<u64> = BTreeSet::new();
    let mut unknown_committed: BTreeSet<u64> = BTreeSet::new();
    let groups: BTreeSet<u64> = log.intents().iter().map(|i| i.group).collect();
    for g in groups {
        match log.outcome_of(g) {
            Some(Outcome::Ok) => {
                committed.insert(g);
            }
            Some(Outcome::Unknown { .. }) | None => {
                let seen = log.intents().iter().filter(|i| i.group == g).any(|i| {
                    let r = rev(&i.made);
                    bases.contains(&r) || at_hub.contains(&r)
                });
                if seen {
                    committed.insert(g);
                    unknown_committed.insert(g);
                }
            }
            Some(Outcome::Refused { .. }) => {}
        }
    }
    (committed, unknown_committed)
}

/// The trees of the committed intents, and the records that must have been refused.
/// Counts the committed intents and notes every intent made from a version no intent made.
fn trees_and_refusals(
    v: &mut Verdict,
    log: &IntentLog,
    committed: &BTreeSet<u64>,
) -> (BTreeMap<Uuid, RecordTree>, BTreeMap<Uuid, String>) {
    let mut trees: BTreeMap<Uuid, RecordTree> = BTreeMap::new();
    let mut must_refuse: BTreeMap<Uuid, String> = BTreeMap::new();
    for i in log.intents() {
        if i.action == Action::ForeignCreate {
            must_refuse.insert(
                i.made.id,
                format!("made by {} of {} as a record of {}", i.actor.node, i.actor.school, i.made.school),
            );
            continue;
        }
        if committed.contains(&i.group) {
            v.intents_checked += 1;
            trees.entry(i.made.id).or_default().add(i);
        }
    }
    for (id, t) in &trees {
        for (n, base) in &t.orphans {
            v.add(
                Class::Extra,
                1,
                format!("record {id}: intent #{n} was made from {base}, a version no intent made"),
            );
        }
    }
    (trees, must_refuse)
}
