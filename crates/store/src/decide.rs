//! What one pushed batch does to the hub's state: a pure function of what the hub
//! holds of the batch's records and of the changes that arrived. No I/O: the batch
//! path (`batch.rs`) reads the held state before and writes the decision after.
//!
//! The rules, in order, for a change C of record R sent by school S:
//! 1. R not held and C belongs to another school: refused (a node creates only its
//!    own school's records).
//! 2. C's revision is R's current one, one of its ancestors or a kept losing
//!    version: a replay, unchanged.
//! 3. C changes R's owner, or S is a partner school the held version does not name:
//!    refused. So is a live C that names a partner school no version of the county's
//!    roster ever had (a mistyped code), unless the held version names it too. A school
//!    the county removed stays one it had: records of its time (and their re-sends after
//!    a hub restore) keep naming it. A deletion is never refused for its partners.
//! 4. The held revision is among C's ancestors (or R is not held): C becomes current.
//! 5. Otherwise C and the held version are concurrent, whatever their numbers: the
//!    greater by `(version, made by the owner school, node id, revision)` is current,
//!    the other is kept in full as an open conflict. When C loses, the held version is
//!    written again with a new cursor so every node pulls the winner.
//!
//! Nodes of protocol 2 send no ancestors: for them 4 is "a newer version number",
//! an older number is unchanged, and only an equal number from elsewhere conflicts.

use std::collections::HashMap;

use uuid::Uuid;
use yanpei_domain::{Activity, MAX_ANCESTORS, Rev, SchoolCode};

/// One change of a pushed batch, already validated.
#[derive(Debug, Clone)]
pub struct IncomingChange {
    /// The node's sequence number.
    pub seq: u64,
    /// The record's full state.
    pub activity: Activity,
    /// The revisions it descends from, newest first (empty from protocol-2 nodes and for new records).
    pub ancestors: Vec<Rev>,
    /// Who made this version, when the sender says it did not (a version it pulled and
    /// sends again after a hub restore); `None`: the sender made it.
    pub maker: Option<Origin>,
}

/// Who made a version: a node and its school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The node.
    pub node: Uuid,
    /// Its school's code.
    pub school: String,
}

impl Origin {
    /// Who made the version a hub row holds. Rows from before `origin_school` existed
    /// were made by the owner's nodes.
    pub fn of_row(m: &crate::entity::hub_activity::Model) -> Origin {
        Origin {
            node: m.origin_node,
            school: m.origin_school.clone().unwrap_or_else(|| m.school_code.clone()),
        }
    }

    /// Who made change `c` of a batch `caller` sent: the maker it names, when that is
    /// another node of a school the version involves (its owner or a partner it names;
    /// any of them may hold it and send it again after a hub restore), else the caller.
    /// For ranking, a sender gains nothing by naming another maker that it could not gain
    /// by a higher version number. But the pull does not send a node the versions the hub
    /// records as its own, so a node that names a sibling as the maker of a version the
    /// sibling never made hides it from that sibling until their next comparison
    /// (anti-entropy); the agent names a maker only for a pulled version it sends again.
    pub fn of_change(c: &IncomingChange, caller: &Origin) -> Origin {
        match &c.maker {
            Some(m)
                if m.node != caller.node
                    && !m.node.is_nil()
                    && m.school.parse::<SchoolCode>().is_ok_and(|s| c.activity.involves(&s)) =>
            {
                m.clone()
            }
            _ => caller.clone(),
        }
    }
}

/// The node that sent the batch.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its id.
    pub node: Uuid,
    /// Its school, from its certificate.
    pub school: SchoolCode,
    /// Whether its changes carry ancestors (protocol 3 and later).
    pub causal: bool,
    /// The schools the county's roster has or ever had, as the batch's transaction reads
    /// them; `None` when the batch names no partner school (nothing to check).
    pub roster: Option<std::collections::BTreeSet<SchoolCode>>,
}

impl Caller {
    /// A partner school `a` names that the roster does not have and `held` (the version
    /// the hub holds, if any) does not name: the change is refused for it. A deletion
    /// names none.
    fn off_roster(&self, a: &Activity, held: Option<&Activity>) -> Option<SchoolCode> {
        let roster = self.roster.as_ref()?;
        if a.deleted {
            return None;
        }
        a.body
            .details
            .partner_schools
            .iter()
            .find(|p| {
                !roster.contains(*p) && !held.is_some_and(|h| h.body.details.partner_schools.contains(*p))
            })
            .cloned()
    }
}

impl Caller {
    /// Why a change `a` of the held record `held` (not a replay) is refused, if it is:
    /// it changes the owner, the caller is a partner school `held` does not name, or it
    /// newly names a school off the roster.
    fn refuses(&self, a: &Activity, held: &Activity) -> Option<RefusalReason> {
        if a.school != held.school {
            return Some(RefusalReason::OwnerChange {
                held: held.school.to_string(),
                sent: a.school.clone(),
            });
        }
        if self.school != held.school && !held.body.details.partner_schools.contains(&self.school) {
            return Some(RefusalReason::NotNamed { owner: held.school.to_string() });
        }
        self.off_roster(a, Some(held)).map(|school| RefusalReason::PartnerOffRoster { school })
    }
}

/// A losing version the hub keeps for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLoser {
    /// Its row in `conflict`.
    pub id: i64,
    /// Its revision.
    pub rev: Rev,
    /// Whether it is still open.
    pub open: bool,
}

/// What the hub holds of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The current version.
    pub activity: Activity,
    /// The revisions it descends from (and earlier losers' lineage), newest first.
    pub ancestors: Vec<Rev>,
    /// Who made it.
    pub origin: Origin,
    /// The versions kept as losers.
    pub losers: Vec<KeptLoser>,
}

/// Why a change was refused; rendered for people by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// A new record of another school.
    ForeignCreate {
        /// The school the record says it belongs to.
        owner: SchoolCode,
    },
    /// The change names another owner than the held record.
    OwnerChange {
        /// The held owner.
        held: String,
        /// The owner the change names.
        sent: SchoolCode,
    },
    /// A partner school's change of a record whose held version no longer names it.
    NotNamed {
        /// The record's owner.
        owner: String,
    },
    /// A live version newly naming a partner school no roster version ever had.
    PartnerOffRoster {
        /// The school.
        school: SchoolCode,
    },
}

/// One refused change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The node's sequence number of the change.
    pub seq: u64,
    /// The record.
    pub id: Uuid,
    /// Why.
    pub reason: RefusalReason,
}

/// A record's new state to write (with a new cursor).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// What the hub held before the batch (its rollup contribution leaves).
    pub before: Option<Activity>,
    /// The state to write (equal to `before` when only re-stamped).
    pub after: Activity,
    /// `after`'s ancestors.
    pub ancestors: Vec<Rev>,
    /// Who made `after`.
    pub origin: Origin,
}

/// A version that lost to a concurrent one, to keep in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    /// The losing version.
    pub activity: Activity,
    /// Its revision.
    pub rev: Rev,
    /// Who made it.
    pub lost_by: Origin,
    /// Who made the winner.
    pub won_by: Origin,
    /// Set when a later change of this same batch already resolved it.
    pub resolved_by: Option<u64>,
}

/// What a batch does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// Changes that became current.
    pub applied: u32,
    /// Replays and changes older than what is held (protocol 2).
    pub unchanged: u32,
    /// Changes that met a concurrent version (won or lost).
    pub conflicts: u32,
    /// Refused changes.
    pub refused: Vec<Refused>,
    /// Records to write, in the order the batch first changed them.
    pub writes: Vec<Write>,
    /// Losing versions to keep.
    pub lost: Vec<Lost>,
    /// Kept losers (their `conflict` row ids) resolved, with the resolving version.
    pub resolved: Vec<(i64, u64)>,
}

/// The key that picks the winner of two concurrent versions of a record owned by `owner`.
fn rank<'a>(a: &'a Activity, rev: &'a Rev, origin: &'a Origin, owner: &str) -> (u64, bool, Uuid, String) {
    (a.version, origin.school == owner, origin.node, rev.to_string())
}

/// `first`, then `then`, without repeats, at most [`MAX_ANCESTORS`].
fn merge(first: &[Rev], then: &[Rev]) -> Vec<Rev> {
    let mut out: Vec<Rev> = Vec::with_capacity(MAX_ANCESTORS.min(first.len() + then.len()));
    for r in first.iter().chain(then) {
        if out.len() >= MAX_ANCESTORS {
            break;
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

struct State {
    held: HashMap<Uuid, Held>,
    out: Decision,
    /// Index into `out.writes` by record.
    write_at: HashMap<Uuid, usize>,
}

impl State {
    fn write(&mut self, before: Option<&Activity>, h: &Held) {
        let w = Write {
            before: before.cloned(),
            after: h.activity.clone(),
            ancestors: h.ancestors.clone(),
            origin: h.origin.clone(),
        };
        match self.write_at.get(&h.activity.id) {
            Some(&i) => {
                let first_before = self.out.writes[i].before.take();
                self.out.writes[i] = Write { before: first_before, ..w };
            }
            None => {
                self.write_at.insert(h.activity.id, self.out.writes.len());
                self.out.writes.push(w);
            }
        }
    }

    /// Change `c` (made by `mine`) meets a held version it was not made from: the greater
    /// by [`rank`] is current, the other is kept as a loser; the winner is written again
    /// either way (`before`: what the hub held before the batch).
    fn concurrent(&mut self, c: &IncomingChange, mine: &Origin, before: Option<Activity>) {
        let a = &c.activity;
        let rev = Rev::of(a);
        self.out.conflicts += 1;
        self.resolve(a.id, a.version, |r| c.ancestors.contains(r));
        let Some(h) = self.held.get(&a.id).cloned() else { return };
        let h_rev = Rev::of(&h.activity);
        let owner = h.activity.school.as_str();
        let incoming_wins = rank(a, &rev, mine, owner) > rank(&h.activity, &h_rev, &h.origin, owner);
        if incoming_wins {
            self.out.lost.push(Lost {
                activity: h.activity.clone(),
                rev: h_rev.clone(),
                lost_by: h.origin.clone(),
                won_by: mine.clone(),
                resolved_by: None,
            });
            let mut losers = h.losers.clone();
            losers.push(KeptLoser { id: 0, rev: h_rev, open: true });
            // The replaced version is kept as a loser, never named as an ancestor: a
            // lineage travels with the record (nodes send it again after a restore), the
            // kept losers do not, and a restored hub must not take a losing version it no
            // longer keeps for one it has.
            let ancestors = merge(&c.ancestors, &h.ancestors);
            let new = Held { activity: a.clone(), ancestors, origin: mine.clone(), losers };
            self.write(before.as_ref(), &new);
            self.held.insert(a.id, new);
            self.out.applied += 1;
        } else {
            self.out.lost.push(Lost {
                activity: a.clone(),
                rev: rev.clone(),
                lost_by: mine.clone(),
                won_by: h.origin.clone(),
                resolved_by: None,
            });
            let mut kept = h.clone();
            // Kept as a loser (sent with the winner as `kept`, not as an ancestor): a node
            // holding the losing version sees that the hub has it, and takes the winner.
            kept.losers.push(KeptLoser { id: 0, rev, open: true });
            // The winner again, with a new cursor: the losing node pulls it.
            self.write(before.as_ref(), &kept);
            self.held.insert(a.id, kept);
            self.out.unchanged += 1;
        }
    }

    /// Resolves the open losers of `id` that `pick` selects, by `version`.
    fn resolve(&mut self, id: Uuid, version: u64, pick: impl Fn(&Rev) -> bool) {
        if let Some(h) = self.held.get_mut(&id) {
            for l in h.losers.iter_mut().filter(|l| l.open && pick(&l.rev)) {
                l.open = false;
                if l.id > 0 {
                    self.out.resolved.push((l.id, version));
                }
            }
        }
        for l in self.out.lost.iter_mut().filter(|l| l.activity.id == id && l.resolved_by.is_none()) {
            if pick(&l.rev) {
                l.resolved_by = Some(version);
            }
        }
    }
}

/// Decides what `changes` (one batch from `caller`, in order) do, given what the hub
/// holds of their records (`held`, by id; records it does not hold are absent).
pub fn decide(caller: &Caller, held: HashMap<Uuid, Held>, changes: &[IncomingChange]) -> Decision {
    let mut st = State { held, out: Decision::default(), write_at: HashMap::new() };
    let sender = Origin { node: caller.node, school: caller.school.to_string() };
    // What the hub held before the batch, for rollup deltas.
    let originally: HashMap<Uuid, Activity> =
        st.held.iter().map(|(id, h)| (*id, h.activity.clone())).collect();
    for c in changes {
        let a = &c.activity;
        let rev = Rev::of(a);
        let mine = Origin::of_change(c, &sender);
        let refuse = |st: &mut State, reason| st.out.refused.push(Refused { seq: c.seq, id: a.id, reason });
        let Some(h) = st.held.get(&a.id) else {
            if a.school != caller.school {
                refuse(&mut st, RefusalReason::ForeignCreate { owner: a.school.clone() });
                continue;
            }
            if let Some(school) = caller.off_roster(a, None) {
                refuse(&mut st, RefusalReason::PartnerOffRoster { school });
                continue;
            }
            let new = Held {
                activity: a.clone(),
                ancestors: c.ancestors.clone(),
                origin: mine.clone(),
                losers: vec![],
            };
            st.write(None, &new);
            st.held.insert(a.id, new);
            st.out.applied += 1;
            continue;
        };
        let h_rev = Rev::of(&h.activity);
        let replay = rev == h_rev || h.ancestors.contains(&rev) || h.losers.iter().any(|l| l.rev == rev);
        if replay || (!caller.causal && a.version < h.activity.version) {
            st.out.unchanged += 1;
            continue;
        }
        if let Some(reason) = caller.refuses(a, &h.activity) {
            refuse(&mut st, reason);
            continue;
        }
        let before = originally.get(&a.id).cloned();
        let fast_forward =
            if caller.causal { c.ancestors.contains(&h_rev) } else { a.version > h.activity.version };
        if fast_forward {
            let ancestors =
                if caller.causal { merge(&c.ancestors, &h.ancestors) } else { merge(&[h_rev], &h.ancestors) };
            let losers = h.losers.clone();
            let new = Held { activity: a.clone(), ancestors, origin: mine.clone(), losers };
            st.write(before.as_ref(), &new);
            st.held.insert(a.id, new);
            st.out.applied += 1;
            if caller.causal {
                st.resolve(a.id, a.version, |r| c.ancestors.contains(r));
            } else {
                st.resolve(a.id, a.version, |r| r.version() < a.version);
            }
            continue;
        }
        // Concurrent: two versions neither of which was made from the other.
        st.concurrent(c, &mine, before);
    }
    st.out
}

#[cfg(test)]
mod tests;
