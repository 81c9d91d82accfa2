//! One record's history as the intent log tells it: a tree of versions keyed by
//! their rev (spec v3: `"{version}-{16 hex}"` over the whole `Activity`), each
//! version's parent being the exact version it was made from, and the spec's
//! winner among the heads: the greatest `(version, made by the owner school's
//! node, node id, rev)`.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use uuid::Uuid;
use yanpei_domain::Activity;

use crate::intent::Intent;

/// The rev of a version: its number and the first 8 bytes of SHA-256 over its JSON.
pub fn rev(a: &Activity) -> String {
    let json = serde_json::to_vec(a).unwrap_or_default();
    let digest = Sha256::digest(&json);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", a.version)
}

/// One version of the record that some committed intent made.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// The content.
    pub(crate) content: Activity,
    /// The rev it was made from (`None`: a create, or a base no intent made).
    pub(crate) parent: Option<String>,
    /// Who made it: (made by a node of the owner school, node id). Identical content
    /// made by two nodes is one version with two makers.
    pub(crate) makers: BTreeSet<(bool, Uuid)>,
    /// The intents (log positions) that made it.
    pub(crate) intents: Vec<u64>,
    /// Versions made from it.
    pub(crate) children: BTreeSet<String>,
}

/// A record's tree of committed versions.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordTree {
    pub(crate) versions: BTreeMap<String, Version>,
    /// Intents made from a version no committed intent made: (log position, base rev).
    pub(crate) orphans: Vec<(u64, String)>,
}

impl RecordTree {
    /// Adds a committed intent (in log order, so its base is already there if any intent made it).
    pub(crate) fn add(&mut self, i: &Intent) {
        let r = rev(&i.made);
        let parent = i.base.as_ref().map(rev);
        if let Some(p) = &parent {
            match self.versions.get_mut(p) {
                Some(v) => {
                    v.children.insert(r.clone());
                }
                None => self.orphans.push((i.n, p.clone())),
            }
        }
        let owner = i.actor.school == i.made.school;
        let v = self.versions.entry(r).or_insert_with(|| Version {
            content: i.made.clone(),
            parent: parent.filter(|p| p != &rev(&i.made)),
            makers: BTreeSet::new(),
            intents: Vec::new(),
            children: BTreeSet::new(),
        });
        v.makers.insert((owner, i.actor.node_id));
        v.intents.push(i.n);
    }

    pub(crate) fn contains(&self, r: &str) -> bool {
        self.versions.contains_key(r)
    }

    /// Versions nothing committed was made from.
    #[cfg(test)]
    pub(crate) fn heads(&self) -> BTreeSet<String> {
        self.versions.iter().filter(|(_, v)| v.children.is_empty()).map(|(r, _)| r.clone()).collect()
    }

    /// `r` and every version it descends from.
    pub(crate) fn lineage(&self, r: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut at = Some(r.to_owned());
        while let Some(cur) = at {
            if !out.insert(cur.clone()) {
                break;
            }
            at = self.versions.get(&cur).and_then(|v| v.parent.clone());
        }
        out
    }

    /// The heads once the versions in `refused` (which the hub refused by its rules, so
    /// never held) are taken out: a version is a head when it is not refused and nothing
    /// below it is anything but refused.
    pub(crate) fn heads_without(&self, refused: &BTreeSet<String>) -> BTreeSet<String> {
        fn live_below(t: &RecordTree, r: &str, refused: &BTreeSet<String>, depth: usize) -> bool {
            depth < 10_000
                && t.versions.get(r).is_some_and(|v| {
                    v.children.iter().any(|c| !refused.contains(c) || live_below(t, c, refused, depth + 1))
                })
        }
        self.versions
            .keys()
            .filter(|r| !refused.contains(*r) && !live_below(self, r, refused, 0))
            .cloned()
            .collect()
    }

    /// The heads the spec's key may pick. Usually one; more only when identical content
    /// from two nodes ties with another head on everything but the node id.
    #[cfg(test)]
    pub(crate) fn winners(&self) -> BTreeSet<String> {
        self.winners_without(&BTreeSet::new())
    }

    /// The heads the spec's key may pick among [`RecordTree::heads_without`] `refused`.
    /// Usually one; more only when identical content from two nodes ties with another head
    /// on everything but the node id.
    pub(crate) fn winners_without(&self, refused: &BTreeSet<String>) -> BTreeSet<String> {
        let heads = self.heads_without(refused);
        let key = |r: &str, hi: bool| {
            let v = &self.versions[r];
            let maker = if hi { v.makers.iter().next_back() } else { v.makers.iter().next() };
            let (owner, node) = maker.copied().unwrap_or((false, Uuid::nil()));
            (v.content.version, owner, node, r.to_owned())
        };
        heads
            .iter()
            .filter(|h| heads.iter().filter(|g| g != h).all(|g| key(h, true) > key(g, false)))
            .cloned()
            .collect()
    }

    /// The version with rev `r`.
    pub(crate) fn get(&self, r: &str) -> Option<&Version> {
        self.versions.get(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::NaiveDate;
    use yanpei_domain::{ActivityKind, SchoolCode, example_draft};

    use super::*;
    use crate::intent::{Action, Actor};

    fn actor(node: u128, school: &str) -> Actor {
        Actor { node: format!("n{node}"), node_id: Uuid::from_u128(node), school: school.parse().unwrap() }
    }

    fn record() -> Activity {
        let s: SchoolCode = "T02Z1".parse().unwrap();
        Activity::create(
            s.clone(),
            yanpei_demo::DEMO_SEMESTER,
            NaiveDate::from_ymd_opt(2024, 10, 8).unwrap(),
            ActivityKind::LessonObservation,
            example_draft(ActivityKind::LessonObservation, &s),
        )
        .unwrap()
    }

    fn edit(base: &Activity, note: &str) -> Activity {
        let mut a = base.clone();
        a.version += 1;
        a.body.notes = Some(note.into());
        a
    }

    fn intent(n: u64, who: &Actor, base: Option<&Activity>, made: &Activity) -> Intent {
        Intent {
            n,
            group: n,
            actor: who.clone(),
            action: if base.is_some() { Action::Edit } else { Action::Create },
            base: base.cloned(),
            made: made.clone(),
        }
    }

    #[test]
    fn stale_base_branch_loses_to_the_higher_version_and_stays_a_head() {
        let (a, b) = (actor(1, "T02Z1"), actor(2, "T02Z1"));
        let v1 = record();
        let a2 = edit(&v1, "A");
        let b2 = edit(&v1, "B");
        let b3 = edit(&b2, "B again");
        let mut t = RecordTree::default();
        for i in [
            intent(0, &a, None, &v1),
            intent(1, &a, Some(&v1), &a2),
            intent(2, &b, Some(&v1), &b2),
            intent(3, &b, Some(&b2), &b3),
        ] {
            t.add(&i);
        }
        assert_eq!(t.heads(), [rev(&a2), rev(&b3)].into_iter().collect());
        assert_eq!(t.winners(), [rev(&b3)].into_iter().collect());
        assert!(t.lineage(&rev(&b3)).contains(&rev(&v1)));
        assert!(!t.lineage(&rev(&b3)).contains(&rev(&a2)));
    }

    #[test]
    fn equal_versions_go_to_the_greater_node_and_identical_content_is_one_version() {
        let (a, b) = (actor(1, "T02Z1"), actor(2, "T02Z1"));
        let v1 = record();
        let a2 = edit(&v1, "A");
        let b2 = edit(&v1, "B");
        let mut t = RecordTree::default();
        t.add(&intent(0, &a, None, &v1));
        t.add(&intent(1, &a, Some(&v1), &a2));
        t.add(&intent(2, &b, Some(&v1), &b2));
        assert_eq!(t.winners(), [rev(&b2)].into_iter().collect());
        t.add(&intent(3, &b, Some(&v1), &a2));
        assert_eq!(t.versions.len(), 3, "the same content from two nodes is one version");
    }
}
