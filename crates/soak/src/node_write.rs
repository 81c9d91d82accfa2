//! A node's writes in a process of its own, so a schedule can SIGKILL the node
//! mid-write: `yanpei soak --node-write STORE INPUT` applies INPUT's writes (JSON
//! lines, one node transaction each: new records, or one record's next version) to
//! the node store STORE in order and reports each as it commits. The schedule logs
//! every write as an intent before it starts the process, reads the reports, and
//! kills the process at a random moment: a write it reported is committed, one it
//! did not is of unknown outcome (committed whole or not at all, never half).

use std::path::Path;
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;
use uuid::Uuid;
use yanpei_domain::Activity;
use yanpei_store::node::NodeStore;
use yanpei_store::sqlite_url;

use crate::SoakError;
use crate::intent::{Action, Outcome};
use crate::schedule_intent::Sched;

/// How a node-write process is struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL.
    Kill,
    /// Its disk fails (EIO) from then on.
    Eio,
}

/// One node transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeWrite {
    /// New records, in one transaction.
    Create(Vec<Activity>),
    /// A record's next version (an edit or a deletion).
    Update(Box<Activity>),
}

/// What became of write number `k` of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteReport {
    /// Committed.
    Committed(u64),
    /// Refused by the store, nothing written.
    Refused(u64, String),
}

impl WriteReport {
    /// The line the process prints for it.
    pub fn line(&self) -> String {
        match self {
            WriteReport::Committed(k) => format!("committed {k}"),
            WriteReport::Refused(k, why) => format!("refused {k} {}", why.replace('\n', " ")),
        }
    }

    fn parse(line: &str) -> Option<WriteReport> {
        let mut parts = line.splitn(3, ' ');
        let (what, k) = (parts.next()?, parts.next()?.parse().ok()?);
        match what {
            "committed" => Some(WriteReport::Committed(k)),
            "refused" => Some(WriteReport::Refused(k, parts.next().unwrap_or_default().to_owned())),
            _ => None,
        }
    }
}

/// Applies the writes in `input` (JSON lines of [`NodeWrite`]) to the node store at
/// `store`, calling `report` after each.
pub async fn node_write(
    store: &Path,
    input: &Path,
    mut report: impl FnMut(WriteReport),
) -> Result<(), SoakError> {
    let store = NodeStore::open(&sqlite_url(store)).await?;
    let text = std::fs::read_to_string(input)?;
    for (k, line) in text.lines().enumerate() {
        let k = k as u64;
        let write: NodeWrite = serde_json::from_str(line)
            .map_err(|e| SoakError::Unexpected(format!("{}:{}: {e}", input.display(), k + 1)))?;
        let done = match &write {
            NodeWrite::Create(records) => store.record_all(records).await,
            NodeWrite::Update(next) => store.update(next).await,
        };
        report(match done {
            Ok(()) => WriteReport::Committed(k),
            Err(e) => WriteReport::Refused(k, e.to_string()),
        });
    }
    Ok(())
}

impl Sched {
    /// Node `i`'s people record and edit through a node process, which is SIGKILLed at
    /// a random moment; returns whether it was killed before it finished.
    pub(crate) async fn node_kill_mid_write(&mut self, i: usize) -> Result<bool, SoakError> {
        self.node_writes(i, Stop::Kill).await
    }

    /// Node `i`'s people record and edit through a node process whose disk starts failing
    /// (EIO) at a random moment; returns whether it did so while the process wrote.
    pub(crate) async fn node_io_error(&mut self, i: usize) -> Result<bool, SoakError> {
        if self.world.eio().is_none() {
            return Ok(false);
        }
        self.node_writes(i, Stop::Eio).await
    }

    async fn node_writes(&mut self, i: usize, stop: Stop) -> Result<bool, SoakError> {
        let i = self.editor(i);
        for attempt in 0..3 {
            let (writes, groups) = self.plan_writes(i).await?;
            let n = self.cast.log.intents().len();
            let input = self.world.dir.join(format!("node-writes-{n}-{attempt}.jsonl"));
            let mut text = String::new();
            for w in &writes {
                text.push_str(&serde_json::to_string(w).map_err(|e| SoakError::Unexpected(e.to_string()))?);
                text.push('\n');
            }
            std::fs::write(&input, text)?;
            let node = self.cast.nodes[i].actor.node.clone();
            let mut child = self.world.spawn_node_write(&node, &input, stop == Stop::Eio)?;
            let stdout =
                child.stdout.take().ok_or_else(|| SoakError::Process("node-write: no stdout".into()))?;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            // Strike after a random number of its writes reported, a moment into the next.
            let mut reports: Vec<WriteReport> = Vec::new();
            let after = self.rng.random_range(0..writes.len());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while reports.len() < after {
                match tokio::time::timeout_at(deadline, lines.next_line()).await {
                    Ok(Ok(Some(line))) => reports.extend(WriteReport::parse(&line)),
                    Ok(_) | Err(_) => break,
                }
            }
            tokio::time::sleep(Duration::from_micros(self.rng.random_range(0..4000))).await;
            let struck = matches!(child.try_wait(), Ok(None));
            match stop {
                Stop::Kill => {
                    let _ = child.start_kill();
                }
                Stop::Eio => {
                    if let Some(e) = self.world.eio() {
                        e.raise()?;
                    }
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
            let _ = child.start_kill();
            let _ = child.wait().await;
            if let Some(e) = self.world.eio() {
                e.lower()?;
            }
            // Reports printed before the end and still in the pipe count too.
            while let Ok(Some(line)) = lines.next_line().await {
                reports.extend(WriteReport::parse(&line));
            }
            let why = match stop {
                Stop::Kill => "the node process was SIGKILLed mid-write",
                Stop::Eio => "the node process ended under I/O errors without reporting it",
            };
            for (k, (group, created)) in groups.iter().enumerate() {
                let k = k as u64;
                let reported = reports
                    .iter()
                    .find(|r| matches!(r, WriteReport::Committed(x) | WriteReport::Refused(x, _) if *x == k));
                let outcome = match reported {
                    Some(WriteReport::Committed(_)) => Outcome::Ok,
                    Some(WriteReport::Refused(_, reason)) => Outcome::Refused { reason: reason.clone() },
                    None => Outcome::Unknown { why: why.into() },
                };
                if !matches!(outcome, Outcome::Refused { .. }) {
                    self.cast.created += created;
                }
                self.cast.log.outcome(*group, outcome)?;
            }
            if struck {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The writes of one node process: a few batches of new records and edits of
    /// records the node holds (each record at most once), each logged as an intent.
    /// Returns the writes and, for each, its log group and how many records it creates.
    async fn plan_writes(&mut self, i: usize) -> Result<(Vec<NodeWrite>, Vec<(u64, usize)>), SoakError> {
        let school = self.cast.nodes[i].actor.school.clone();
        let actor = self.cast.nodes[i].actor.clone();
        let mut live = self.cast.editable(i).await?;
        let mut writes = Vec::new();
        let mut groups = Vec::new();
        let mut touched: Vec<Uuid> = Vec::new();
        for _ in 0..self.rng.random_range(4..12) {
            if self.rng.random_bool(0.5) || live.is_empty() {
                let n = self.rng.random_range(3..25);
                let records = self.cast.new_records(&mut self.rng, &school, n, 0.1);
                let changes = records.iter().map(|a| (None, a.clone())).collect();
                groups.push((self.cast.log.begin(&actor, Action::Create, changes)?, records.len()));
                writes.push(NodeWrite::Create(records));
            } else {
                let base = live.swap_remove(self.rng.random_range(0..live.len()));
                if touched.contains(&base.id) {
                    continue;
                }
                touched.push(base.id);
                let mut next = base.clone();
                next.version += 1;
                let action = if self.rng.random_bool(0.2) {
                    next.deleted = true;
                    Action::Delete
                } else {
                    next.body.notes = Some(format!("进程内修改{}", self.rng.random_range(0..100_000)));
                    Action::Edit
                };
                groups.push((self.cast.log.begin(&actor, action, vec![(Some(base), next.clone())])?, 0));
                writes.push(NodeWrite::Update(Box::new(next)));
            }
        }
        Ok((writes, groups))
    }
}
