//! Anti-entropy at the hub: what it holds of one school's view (the school's records
//! and the shared records whose current version names it), as per-period digests of
//! (record id, revision) and, for one period, the records a node lacks, holds older
//! or holds at a revision the hub never saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use yanpei_domain::{Rev, SchoolCode, period_digest, period_of};

use crate::StoreError;
use crate::batch::held_state;
use crate::convert::{from_hub_row, parse_revs};
use crate::decide::{Held, Origin};
use crate::entity::{hub_activity, hub_activity_party, hub_counter};
use crate::hub::{HubStore, Pulled};
use crate::node::PeriodDigest;
use crate::shared::insert_parties;

/// What the hub answers for one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodAnswer {
    /// Records the hub never saw at the node's revision: the node sends them again (a
    /// record of another school only if the hub holds it, i.e. it is also in `records`).
    pub wanted: Vec<Uuid>,
    /// The hub's current version of records the node lacks or holds older.
    pub records: Vec<Pulled>,
    /// Records the node holds that are not in its school's view (a partner removed).
    pub gone: Vec<Uuid>,
}

/// What one period's comparison says, given what the node holds (`node`: id → rev),
/// the hub's view of the school for that period (`view`: ids), and what the hub holds
/// of every id involved (`held`). Pure.
pub fn compare_period(
    node: &BTreeMap<Uuid, Rev>,
    view: &BTreeSet<Uuid>,
    held: &HashMap<Uuid, Held>,
) -> (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>) {
    let (mut wanted, mut send, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for (id, nrev) in node {
        match held.get(id) {
            None => wanted.push(*id),
            Some(_) if !view.contains(id) => gone.push(*id),
            Some(h) => {
                let hrev = Rev::of(&h.activity);
                if &hrev == nrev {
                    continue;
                }
                let seen = h.ancestors.contains(nrev) || h.losers.iter().any(|l| &l.rev == nrev);
                if !seen {
                    // The hub never saw the node's version (or lost it with a restore): the
                    // node sends it again, and gets the hub's in case it may not.
                    wanted.push(*id);
                }
                send.push(*id);
            }
        }
    }
    send.extend(view.iter().filter(|id| !node.contains_key(id)).copied());
    (wanted, send, gone)
}

impl HubStore {
    /// The hub's change counter (read first: every change at or below it is committed).
    pub async fn change_counter(&self) -> Result<u64, StoreError> {
        Ok(hub_counter::Entity::find_by_id("change_seq".to_owned())
            .one(&self.conn())
            .await?
            .map(|c| u64::try_from(c.value).unwrap_or(0))
            .unwrap_or(0))
    }

    /// Every record of `school`'s view (tombstones included) with its ancestry.
    async fn view(&self, school: &SchoolCode) -> Result<Vec<Pulled>, StoreError> {
        use sea_orm::sea_query::Query;
        let partner_of = Query::select()
            .column(hub_activity_party::Column::ActivityId)
            .from(hub_activity_party::Entity)
            .and_where(hub_activity_party::Column::SchoolCode.eq(school.as_str()))
            .to_owned();
        let rows = hub_activity::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(hub_activity::Column::SchoolCode.eq(school.as_str()))
                    .add(hub_activity::Column::Id.in_subquery(partner_of)),
            )
            .all(&self.conn())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let cursor = u64::try_from(r.change_seq).unwrap_or(0);
            let ancestors = parse_revs(r.revs.as_deref())?;
            let origin = Origin::of_row(&r);
            let activity = from_hub_row(r)?;
            if activity.involves(school) {
                out.push(Pulled { cursor, activity, ancestors, origin, kept: Vec::new() });
            }
        }
        Ok(out)
    }

    /// The per-period digests of `school`'s view, and the change counter read before them.
    pub async fn view_digests(&self, school: &SchoolCode) -> Result<(u64, Vec<PeriodDigest>), StoreError> {
        let as_of = self.change_counter().await?;
        let mut periods: BTreeMap<String, Vec<(Uuid, Rev)>> = BTreeMap::new();
        for p in self.view(school).await? {
            periods.entry(period_of(&p.activity.id)).or_default().push((p.activity.id, Rev::of(&p.activity)));
        }
        let digests = periods
            .into_iter()
            .map(|(period, entries)| PeriodDigest {
                count: entries.len() as u64,
                digest: period_digest(&entries),
                period,
            })
            .collect();
        Ok((as_of, digests))
    }

    /// Compares one period of `school`'s view with what its node holds (`node`: id → rev).
    pub async fn reconcile_period(
        &self,
        school: &SchoolCode,
        period: &str,
        node: &BTreeMap<Uuid, Rev>,
    ) -> Result<PeriodAnswer, StoreError> {
        let view: Vec<Pulled> =
            self.view(school).await?.into_iter().filter(|p| period_of(&p.activity.id) == period).collect();
        let mut view_ids: BTreeSet<Uuid> = view.iter().map(|p| p.activity.id).collect();
        let held = held_state(&self.conn(), node.keys().chain(view_ids.iter()).copied()).await?;
        // The view and the held state are two reads: on PostgreSQL a batch can commit between
        // them (the node's own record sent again in another session, say). A held record that
        // involves the school is in its view even if the first read missed it; without this
        // it came out "gone" and the node dropped its own record.
        view_ids.extend(held.iter().filter(|(_, h)| h.activity.involves(school)).map(|(id, _)| *id));
        let (wanted, send, gone) = compare_period(node, &view_ids, &held);
        // The planted bug forgets a partner's removal everywhere the hub would tell it.
        let gone = if crate::planted::planted(crate::planted::Bug::ForgetPartnerRemoval) {
            Vec::new()
        } else {
            gone
        };
        // Records this school holds that the hub lacks (a hub restored from an older copy):
        // whatever version of them arrives later must reach this school, if only to tell it
        // the record no longer names it.
        let unknown: Vec<(Uuid, String)> =
            wanted.iter().filter(|id| !held.contains_key(id)).map(|id| (*id, school.to_string())).collect();
        if !unknown.is_empty() {
            let txn = self.db.begin_write().await?;
            insert_parties(&txn, unknown).await?;
            txn.commit().await?;
        }
        let send: BTreeSet<Uuid> = send.into_iter().collect();
        let records = view
            .into_iter()
            .filter(|p| send.contains(&p.activity.id))
            .map(|mut p| {
                p.kept = held
                    .get(&p.activity.id)
                    .map(|h| h.losers.iter().map(|l| l.rev.clone()).collect())
                    .unwrap_or_default();
                p
            })
            .collect();
        Ok(PeriodAnswer { wanted, records, gone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{KeptLoser, Origin};
    use yanpei_domain::{Activity, ActivityKind, example_draft};

    fn record() -> Activity {
        let school: SchoolCode = "CGZ1".parse().unwrap();
        let mut body = example_draft(ActivityKind::Lecture, &school);
        body.details.attachments.clear();
        let day = chrono::NaiveDate::from_ymd_opt(2024, 10, 8).unwrap();
        Activity::create(school, "2024-2025-1".parse().unwrap(), day, ActivityKind::Lecture, body).unwrap()
    }

    fn holding(a: &Activity, ancestors: Vec<Rev>, losers: Vec<Rev>) -> Held {
        Held {
            activity: a.clone(),
            ancestors,
            origin: Origin { node: Uuid::nil(), school: "CGZ1".into() },
            losers: losers.into_iter().map(|rev| KeptLoser { id: 1, rev, open: true }).collect(),
        }
    }

    #[test]
    fn each_difference_has_one_answer() {
        let same = record();
        let (lost_at_hub, behind, unseen, lacking, removed) =
            (record(), record(), record(), record(), record());
        let mut behind2 = behind.clone();
        behind2.version = 2;
        let mut unseen2 = unseen.clone();
        unseen2.version = 2;
        let mut loser = behind.clone();
        loser.version = 2;
        loser.body.notes = Some("输了".into());
        let node: BTreeMap<Uuid, Rev> = [
            (same.id, Rev::of(&same)),
            (lost_at_hub.id, Rev::of(&lost_at_hub)),
            (behind.id, Rev::of(&behind)),
            (unseen.id, Rev::of(&unseen2)),
            (removed.id, Rev::of(&removed)),
        ]
        .into();
        let view: BTreeSet<Uuid> = [same.id, behind.id, unseen.id, lacking.id].into();
        let held: HashMap<Uuid, Held> = [
            (same.id, holding(&same, vec![], vec![])),
            (behind.id, holding(&behind2, vec![Rev::of(&behind)], vec![])),
            (unseen.id, holding(&unseen, vec![], vec![])),
            (lacking.id, holding(&lacking, vec![], vec![])),
            (removed.id, holding(&removed, vec![], vec![])),
        ]
        .into();
        let (wanted, send, gone) = compare_period(&node, &view, &held);
        let mut want_expected = vec![lost_at_hub.id, unseen.id];
        want_expected.sort();
        let mut wanted = wanted;
        wanted.sort();
        assert_eq!(wanted, want_expected, "the hub lacks one and never saw the other's revision");
        let mut send = send;
        send.sort();
        let mut send_expected = vec![behind.id, lacking.id, unseen.id];
        send_expected.sort();
        assert_eq!(
            send, send_expected,
            "the node is behind on one, lacks one, and holds one the hub never saw"
        );
        assert_eq!(gone, vec![removed.id]);
        // A node holding its own losing version is behind: it gets the winner.
        let node: BTreeMap<Uuid, Rev> = [(behind.id, Rev::of(&loser))].into();
        let held: HashMap<Uuid, Held> =
            [(behind.id, holding(&behind2, vec![], vec![Rev::of(&loser)]))].into();
        let (wanted, send, _) = compare_period(&node, &[behind.id].into(), &held);
        assert!(wanted.is_empty());
        assert_eq!(send, vec![behind.id]);
    }
}
