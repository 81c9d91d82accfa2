//! The intent log: every action a schedule takes on behalf of a person, written
//! outside every store *before* the action runs, then its outcome as the node
//! reported it. The checker computes what the hub must hold from this log alone.
//!
//! On disk it is JSON lines (`intents.jsonl` in the run directory): one
//! `{"intent":…}` per record an action touches, `{"outcome":…}` per action,
//! `{"amend":…}` when a node wrote other content than announced (conflict
//! resolution), and `{"event":…}` for faults the checker must know about
//! (backups and restores of the hub).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use yanpei_domain::{Activity, SchoolCode};

/// What a person did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// A new record.
    Create,
    /// A new version of a record, its content changed.
    Edit,
    /// A tombstone.
    Delete,
    /// A new version of a shared record with partner schools added, removed or replaced.
    Partners,
    /// The resolution of a conflict the hub reported (a new version from the local one).
    Resolve,
    /// A record owned by another school pushed through this school's certificate:
    /// the spec says the hub must refuse it.
    ForeignCreate,
    /// A new version of a record the hub refused (quarantined at the node), made to
    /// answer the hub's reason: a partner school no longer on the roster replaced.
    Fix,
}

/// Who acted: a node (a school's office PC) and its school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The node's name in the schedule (`T02Z1-b`).
    pub node: String,
    /// The node's id (from its store).
    pub node_id: Uuid,
    /// The school the person works at.
    pub school: SchoolCode,
}

/// One intent: one record's new version, made from an exact base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Position in the log (shared with events).
    pub n: u64,
    /// The action (one node transaction) it belongs to.
    pub group: u64,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// The exact version (content) it was made from; `None` for a create.
    pub base: Option<Activity>,
    /// The version it writes.
    pub made: Activity,
}

/// What the node reported of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The node committed it (or the hub accepted it, for a direct push).
    Ok,
    /// The node (or hub) refused it; nothing was written.
    Refused {
        /// As reported.
        reason: String,
    },
    /// The node crashed mid-write: it may or may not have committed (never a half).
    Unknown {
        /// What happened.
        why: String,
    },
}

/// Something the checker must know happened, besides intents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A copy of the hub's database was taken.
    BackupTaken,
    /// The hub's database was replaced by the copy taken at log position `backup_n`.
    HubRestored {
        /// The position of the [`EventKind::BackupTaken`] event.
        backup_n: u64,
    },
    /// The hub holds this roster version (the schedule's first, or one imported mid-schedule).
    RosterImported {
        /// Every school it has.
        schools: Vec<SchoolCode>,
        /// The county's semesters and their dates (a live record must fall inside its own).
        #[serde(default)]
        semesters: Vec<yanpei_domain::roster::SemesterDates>,
        /// The demo county's schools it does not have.
        removed: Vec<SchoolCode>,
    },
    /// A fault was injected (for the record; the checker does not need it).
    Fault {
        /// Its kind.
        kind: String,
    },
}

/// A logged event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log.
    pub n: u64,
    /// What.
    pub kind: EventKind,
    /// A line for people.
    pub note: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Line {
    Intent(Box<Intent>),
    Outcome { group: u64, outcome: Outcome },
    Amend { n: u64, made: Box<Activity> },
    Event(Event),
}

/// The log, in memory and (optionally) as JSON lines on disk.
#[derive(Debug, Default)]
pub struct IntentLog {
    intents: Vec<Intent>,
    outcomes: BTreeMap<u64, Outcome>,
    events: Vec<Event>,
    next_n: u64,
    next_group: u64,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl IntentLog {
    /// A log kept in memory only.
    pub fn in_memory() -> IntentLog {
        IntentLog::default()
    }

    /// A log that also appends to `path` (created or truncated).
    pub fn create(path: &Path) -> std::io::Result<IntentLog> {
        let file = std::fs::File::create(path)?;
        Ok(IntentLog { file: Some(std::io::BufWriter::new(file)), ..IntentLog::default() })
    }

    /// Reads a log written by [`IntentLog::create`] (to check a run again).
    pub fn load(path: &Path) -> std::io::Result<IntentLog> {
        let mut log = IntentLog::default();
        for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line).map_err(std::io::Error::other)? {
                Line::Intent(i) => {
                    let i = *i;
                    log.next_n = log.next_n.max(i.n + 1);
                    log.next_group = log.next_group.max(i.group + 1);
                    log.intents.push(i);
                }
                Line::Outcome { group, outcome } => {
                    log.outcomes.insert(group, outcome);
                }
                Line::Amend { n, made } => log.apply_amend(n, *made),
                Line::Event(e) => {
                    log.next_n = log.next_n.max(e.n + 1);
                    log.events.push(e);
                }
            }
        }
        Ok(log)
    }

    fn write(&mut self, line: &Line) -> std::io::Result<()> {
        if let Some(f) = &mut self.file {
            serde_json::to_writer(&mut *f, line).map_err(std::io::Error::other)?;
            f.write_all(b"\n")?;
            f.flush()?;
        }
        Ok(())
    }

    /// Announces one action of `actor` over one or more records (one node transaction):
    /// each `(base, made)` becomes an intent. Call before the action runs; returns the
    /// action's group for [`IntentLog::outcome`].
    pub fn begin(
        &mut self,
        actor: &Actor,
        action: Action,
        changes: Vec<(Option<Activity>, Activity)>,
    ) -> std::io::Result<u64> {
        let group = self.next_group;
        self.next_group += 1;
        for (base, made) in changes {
            let intent = Intent { n: self.next_n, group, actor: actor.clone(), action, base, made };
            self.next_n += 1;
            self.write(&Line::Intent(Box::new(intent.clone())))?;
            self.intents.push(intent);
        }
        Ok(group)
    }

    /// Records what the node reported of action `group`.
    pub fn outcome(&mut self, group: u64, outcome: Outcome) -> std::io::Result<()> {
        self.write(&Line::Outcome { group, outcome: outcome.clone() })?;
        self.outcomes.insert(group, outcome);
        Ok(())
    }

    /// Corrects intent `n`'s content to what the node actually wrote.
    pub fn amend(&mut self, n: u64, made: Activity) -> std::io::Result<()> {
        self.write(&Line::Amend { n, made: Box::new(made.clone()) })?;
        self.apply_amend(n, made);
        Ok(())
    }

    fn apply_amend(&mut self, n: u64, made: Activity) {
        if let Some(i) = self.intents.iter_mut().find(|i| i.n == n) {
            i.made = made;
        }
    }

    /// Records an event; returns its position.
    pub fn event(&mut self, kind: EventKind, note: impl Into<String>) -> std::io::Result<u64> {
        let e = Event { n: self.next_n, kind, note: note.into() };
        self.next_n += 1;
        self.write(&Line::Event(e.clone()))?;
        self.events.push(e);
        Ok(self.next_n - 1)
    }

    /// Every intent, in log order.
    pub fn intents(&self) -> &[Intent] {
        &self.intents
    }

    /// The outcome of action `group` (`None`: never reported, as after a crash of the schedule).
    pub fn outcome_of(&self, group: u64) -> Option<&Outcome> {
        self.outcomes.get(&group)
    }

    /// Every event, in log order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The ids of records an intent names.
    pub fn records(&self) -> std::collections::BTreeSet<Uuid> {
        self.intents.iter().map(|i| i.made.id).collect()
    }
}
