//! What people do at the schools' nodes: record, edit, delete, change a shared
//! record's partner schools, resolve conflicts — each announced in the intent log
//! before it runs, with the exact version it is made from, and then its outcome as
//! the node reported it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;
use yanpei_demo::DEMO_SEMESTER;
use yanpei_domain::{Activity, ActivityKind, Field, SchoolCode, example_draft};
use yanpei_node::Agent;

use crate::SoakError;
use crate::intent::{Action, Actor, IntentLog, Outcome};

/// A node of the schedule: a school's office PC.
#[derive(Debug)]
pub(crate) struct SoakNode {
    pub(crate) agent: Agent,
    pub(crate) actor: Actor,
    /// Errors of the last healing round.
    pub(crate) errors: Vec<String>,
}

/// The people of one schedule and the log of what they did.
#[derive(Debug)]
pub(crate) struct Cast {
    pub(crate) nodes: Vec<SoakNode>,
    /// Every school of the schedule (with or without a node).
    pub(crate) schools: Vec<SchoolCode>,
    /// Schools of the county without a node in the schedule that shared records may
    /// name as partners; a roster version may remove them (and put them back).
    pub(crate) outside: Vec<SchoolCode>,
    /// Schools the roster the hub holds no longer has.
    pub(crate) removed: BTreeSet<SchoolCode>,
    /// Codes no roster version has (typos) that a person now and then names as a partner.
    pub(crate) ghosts: Vec<SchoolCode>,
    /// The first and last day of the county's semester the records are filed under.
    pub(crate) term: (NaiveDate, NaiveDate),
    pub(crate) log: IntentLog,
    /// Records created through another school's certificate: nobody edits them.
    pub(crate) foreign: BTreeSet<Uuid>,
    /// Records whose create committed (or may have).
    pub(crate) created: usize,
    ids: StdRng,
}

/// Mistyped school codes (no roster version has them).
const GHOSTS: [&str; 2] = ["ZZ91", "ZZ92"];

fn io(e: std::io::Error) -> SoakError {
    SoakError::Io(e)
}

impl Cast {
    pub(crate) fn new(
        nodes: Vec<SoakNode>,
        schools: Vec<SchoolCode>,
        outside: Vec<SchoolCode>,
        log: IntentLog,
        seed: u64,
    ) -> Cast {
        Cast {
            nodes,
            schools,
            ghosts: if outside.is_empty() {
                Vec::new()
            } else {
                GHOSTS.iter().filter_map(|g| g.parse().ok()).collect()
            },
            outside,
            term: DEMO_SEMESTER.dates(),
            removed: BTreeSet::new(),
            log,
            foreign: BTreeSet::new(),
            created: 0,
            ids: StdRng::seed_from_u64(seed ^ 0x1d5),
        }
    }

    /// A UUIDv7 from the schedule's seed, its time spread over the semester's months.
    fn id(&mut self) -> Uuid {
        let start_ms: u64 = 1_725_148_800_000; // 2024-09-01
        let ms =
            start_ms + self.ids.random_range(0..150u64) * 86_400_000 + self.ids.random_range(0..86_400_000);
        let mut bytes = [0u8; 10];
        for b in &mut bytes {
            *b = self.ids.random();
        }
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
    }

    /// `n` new records of `school`; `shared` ones are 送课下乡 naming other schools of the schedule.
    pub(crate) fn new_records(
        &mut self,
        rng: &mut StdRng,
        school: &SchoolCode,
        n: usize,
        shared: f64,
    ) -> Vec<Activity> {
        let kinds: Vec<ActivityKind> = ActivityKind::ALL
            .iter()
            .copied()
            .filter(|k| !k.family().required().contains(&Field::PartnerSchools))
            .collect();
        let others: Vec<SchoolCode> = self.schools.iter().filter(|s| *s != school).cloned().collect();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let share = !others.is_empty() && rng.random_bool(shared);
            let kind =
                if share { ActivityKind::LessonDelivery } else { kinds[rng.random_range(0..kinds.len())] };
            let Some(day) = NaiveDate::from_ymd_opt(2024, 9, 2)
                .map(|d| d + chrono::TimeDelta::days(rng.random_range(0..130)))
            else {
                continue;
            };
            let mut body = example_draft(kind, others.first().unwrap_or(school));
            body.details.partner_schools.clear();
            body.details.attachments.clear();
            if share {
                let k = rng.random_range(1..=others.len().min(2));
                let mut pick = others.clone();
                for _ in 0..k {
                    let p = pick.swap_remove(rng.random_range(0..pick.len()));
                    body.details.partner_schools.push(p);
                }
                // Now and then a school without a node of the schedule, which a roster
                // version may remove (the person may not know it has).
                if !self.outside.is_empty() && rng.random_bool(0.2) {
                    body.details
                        .partner_schools
                        .push(self.outside[rng.random_range(0..self.outside.len())].clone());
                }
                if !self.ghosts.is_empty() && rng.random_bool(0.03) {
                    body.details
                        .partner_schools
                        .push(self.ghosts[rng.random_range(0..self.ghosts.len())].clone());
                }
            }
            body.actor = format!("教师{}", rng.random_range(0..40));
            if body.topic.is_some() {
                body.topic = Some(format!("课题{}", rng.random_range(0..1000)));
            }
            if let Ok(mut a) = Activity::create(school.clone(), DEMO_SEMESTER, day, kind, body) {
                a.id = self.id();
                out.push(a);
            }
        }
        out
    }

    /// Records `records` at node `i` in one transaction; with `cancel`, the write is
    /// abandoned after that long (a crash mid-transaction). Returns whether it timed out.
    pub(crate) async fn record(
        &mut self,
        i: usize,
        records: Vec<Activity>,
        cancel: Option<Duration>,
    ) -> Result<bool, SoakError> {
        if records.is_empty() {
            return Ok(false);
        }
        let n = records.len();
        let changes = records.iter().map(|a| (None, a.clone())).collect();
        let group = self.log.begin(&self.nodes[i].actor, Action::Create, changes).map_err(io)?;
        let store = self.nodes[i].agent.store().clone();
        let (outcome, cancelled) = run(cancel, async move { store.record_all(&records).await }).await;
        if !matches!(outcome, Outcome::Refused { .. }) {
            self.created += n;
        }
        self.log.outcome(group, outcome).map_err(io)?;
        Ok(cancelled)
    }

    /// Live records node `i` holds that its people may edit (its school's, not foreign).
    pub(crate) async fn editable(&self, i: usize) -> Result<Vec<Activity>, SoakError> {
        let store = self.nodes[i].agent.store();
        Ok(store
            .all()
            .await?
            .into_values()
            .filter(|a| !a.deleted && &a.school == store.school() && !self.foreign.contains(&a.id))
            .collect())
    }

    /// Edits or deletes record `base` at node `i`: one transaction, one intent.
    pub(crate) async fn change(
        &mut self,
        rng: &mut StdRng,
        i: usize,
        base: &Activity,
        delete: bool,
        cancel: Option<Duration>,
    ) -> Result<bool, SoakError> {
        let mut next = base.clone();
        next.version += 1;
        let action = if delete {
            next.deleted = true;
            Action::Delete
        } else {
            match rng.random_range(0..4) {
                0 => next.body.actor = format!("教师{}", rng.random_range(0..40)),
                1 => {
                    let (first, last) = self.term;
                    let span = (last - first).num_days().max(1) + 1;
                    next.date = first + chrono::TimeDelta::days(rng.random_range(0..span));
                    // Now and then a date mistyped past the semester's end (the hub refuses it).
                    if !self.ghosts.is_empty() && rng.random_bool(0.03) {
                        next.date = last + chrono::TimeDelta::days(rng.random_range(1..20));
                    }
                }
                _ => next.body.notes = Some(format!("修改{}", rng.random_range(0..100_000))),
            }
            Action::Edit
        };
        self.update(i, action, base, next, cancel).await
    }

    /// Changes the partner schools of shared record `base` at node `i` (add, remove or
    /// replace one). Returns whether there was a change to make.
    pub(crate) async fn repartner(
        &mut self,
        rng: &mut StdRng,
        i: usize,
        base: &Activity,
    ) -> Result<bool, SoakError> {
        let mut next = base.clone();
        next.version += 1;
        let partners = &mut next.body.details.partner_schools;
        let outside: Vec<SchoolCode> = self
            .schools
            .iter()
            .chain(&self.outside)
            .filter(|s| **s != base.school && !partners.contains(s))
            .cloned()
            .collect();
        match rng.random_range(0..3) {
            0 if !outside.is_empty() && partners.len() < 3 => {
                partners.push(outside[rng.random_range(0..outside.len())].clone());
            }
            1 if partners.len() > 1 => {
                partners.remove(rng.random_range(0..partners.len()));
            }
            _ if !outside.is_empty() => {
                let k = rng.random_range(0..partners.len());
                partners[k] = outside[rng.random_range(0..outside.len())].clone();
            }
            _ => return Ok(false),
        }
        self.update(i, Action::Partners, base, next, None).await?;
        Ok(true)
    }

    async fn update(
        &mut self,
        i: usize,
        action: Action,
        base: &Activity,
        next: Activity,
        cancel: Option<Duration>,
    ) -> Result<bool, SoakError> {
        let group = self
            .log
            .begin(&self.nodes[i].actor, action, vec![(Some(base.clone()), next.clone())])
            .map_err(io)?;
        let store = self.nodes[i].agent.store().clone();
        let (outcome, cancelled) = run(cancel, async move { store.update(&next).await }).await;
        self.log.outcome(group, outcome).map_err(io)?;
        Ok(cancelled)
    }

    /// Answers the hub's refusals at node `i`: each quarantined record of its school gets
    /// a new version with its mistyped partner codes replaced by a school of the schedule
    /// and a date past the semester put back inside it, or (now and then) is deleted. A quarantined deletion
    /// cannot be edited and stays. Returns how many were answered.
    pub(crate) async fn fix_quarantined(&mut self, rng: &mut StdRng, i: usize) -> Result<u32, SoakError> {
        let store = self.nodes[i].agent.store().clone();
        let mut done = 0;
        for q in store.quarantined().await? {
            let Some(current) = store.get(q.activity.id).await? else { continue };
            if current.deleted || self.foreign.contains(&current.id) || current.school != *store.school() {
                continue;
            }
            let mut next = current.clone();
            next.version += 1;
            if rng.random_bool(0.2) {
                next.deleted = true;
            } else {
                let spare: Vec<SchoolCode> = self
                    .schools
                    .iter()
                    .filter(|s| **s != current.school && !current.body.details.partner_schools.contains(s))
                    .cloned()
                    .collect();
                let partners = &mut next.body.details.partner_schools;
                partners.retain(|p| !self.ghosts.contains(p));
                if !(self.term.0..=self.term.1).contains(&next.date) {
                    next.date = self.term.1;
                }
                if partners.is_empty()
                    && let Some(s) = spare.first()
                {
                    partners.push(s.clone());
                }
                next.body.notes = Some(format!("按退回原因修改{}", rng.random_range(0..100_000)));
            }
            self.update(i, Action::Fix, &current, next, None).await?;
            done += 1;
        }
        Ok(done)
    }

    /// Resolves up to three of the conflicts node `i` holds, taking the losing version or
    /// confirming the current one. Returns how many were attempted.
    pub(crate) async fn resolve(&mut self, rng: &mut StdRng, i: usize) -> Result<u32, SoakError> {
        let store = self.nodes[i].agent.store().clone();
        let mut done = 0;
        for c in store.conflicts().await?.into_iter().take(3) {
            let id = c.losing.id;
            if self.foreign.contains(&id) || c.losing.school != *store.school() {
                continue;
            }
            let Some(current) = store.get(id).await? else { continue };
            let take = rng.random_bool(0.5);
            let mut next = if take { c.losing.clone() } else { current.clone() };
            next.version = current.version + 1;
            let group = self
                .log
                .begin(&self.nodes[i].actor, Action::Resolve, vec![(Some(current), next.clone())])
                .map_err(io)?;
            let outcome = match store.resolve_conflict(id, take).await {
                Ok(written) => {
                    if written != next {
                        let n = self.log.intents().last().map_or(0, |x| x.n);
                        self.log.amend(n, written).map_err(io)?;
                    }
                    Outcome::Ok
                }
                Err(e) => Outcome::Refused { reason: e.to_string() },
            };
            self.log.outcome(group, outcome).map_err(io)?;
            done += 1;
        }
        Ok(done)
    }
}

/// Runs a node write, abandoned after `cancel` if given.
async fn run<F>(cancel: Option<Duration>, write: F) -> (Outcome, bool)
where
    F: std::future::Future<Output = Result<(), yanpei_store::StoreError>>,
{
    let result = match cancel {
        None => Some(write.await),
        Some(d) => tokio::time::timeout(d, write).await.ok(),
    };
    match result {
        None => (Outcome::Unknown { why: "the write was cancelled mid-transaction".into() }, true),
        Some(Ok(())) => (Outcome::Ok, false),
        Some(Err(e)) => (Outcome::Refused { reason: e.to_string() }, false),
    }
}
