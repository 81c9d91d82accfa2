//! The hub's own counts: its rollups against a recomputation from its rows, and the
//! county statistics against a recount of its live records.

use std::collections::{BTreeMap, BTreeSet};

use yanpei_store::rollup::Rollups;

use super::{Class, HubSnapshot, Verdict};

/// Rollups against a recomputation from the hub's rows; statistics against a recount.
pub(super) fn check_counts(v: &mut Verdict, hub: &HubSnapshot) {
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
