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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};
use yanpei_store::rollup::Rollups;

use crate::intent::{Action, EventKind, IntentLog, Outcome};
use crate::tree::{RecordTree, rev};

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

/// What the logged roster versions had: their schools and semesters.
#[derive(Default)]
struct Known<'a> {
    schools: BTreeSet<&'a SchoolCode>,
    semesters: BTreeSet<(yanpei_domain::Semester, chrono::NaiveDate, chrono::NaiveDate)>,
}

/// Whether the spec refuses version `a` under the logged roster versions (none logged:
/// nothing is refusable): it is live and names a partner school none of them had, or its
/// date is outside its semester's dates in all of them.
fn refusable(a: &Activity, known: &Known) -> bool {
    if known.schools.is_empty() || a.deleted {
        return false;
    }
    let ghost = a.body.details.partner_schools.iter().any(|p| !known.schools.contains(p));
    let dated = known.semesters.iter().filter(|(s, ..)| *s == a.semester).collect::<Vec<_>>();
    let out_of_term =
        !dated.is_empty() && !dated.iter().any(|(_, start, end)| (*start..=*end).contains(&a.date));
    ghost || out_of_term
}

fn short(r: &str) -> &str {
    r.get(..r.find('-').map_or(0, |i| i + 9).min(r.len())).unwrap_or(r)
}

/// Checks the hub and the nodes against the log.
pub fn check(log: &IntentLog, hub: &HubSnapshot, nodes: &[NodeSnapshot]) -> Verdict {
    let mut v = Verdict { intents_logged: log.intents().len() as u64, ..Verdict::default() };
    let names: BTreeMap<Uuid, String> =
        log.intents().iter().map(|i| (i.actor.node_id, i.actor.node.clone())).collect();
    let maker = |ver: &crate::tree::Version| -> String {
        let who: Vec<&str> =
            ver.makers.iter().map(|(_, id)| names.get(id).map_or("?", String::as_str)).collect();
        who.join("+")
    };

    // Which actions committed: reported ok, or of unknown outcome with evidence (a later
    // intent was made from one of its versions, or the hub holds one).
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

    // The trees, and the records that must have been refused.
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

    // Where the hub was restored from an earlier copy.
    let restores: Vec<u64> = log
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::HubRestored { .. }))
        .map(|e| e.n)
        .collect();

    // Every refused change is named in the ledger (unless a restore put back a copy older
    // than the refusal).
    let foreign_at: BTreeMap<Uuid, u64> = log
        .intents()
        .iter()
        .filter(|i| i.action == Action::ForeignCreate)
        .map(|i| (i.made.id, i.n))
        .collect();
    for (id, how) in &must_refuse {
        let restored_after = foreign_at.get(id).is_some_and(|n| restores.iter().any(|rs| n < rs));
        if !hub.records.contains_key(id)
            && !restored_after
            && !hub.ledger_rejections.contains(&id.to_string())
        {
            v.add(
                Class::Unrecorded,
                1,
                format!("record {id} {how}: refused, but the sync ledger does not name it"),
            );
        }
    }

    // Versions the hub refused and a node keeps quarantined, and the schools some roster
    // version had: the spec refuses a live version naming a school none had.
    let held: BTreeMap<String, (&str, &Activity, &str)> = nodes
        .iter()
        .flat_map(|n| n.quarantined.iter().map(move |(a, why)| (rev(a), (n.name.as_str(), a, why.as_str()))))
        .collect();
    let mut known = Known::default();
    for e in log.events() {
        if let EventKind::RosterImported { schools, semesters, .. } = &e.kind {
            known.schools.extend(schools);
            known.semesters.extend(semesters.iter().map(|t| (t.semester, t.start, t.end)));
        }
    }

    let mut conflicts: BTreeMap<Uuid, Vec<&Activity>> = BTreeMap::new();
    for c in &hub.conflicts {
        conflicts.entry(c.id).or_default().push(c);
    }
    let ids: BTreeSet<Uuid> =
        trees.keys().chain(hub.records.keys()).chain(conflicts.keys()).copied().collect();
    for id in ids {
        let current = hub.records.get(&id);
        let kept = conflicts.get(&id).cloned().unwrap_or_default();
        let Some(t) = trees.get(&id) else {
            let line = match must_refuse.get(&id) {
                Some(how) => format!("record {id} {how}: the spec refuses it, the hub holds it"),
                None if current.is_some() => format!("record {id}: the hub holds it, no intent made it"),
                None => format!("record {id}: the hub keeps a conflict of it, no intent made it"),
            };
            v.add(Class::Extra, 1, line);
            continue;
        };
        v.records_checked += 1;
        let mut accounted: BTreeSet<String> = BTreeSet::new();
        let cur_rev = current.map(rev);
        if let Some(c) = &cur_rev {
            if t.contains(c) {
                accounted.extend(t.lineage(c));
            } else {
                v.add(
                    Class::Extra,
                    1,
                    format!("record {id}: the hub's current {} was made by no intent", short(c)),
                );
            }
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for k in &kept {
            let r = rev(k);
            if Some(&r) == cur_rev.as_ref() {
                v.add(
                    Class::Duplicated,
                    1,
                    format!("record {id}: {} is current and also kept as a losing conflict", short(&r)),
                );
            } else if !seen.insert(r.clone()) {
                v.add(Class::Duplicated, 1, format!("record {id}: losing version {} kept twice", short(&r)));
            }
            if t.contains(&r) {
                accounted.extend(t.lineage(&r));
            } else {
                v.add(
                    Class::Extra,
                    1,
                    format!("record {id}: a kept conflict {} was made by no intent", short(&r)),
                );
            }
        }
        // A version kept quarantined for a reason the spec gives holds its ancestors too.
        for (r, (_, a, _)) in held.iter().filter(|(_, (_, a, _))| a.id == id) {
            if t.contains(r) && refusable(a, &known) {
                accounted.extend(t.lineage(r).into_iter().filter(|x| x != r));
            }
        }
        // Versions the hub refused by its rules never competed.
        let refused: BTreeSet<String> = held.keys().filter(|r| t.contains(r)).cloned().collect();
        let winners = t.winners_without(&refused);
        // The winner must be current only where the hub holds it (current or kept): one
        // the hub lacks is judged below, as lost, or held by a quarantined descendant, or
        // lost with a restore.
        let held_at_hub = |w: &String| cur_rev.as_ref() == Some(w) || kept.iter().any(|k| rev(k) == *w);
        if let Some(c) = &cur_rev
            && t.heads_without(&refused).contains(c)
            && !winners.contains(c)
            && winners.iter().any(held_at_hub)
            && let Some(cv) = t.get(c)
        {
            let w: Vec<String> = winners
                .iter()
                .filter_map(|w| t.get(w).map(|wv| format!("{} by {}", short(w), maker(wv))))
                .collect();
            v.add(
                Class::WrongWinner,
                1,
                format!(
                    "record {id}: the hub's current is {} by {}, the spec's winner is {}",
                    short(c),
                    maker(cv),
                    w.join(" or ")
                ),
            );
        }
        // The line the hub settled on: where the key ties (identical content from two
        // makers) and the hub holds one of the possible winners, that one's line alone; a
        // version on another possible winner's line lost to it.
        let settled: Vec<&String> = match &cur_rev {
            Some(c) if winners.contains(c) => vec![c],
            _ => winners.iter().collect(),
        };
        let on_winning_line: BTreeSet<String> = settled.into_iter().flat_map(|w| t.lineage(w)).collect();
        for (r, ver) in &t.versions {
            if accounted.contains(r) {
                continue;
            }
            if let Some((node, a, why)) = held.get(r) {
                if refusable(a, &known) {
                    v.quarantined += ver.intents.len() as u64;
                    // Refused after it was made: only a restore after that may have taken the ledger's note.
                    let made = ver.intents.iter().min().copied().unwrap_or(0);
                    let restored_since = restores.iter().any(|rs| *rs > made);
                    if !restored_since && !hub.ledger_rejections.contains(&id.to_string()) {
                        v.add(
                            Class::Unrecorded,
                            1,
                            format!(
                                "record {id}: {} refused, but the sync ledger does not name it",
                                short(r)
                            ),
                        );
                    }
                } else {
                    v.add(
                        Class::Lost,
                        ver.intents.len() as u64,
                        format!(
                            "record {id}: {} ({}) was refused by the hub for \"{why}\" and is quarantined at {node}: the spec accepts it",
                            short(r),
                            if a.deleted { "a deletion" } else { "names only schools a roster version had, dated inside its semester" }
                        ),
                    );
                }
                continue;
            }
            for &n in &ver.intents {
                // A losing line made before a restore may have lived only at the hub (its
                // node took the winner), and the copy put back may predate its arrival.
                let excused = !on_winning_line.contains(r) && restores.iter().any(|rs| n < *rs);
                if excused {
                    v.excused_by_restore += 1;
                    continue;
                }
                let intent = log.intents().iter().find(|i| i.n == n);
                let what = intent.map_or_else(String::new, |i| {
                    let half =
                        if unknown_committed.contains(&i.group) { ", part of a killed write" } else { "" };
                    format!("intent #{n} ({:?} {} by {}{half})", i.action, short(r), i.actor.node)
                });
                match &cur_rev {
                    None => v.add(Class::Lost, 1, format!("record {id}: {what} is not at the hub (no such record)")),
                    Some(c) if t.lineage(r).contains(c) => v.add(Class::Lost, 1, format!(
                        "record {id}: {what} is not at the hub, which holds the older {}", short(c)
                    )),
                    Some(c) => v.add(Class::SilentlyOverwritten, 1, format!(
                        "record {id}: {what} is neither the hub's current {}, an ancestor of it, nor a kept conflict",
                        short(c)
                    )),
                }
            }
        }
    }

    check_counts(&mut v, hub);
    for node in nodes {
        check_node(&mut v, hub, node);
    }
    v
}

/// Rollups against a recomputation from the hub's rows; statistics against a recount.
fn check_counts(v: &mut Verdict, hub: &HubSnapshot) {
    if hub.rollups_were_empty {
        v.add(Class::RollupMismatch, 1, "the rollup tables were empty beside live records".into());
    }
    let expected = Rollups::recompute(hub.records.values());
    if hub.rollups != expected {
        let diff = |a: usize, b: usize| a.abs_diff(b);
        let count =
            |x: &Rollups| [x.week.len(), x.person.len(), x.subject.len(), x.pair.len(), x.subject_week.len()];
        let differing = |a: &Rollups, b: &Rollups| -> usize {
            a.week.iter().filter(|(k, c)| b.week.get(*k) != Some(*c)).count()
                + a.person.iter().filter(|(k, c)| b.person.get(*k) != Some(*c)).count()
                + a.subject.iter().filter(|(k, c)| b.subject.get(*k) != Some(*c)).count()
                + a.pair.iter().filter(|(k, c)| b.pair.get(*k) != Some(*c)).count()
                + a.subject_week.iter().filter(|(k, c)| b.subject_week.get(*k) != Some(*c)).count()
        };
        let (s, e) = (count(&hub.rollups), count(&expected));
        let rows: usize = s.iter().zip(e.iter()).map(|(a, b)| diff(*a, *b)).sum();
        v.add(Class::RollupMismatch, 1, format!(
            "rollups differ from a recomputation of the hub's rows: {} stored rows wrong or extra, {} missing ({rows} rows apart)",
            differing(&hub.rollups, &expected),
            differing(&expected, &hub.rollups)
        ));
    }
    let mut live: BTreeMap<String, u64> = BTreeMap::new();
    for a in hub.records.values().filter(|a| !a.deleted) {
        *live.entry(a.school.to_string()).or_default() += 1;
    }
    let schools: BTreeSet<&String> = live.keys().chain(hub.counted.keys()).collect();
    for s in schools {
        let (n, c) = (live.get(s).copied().unwrap_or(0), hub.counted.get(s).copied().unwrap_or(0));
        if c > n {
            v.add(
                Class::Duplicated,
                c - n,
                format!("school {s}: the statistics count {c} live records, the rows hold {n}"),
            );
        } else if c < n {
            v.add(
                Class::RollupMismatch,
                1,
                format!("school {s}: the statistics count {c} live records, the rows hold {n}"),
            );
        }
    }
}

/// A node holds exactly its school's records and the shared records whose current
/// version names it, each at the hub's current version, and has nothing unsent.
fn check_node(v: &mut Verdict, hub: &HubSnapshot, node: &NodeSnapshot) {
    let name = &node.name;
    for e in &node.sync_errors {
        v.add(Class::NodeMismatch, 1, format!("node {name}: its healing sync fails: {e}"));
    }
    if node.pending > 0 {
        v.add(
            Class::NodeMismatch,
            1,
            format!("node {name}: {} changes still unsent after healing", node.pending),
        );
    }
    let view: BTreeMap<Uuid, &Activity> =
        hub.records.iter().filter(|(_, a)| a.involves(&node.school)).map(|(id, a)| (*id, a)).collect();
    // A record whose change the hub refused stays at the node's version until a person answers.
    let held: BTreeSet<String> = node.quarantined.iter().map(|(a, _)| rev(a)).collect();
    let held_here = |a: &Activity| held.contains(&rev(a));
    for (id, h) in &view {
        match node.records.get(id) {
            None => v.add(
                Class::NodeMismatch,
                1,
                format!(
                    "node {name}: lacks record {id} (hub v{}{}) of {}",
                    h.version,
                    if h.deleted { ", deleted" } else { "" },
                    h.school
                ),
            ),
            Some(mine) if held_here(mine) => {}
            Some(mine) if rev(mine) != rev(h) => v.add(
                Class::NodeMismatch,
                1,
                format!(
                    "node {name}: holds record {id} at {}, the hub at {}",
                    short(&rev(mine)),
                    short(&rev(h))
                ),
            ),
            Some(_) => {}
        }
    }
    for (id, mine) in &node.records {
        if view.contains_key(id) || held_here(mine) {
            continue;
        }
        let why = match hub.records.get(id) {
            None => "the hub does not hold it".to_owned(),
            Some(h) => {
                format!("the hub's current version no longer names {} (owner {})", node.school, h.school)
            }
        };
        v.add(
            Class::NodeMismatch,
            1,
            format!("node {name}: holds record {id} ({}): {why}", short(&rev(mine))),
        );
    }
}
