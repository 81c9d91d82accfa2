//! Each record at the hub against its tree of committed versions: every committed
//! version is current, an ancestor of it, kept as a losing conflict (or an ancestor of
//! one), or refused for a reason the spec gives; the current version is the spec's
//! winner; nothing at the hub is unmade; every refusal is in the sync ledger.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;
use yanpei_domain::Activity;

use super::facts::{Facts, Held};
use super::{Class, HubSnapshot, Verdict, short};
use crate::intent::{Action, IntentLog};
use crate::tree::{RecordTree, Version, rev};

/// Every refused change is named in the ledger (unless a restore put back a copy older
/// than the refusal).
pub(super) fn check_refusals_recorded(v: &mut Verdict, log: &IntentLog, hub: &HubSnapshot, f: &Facts) {
    let foreign_at: BTreeMap<Uuid, u64> = log
        .intents()
        .iter()
        .filter(|i| i.action == Action::ForeignCreate)
        .map(|i| (i.made.id, i.n))
        .collect();
    for (id, how) in &f.must_refuse {
        let restored_after = foreign_at.get(id).is_some_and(|n| f.restores.iter().any(|rs| n < rs));
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
}

/// One record as the hub holds it, beside its tree.
struct AtHub<'a> {
    id: Uuid,
    tree: &'a RecordTree,
    /// The rev of the hub's current version, if it holds the record.
    current: Option<String>,
    /// The losing versions it keeps.
    kept: Vec<&'a Activity>,
}

/// Judges every record the log, the hub's current rows or its kept conflicts name.
pub(super) fn check_records(v: &mut Verdict, log: &IntentLog, hub: &HubSnapshot, f: &Facts) {
    let mut conflicts: BTreeMap<Uuid, Vec<&Activity>> = BTreeMap::new();
    for c in &hub.conflicts {
        conflicts.entry(c.id).or_default().push(c);
    }
    let ids: BTreeSet<Uuid> =
        f.trees.keys().chain(hub.records.keys()).chain(conflicts.keys()).copied().collect();
    for id in ids {
        let current = hub.records.get(&id);
        let kept = conflicts.get(&id).cloned().unwrap_or_default();
        let Some(tree) = f.trees.get(&id) else {
            let line = match f.must_refuse.get(&id) {
                Some(how) => format!("record {id} {how}: the spec refuses it, the hub holds it"),
                None if current.is_some() => format!("record {id}: the hub holds it, no intent made it"),
                None => format!("record {id}: the hub keeps a conflict of it, no intent made it"),
            };
            v.add(Class::Extra, 1, line);
            continue;
        };
        v.records_checked += 1;
        let rec = AtHub { id, tree, current: current.map(rev), kept };
        check_record(v, log, hub, f, &rec);
    }
}

/// One record that committed intents made.
fn check_record(v: &mut Verdict, log: &IntentLog, hub: &HubSnapshot, f: &Facts, rec: &AtHub) {
    let t = rec.tree;
    let mut accounted = accounted_at_hub(v, rec);
    // A version kept quarantined for a reason the spec gives holds its ancestors too.
    for (r, (_, a, _)) in f.held.iter().filter(|(_, (_, a, _))| a.id == rec.id) {
        if t.contains(r) && f.known.refuses(a) {
            accounted.extend(t.lineage(r).into_iter().filter(|x| x != r));
        }
    }
    // Versions the hub refused by its rules never competed.
    let refused: BTreeSet<String> = f.held.keys().filter(|r| t.contains(r)).cloned().collect();
    let winners = t.winners_without(&refused);
    check_winner(v, f, rec, &refused, &winners);
    // The line the hub settled on: where the key ties (identical content from two
    // makers) and the hub holds one of the possible winners, that one's line alone; a
    // version on another possible winner's line lost to it.
    let settled: Vec<&String> = match &rec.current {
        Some(c) if winners.contains(c) => vec![c],
        _ => winners.iter().collect(),
    };
    let on_winning_line: BTreeSet<String> = settled.into_iter().flat_map(|w| t.lineage(w)).collect();
    for (r, ver) in &t.versions {
        if accounted.contains(r) {
            continue;
        }
        match f.held.get(r) {
            Some(held) => judge_held(v, hub, f, rec.id, r, ver, held),
            None => judge_missing(v, log, f, rec, r, ver, on_winning_line.contains(r)),
        }
    }
}

/// The versions the hub's current and kept versions account for (each with its
/// ancestors); notes hub versions no intent made and versions kept twice.
fn accounted_at_hub(v: &mut Verdict, rec: &AtHub) -> BTreeSet<String> {
    let (id, t) = (rec.id, rec.tree);
    let mut accounted: BTreeSet<String> = BTreeSet::new();
    if let Some(c) = &rec.current {
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
    for k in &rec.kept {
        let r = rev(k);
        if Some(&r) == rec.current.as_ref() {
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
    accounted
}

/// The hub's current version, where it is a head, must be the spec's winner. Judged only
/// where the hub holds a winner (current or kept): one the hub lacks is judged as lost,
/// or held by a quarantined descendant, or lost with a restore.
fn check_winner(
    v: &mut Verdict,
    f: &Facts,
    rec: &AtHub,
    refused: &BTreeSet<String>,
    winners: &BTreeSet<String>,
) {
    let t = rec.tree;
    let held_at_hub = |w: &String| rec.current.as_ref() == Some(w) || rec.kept.iter().any(|k| rev(k) == *w);
    if let Some(c) = &rec.current
        && t.heads_without(refused).contains(c)
        && !winners.contains(c)
        && winners.iter().any(held_at_hub)
        && let Some(cv) = t.get(c)
    {
        let w: Vec<String> = winners
            .iter()
            .filter_map(|w| t.get(w).map(|wv| format!("{} by {}", short(w), f.maker(wv))))
            .collect();
        v.add(
            Class::WrongWinner,
            1,
            format!(
                "record {}: the hub's current is {} by {}, the spec's winner is {}",
                rec.id,
                short(c),
                f.maker(cv),
                w.join(" or ")
            ),
        );
    }
}

/// A version the hub refused and a node keeps quarantined: refused for a reason the spec
/// gives (and then named in the ledger), or lost.
fn judge_held(v: &mut Verdict, hub: &HubSnapshot, f: &Facts, id: Uuid, r: &str, ver: &Version, held: &Held) {
    let (node, a, why) = *held;
    if f.known.refuses(a) {
        v.quarantined += ver.intents.len() as u64;
        // Refused after it was made: only a restore after that may have taken the ledger's note.
        let made = ver.intents.iter().min().copied().unwrap_or(0);
        let restored_since = f.restores.iter().any(|rs| *rs > made);
        if !restored_since && !hub.ledger_rejections.contains(&id.to_string()) {
            v.add(
                Class::Unrecorded,
                1,
                format!("record {id}: {} refused, but the sync ledger does not name it", short(r)),
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
}

/// A committed version the hub accounts for nowhere: lost, or silently overwritten, or
/// excused by a restore when it lost and was made before one.
fn judge_missing(
    v: &mut Verdict,
    log: &IntentLog,
    f: &Facts,
    rec: &AtHub,
    r: &str,
    ver: &Version,
    on_winning_line: bool,
) {
    let (id, t) = (rec.id, rec.tree);
    for &n in &ver.intents {
        // A losing line made before a restore may have lived only at the hub (its
        // node took the winner), and the copy put back may predate its arrival.
        let excused = !on_winning_line && f.restores.iter().any(|rs| n < *rs);
        if excused {
            v.excused_by_restore += 1;
            continue;
        }
        let intent = log.intents().iter().find(|i| i.n == n);
        let what = intent.map_or_else(String::new, |i| {
            let half = if f.unknown_committed.contains(&i.group) { ", part of a killed write" } else { "" };
            format!("intent #{n} ({:?} {} by {}{half})", i.action, short(r), i.actor.node)
        });
        match &rec.current {
            None => v.add(Class::Lost, 1, format!("record {id}: {what} is not at the hub (no such record)")),
            Some(c) if t.lineage(r).contains(c) => v.add(
                Class::Lost,
                1,
                format!("record {id}: {what} is not at the hub, which holds the older {}", short(c)),
            ),
            Some(c) => v.add(
                Class::SilentlyOverwritten,
                1,
                format!(
                    "record {id}: {what} is neither the hub's current {}, an ancestor of it, nor a kept conflict",
                    short(c)
                ),
            ),
        }
    }
}
