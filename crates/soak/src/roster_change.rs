//! Roster versions imported mid-schedule: the county removes a school that shared
//! records name as a partner (and its teachers, pairings and assignments), or puts
//! it back. A removed school stays one the county had: records naming it, old and
//! new, and their re-sends after a restore are accepted. Only a code no roster version
//! ever had (a typo, see `Cast::ghosts`) is refused; the node keeps such a version
//! quarantined with the hub's reason until a person answers it.

use std::collections::BTreeSet;

use rand::RngExt;
use yanpei_domain::SchoolCode;

use crate::SoakError;
use crate::faults::FaultKind;
use crate::intent::EventKind;
use crate::schedule_intent::Sched;

impl Sched {
    /// Imports the demo roster without `removed` into the hub's database, from this
    /// process (a connection of its own, as `yanpei roster import` has) while the hub runs.
    async fn import_roster(&mut self, removed: BTreeSet<SchoolCode>) -> Result<(), SoakError> {
        let full = yanpei_demo::demo_roster()
            .map_err(|p| SoakError::Unexpected(format!("the demo roster does not load: {p:?}")))?;
        let roster = crate::roster_versions::without(&full, &removed);
        let problems = yanpei_domain::roster::validate(&roster);
        if !problems.is_empty() {
            return Err(SoakError::Unexpected(format!("the reduced roster is invalid: {problems:?}")));
        }
        let version = self.world.import_roster(&roster).await?;
        let names: Vec<String> = removed.iter().map(ToString::to_string).collect();
        let note = format!("roster version {version} imported without [{}]", names.join(", "));
        let schools = roster.schools.iter().map(|s| s.code.clone()).collect();
        let semesters = roster.semesters.clone();
        let removed_list = removed.iter().cloned().collect();
        self.cast.log.event(EventKind::RosterImported { schools, semesters, removed: removed_list }, note)?;
        self.cast.removed = removed;
        Ok(())
    }

    /// The county removes one of the schedule's outside partner schools (or, when all
    /// are removed, puts them back); a node records shared records naming it and
    /// syncs, and its people answer some of the refusals.
    pub(crate) async fn roster_change(&mut self) -> Result<bool, SoakError> {
        let candidates: Vec<SchoolCode> =
            self.cast.outside.iter().filter(|s| !self.cast.removed.contains(*s)).cloned().collect();
        let mut removed = self.cast.removed.clone();
        match candidates.get(self.rng.random_range(0..candidates.len().max(1))) {
            Some(s) => {
                removed.insert(s.clone());
            }
            None => removed.clear(),
        }
        let named: Vec<SchoolCode> = removed.iter().cloned().collect();
        self.import_roster(removed).await?;
        // Someone who has not heard names a removed school (accepted: the county had it), or
        // mistypes a code (refused); the node syncs.
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let i = self.editor(i);
        let typo = self.rng.random_bool(0.4);
        let pick = if typo { &self.cast.ghosts } else { &named };
        if let Some(z) = pick.get(self.rng.random_range(0..pick.len().max(1))).cloned() {
            let school = self.cast.nodes[i].actor.school.clone();
            let n = self.rng.random_range(1..4);
            let mut records = self.cast.new_records(&mut self.rng, &school, n, 1.0);
            for a in &mut records {
                if !a.body.details.partner_schools.contains(&z) {
                    a.body.details.partner_schools.push(z.clone());
                }
            }
            self.cast.record(i, records, None).await?;
        }
        let _ = self.sync_random(i).await;
        if self.rng.random_bool(0.5) {
            self.cast.fix_quarantined(&mut self.rng, i).await?;
            let _ = self.sync_random(i).await;
        }
        Ok(true)
    }

    /// Whether this run imports roster versions.
    pub(crate) fn roster_changes(&self) -> bool {
        self.enabled(FaultKind::RosterChange)
    }
}
