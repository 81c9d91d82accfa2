//! Injecting one fault into a running schedule: the network (cuts both ways,
//! delays, stalls), the hub process (SIGKILL, SIGSTOP), its disk (full), its
//! database (restored from an earlier copy), deliveries (lost acknowledgements,
//! replays, two sessions at once) and people (siblings editing from different
//! bases, partner changes, a record of another school).

use std::time::Duration;

use rand::RngExt;
use uuid::Uuid;
use yanpei_domain::Activity;
use yanpei_node::{Fault, SyncOptions};

use crate::SoakError;
use crate::faults::FaultKind;
use crate::grpc::{Sent, raw_push, sent};
use crate::intent::{Action, Actor, EventKind, Outcome};
use crate::schedule_intent::Sched;
use crate::wire::Plan;

/// How the raw sessions name themselves in the handshake.
const AGENT: &str = "soak-intent";

impl Sched {
    /// Injects one fault of `kind`; returns whether it was injected.
    pub(crate) async fn inject(&mut self, kind: FaultKind) -> Result<bool, SoakError> {
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let opts = self.options();
        let injected = match kind {
            FaultKind::CutUp | FaultKind::CutDown => self.cut(i, kind, opts).await?,
            FaultKind::Delay => self.delay(i, opts).await?,
            FaultKind::HubStall => self.hub_stall(i, opts).await?,
            FaultKind::LostAck => self.lost_ack(i, opts).await?,
            FaultKind::Replay => self.replay(i, opts).await?,
            FaultKind::Reorder => self.reorder(i).await?,
            FaultKind::TwoSessions => self.two_sessions(i, opts).await?,
            FaultKind::HubKill => {
                self.world.kill_hub().await;
                self.world.ensure_hub().await?;
                true
            }
            FaultKind::HubKillMidPush => self.hub_kill_mid_push(i, opts).await?,
            FaultKind::NodeWriteCancelled => self.cancelled_write(i).await?,
            FaultKind::NodeKillMidSync => self.node_kill_mid_sync(i).await?,
            FaultKind::DiskFull => self.disk_full(i, opts).await?,
            FaultKind::HubRestore => self.restore().await?,
            FaultKind::SiblingEdits => self.sibling_edits().await?,
            FaultKind::PartnerChange => self.partner_change().await?,
            FaultKind::ForeignOwner => self.foreign_owner().await?,
            FaultKind::RosterChange => self.roster_change().await?,
            FaultKind::NodeKillMidWrite => self.node_kill_mid_write(i).await?,
            FaultKind::NodeDiskFull => self.node_disk_full(i, opts).await?,
            FaultKind::TwoHubs => self.two_hubs().await?,
            FaultKind::HubIoError => self.hub_io_error(i, opts).await?,
            FaultKind::NodeIoError => self.node_io_error(i).await?,
        };
        if injected {
            self.tally.add(kind);
            let kind = kind.label().to_owned();
            self.cast.log.event(EventKind::Fault { kind: kind.clone() }, kind)?;
        }
        Ok(injected)
    }

    /// A connection cut after a random number of bytes up (node to hub) or down; tries
    /// three times for a cut that happens.
    async fn cut(&mut self, i: usize, kind: FaultKind, opts: SyncOptions) -> Result<bool, SoakError> {
        let mut cut = false;
        for _ in 0..3 {
            self.ensure_pending(i, 10).await?;
            let pending = self.cast.nodes[i].agent.store().pending_count().await?;
            let mut plan = Plan::default();
            if kind == FaultKind::CutUp {
                plan.cut_up_after = Some(self.rng.random_range(100..600 + pending * 60));
            } else {
                plan.cut_down_after = Some(self.rng.random_range(50..1500));
            }
            let before = self.world.proxy.cuts();
            self.world.proxy.set_plan(plan);
            let result = self.sync(i, opts).await;
            self.world.proxy.set_plan(Plan::default());
            cut = self.world.proxy.cuts() > before;
            if cut {
                break;
            }
            tracing::debug!(?plan, ?result, "a planned cut did not happen");
        }
        Ok(cut)
    }

    /// A sync through a slow network: every chunk delayed, or one long stall.
    async fn delay(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 5).await?;
        let mut plan = Plan::default();
        if self.rng.random_bool(0.5) {
            plan.delay = Some(Duration::from_millis(self.rng.random_range(1..15)));
        } else {
            let after = self.rng.random_range(100..6000);
            plan.stall = Some((after, Duration::from_millis(self.rng.random_range(200..1500))));
        }
        self.world.proxy.set_plan(plan);
        let _ = self.sync(i, opts).await;
        self.world.proxy.set_plan(Plan::default());
        Ok(true)
    }

    /// The hub process frozen (SIGSTOP) for a while during a sync.
    async fn hub_stall(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 20).await?;
        let agent = self.cast.nodes[i].agent.clone();
        let task = tokio::spawn(async move { agent.sync_with(opts).await });
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..30))).await;
        let frozen = match self.world.hub() {
            Some(h) => h.freeze(true).await,
            None => false,
        };
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(300..1500))).await;
        if let Some(h) = self.world.hub() {
            h.freeze(false).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        Ok(frozen)
    }

    /// The acknowledgement of a push lost after the hub committed it; sometimes a retry.
    async fn lost_ack(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 5).await?;
        let lose = SyncOptions { fault: Some(Fault::LoseAckOfPush(1)), ..opts };
        let lost = self.sync(i, lose).await.is_err();
        if self.rng.random_bool(0.5) {
            let _ = self.sync(i, opts).await;
        }
        Ok(lost)
    }

    /// Two sessions of one node at once, with different batch sizes.
    async fn two_sessions(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 10).await?;
        let (a, b) = (self.cast.nodes[i].agent.clone(), self.cast.nodes[i].agent.clone());
        let (small, big) = (SyncOptions { batch_size: 3, ..opts }, opts);
        let both = async { tokio::join!(a.sync_with(small), b.sync_with(big)) };
        let _ = tokio::time::timeout(Duration::from_secs(60), both).await;
        Ok(true)
    }

    /// The hub process killed (SIGKILL) once a push has carried some bytes.
    async fn hub_kill_mid_push(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 40).await?;
        let pending = self.cast.nodes[i].agent.store().pending_count().await?;
        let from = self.world.proxy.bytes_up();
        let at = from + self.rng.random_range(300..(pending * 250).max(600));
        let agent = self.cast.nodes[i].agent.clone();
        let small = SyncOptions { batch_size: self.rng.random_range(5..30), ..opts };
        let task = tokio::spawn(async move { agent.sync_with(small).await });
        let _ = tokio::time::timeout(Duration::from_secs(5), self.world.proxy.wait_for_bytes(at)).await;
        self.world.kill_hub().await;
        let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
        self.world.ensure_hub().await?;
        Ok(true)
    }

    /// A `yanpei node sync` process killed while it syncs; tries three times for a kill
    /// of a process still running.
    async fn node_kill_mid_sync(&mut self, i: usize) -> Result<bool, SoakError> {
        let mut killed = false;
        for _ in 0..3 {
            self.ensure_pending(i, 40).await?;
            let from = self.world.proxy.bytes_up();
            let mut child = self.world.spawn_node_sync(&self.cast.nodes[i].actor.node)?;
            // Once its connection carries bytes, it is syncing: kill it a moment later.
            let started = self.world.proxy.wait_for_bytes(from + 1);
            let _ = tokio::time::timeout(Duration::from_secs(10), started).await;
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..15))).await;
            killed = matches!(child.try_wait(), Ok(None));
            let _ = child.start_kill();
            let _ = child.wait().await;
            if killed {
                break;
            }
        }
        Ok(killed)
    }

    /// A node write abandoned mid-transaction: a batch of new records or one edit.
    async fn cancelled_write(&mut self, i: usize) -> Result<bool, SoakError> {
        for _ in 0..8 {
            let deadline = Duration::from_micros(self.rng.random_range(0..3000));
            let cancelled = if self.rng.random_bool(0.6) {
                let school = self.cast.nodes[i].actor.school.clone();
                let n = self.rng.random_range(5..40);
                let records = self.cast.new_records(&mut self.rng, &school, n, 0.1);
                self.cast.record(i, records, Some(deadline)).await?
            } else {
                let i = self.editor(i);
                let live = self.cast.editable(i).await?;
                let Some(base) = live.get(self.rng.random_range(0..live.len().max(1))).cloned() else {
                    continue;
                };
                let delete = self.rng.random_bool(0.3);
                self.cast.change(&mut self.rng, i, &base, delete, Some(deadline)).await?
            };
            if cancelled {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Fills the hub's disk while nodes push (twice), frees it without restarting the hub.
    async fn disk_full(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        if !self.world.has_small_disk() {
            return Ok(false);
        }
        self.ensure_pending(i, 60).await?;
        let headroom = self.rng.random_range(0..96 * 1024);
        if let Some(t) = self.world.tmpfs() {
            t.fill(headroom)?;
        }
        let first = self.sync(i, opts).await;
        let j = self.rng.random_range(0..self.cast.nodes.len());
        self.ensure_pending(j, 20).await?;
        let second = self.sync(j, opts).await;
        if let Some(t) = self.world.tmpfs() {
            t.free()?;
        }
        let note = format!("disk full (headroom {headroom} B): {first:?} / {second:?}");
        tracing::debug!("{note}");
        if let Some(died) = self.world.ensure_hub().await? {
            self.notes.push(format!("the hub exited during a full disk: {died}"));
        }
        let _ = self.sync(i, opts).await;
        Ok(true)
    }

    /// Fills the nodes' disk while node `i`'s people record and edit and it syncs (each
    /// write's outcome as the node reports it), then frees it and syncs again.
    async fn node_disk_full(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        if self.world.node_fs().is_none() {
            return Ok(false);
        }
        // Something waiting at the hub for node `i` to pull: another node's new records.
        let j = self.rng.random_range(0..self.cast.nodes.len());
        self.ensure_pending(j, 10).await?;
        let _ = self.sync_random(j).await;
        let headroom = self.rng.random_range(0..64 * 1024);
        if let Some(fs) = self.world.node_fs() {
            fs.fill(headroom)?;
        }
        let school = self.cast.nodes[i].actor.school.clone();
        for _ in 0..self.rng.random_range(1..4) {
            let n = self.rng.random_range(5..40);
            let records = self.cast.new_records(&mut self.rng, &school, n, 0.1);
            self.cast.record(i, records, None).await?;
        }
        let k = self.editor(i);
        let live = self.cast.editable(k).await?;
        for _ in 0..self.rng.random_range(0..6).min(live.len()) {
            let base = live[self.rng.random_range(0..live.len())].clone();
            if let Some(now) = self.cast.nodes[k].agent.store().get(base.id).await?
                && now == base
            {
                let delete = self.rng.random_bool(0.2);
                self.cast.change(&mut self.rng, k, &base, delete, None).await?;
            }
        }
        let during = self.sync(i, opts).await;
        if let Some(fs) = self.world.node_fs() {
            fs.free()?;
        }
        tracing::debug!(headroom, ?during, "node disk full");
        let _ = self.sync(i, opts).await;
        Ok(true)
    }

    /// The hub's disk fails (EIO on its SQLite files) at a random moment of node `i`'s
    /// push and during another node's sync, then works again without a restart.
    async fn hub_io_error(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        let Some(eio) = self.world.eio().cloned() else { return Ok(false) };
        if self.world.on_postgres() {
            return Ok(false);
        }
        self.ensure_pending(i, 40).await?;
        let agent = self.cast.nodes[i].agent.clone();
        let task = tokio::spawn(async move { agent.sync_with(opts).await });
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..150))).await;
        eio.raise()?;
        let j = self.rng.random_range(0..self.cast.nodes.len());
        self.ensure_pending(j, 10).await?;
        let during = self.sync(j, opts).await;
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(50..600))).await;
        eio.lower()?;
        let first = tokio::time::timeout(Duration::from_secs(60), task).await;
        tracing::debug!(?during, ?first, "hub I/O errors");
        if let Some(died) = self.world.ensure_hub().await? {
            self.notes.push(format!("the hub exited during I/O errors: {died}"));
        }
        let _ = self.sync(i, opts).await;
        Ok(true)
    }

    /// Takes the copy a later restore puts back (hub stopped, files copied, hub started).
    pub(crate) async fn backup(&mut self) -> Result<(), SoakError> {
        self.world.stop_hub().await;
        let copied = self.world.backup().await;
        self.world.ensure_hub().await?;
        copied?;
        self.backup_n = Some(self.cast.log.event(EventKind::BackupTaken, "hub database copied")?);
        Ok(())
    }

    async fn restore(&mut self) -> Result<bool, SoakError> {
        let Some(backup_n) = self.backup_n else { return Ok(false) };
        self.world.stop_hub().await;
        let restored = self.world.restore().await;
        let note = format!("hub database replaced by the copy taken at #{backup_n}");
        self.cast.log.event(EventKind::HubRestored { backup_n }, note)?;
        self.world.ensure_hub().await?;
        restored?;
        Ok(true)
    }

    /// Two or three nodes of one school edit and delete the same records, each from the
    /// version it holds, then sync in a random order.
    async fn sibling_edits(&mut self) -> Result<bool, SoakError> {
        let Some(school) = self.sibling_school() else { return Ok(false) };
        let nodes: Vec<usize> =
            (0..self.cast.nodes.len()).filter(|k| self.cast.nodes[*k].actor.school == school).collect();
        let first = nodes[0];
        let live = self.cast.editable(first).await?;
        if live.is_empty() {
            return Ok(false);
        }
        let picks: Vec<Uuid> =
            (0..self.rng.random_range(1..6)).map(|_| live[self.rng.random_range(0..live.len())].id).collect();
        for &k in &nodes {
            for id in &picks {
                for _ in 0..self.rng.random_range(1..3) {
                    let Some(base) = self.cast.nodes[k].agent.store().get(*id).await? else { break };
                    if base.deleted {
                        break;
                    }
                    let delete = self.rng.random_bool(0.2);
                    self.cast.change(&mut self.rng, k, &base, delete, None).await?;
                }
            }
            if self.rng.random_bool(0.3) {
                let _ = self.sync_random(k).await;
            }
        }
        let mut order = nodes.clone();
        rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut self.rng);
        for k in order {
            let _ = self.sync_random(k).await;
        }
        Ok(true)
    }

    /// An owner school's node adds, removes or replaces a shared record's partners;
    /// the owner and the schools named before and after sync.
    async fn partner_change(&mut self) -> Result<bool, SoakError> {
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let i = self.editor(i);
        let mut shared: Vec<Activity> = self
            .cast
            .editable(i)
            .await?
            .into_iter()
            .filter(|a| !a.body.details.partner_schools.is_empty())
            .collect();
        if shared.is_empty() {
            let school = self.cast.nodes[i].actor.school.clone();
            let records = self.cast.new_records(&mut self.rng, &school, 3, 1.0);
            self.cast.record(i, records, None).await?;
            let _ = self.sync_random(i).await;
            shared = self.cast.editable(i).await?;
            shared.retain(|a| !a.body.details.partner_schools.is_empty());
        }
        let Some(base) = shared.get(self.rng.random_range(0..shared.len().max(1))).cloned() else {
            return Ok(false);
        };
        if !self.cast.repartner(&mut self.rng, i, &base).await? {
            return Ok(false);
        }
        let _ = self.sync_random(i).await;
        let after = self.cast.nodes[i].agent.store().get(base.id).await?;
        for k in 0..self.cast.nodes.len() {
            let school = &self.cast.nodes[k].actor.school;
            if base.involves(school) || after.as_ref().is_some_and(|a| a.involves(school)) {
                let _ = self.sync_random(k).await;
            }
        }
        Ok(true)
    }

    /// A person at school X pushes records owned by school Y (naming X as a partner)
    /// through X's certificate, from a tool of their own: the spec says refused.
    async fn foreign_owner(&mut self) -> Result<bool, SoakError> {
        let i = self.rng.random_range(0..self.cast.nodes.len());
        let x = self.cast.nodes[i].actor.school.clone();
        let others: Vec<_> = self.cast.schools.iter().filter(|s| **s != x).cloned().collect();
        let Some(y) = others.get(self.rng.random_range(0..others.len().max(1))).cloned() else {
            return Ok(false);
        };
        let n = self.rng.random_range(1..4);
        let mut records = self.cast.new_records(&mut self.rng, &y, n, 1.0);
        for a in &mut records {
            a.body.details.partner_schools = vec![x.clone()];
        }
        let tool = Actor { node: format!("{x}-tool"), node_id: Uuid::now_v7(), school: x.clone() };
        let changes = records.iter().map(|a| (None, a.clone())).collect();
        let group = self.cast.log.begin(&tool, Action::ForeignCreate, changes)?;
        self.cast.foreign.extend(records.iter().map(|a| a.id));
        let endpoint = self.world.endpoint(&x)?;
        let numbered: Vec<Sent> =
            records.into_iter().enumerate().map(|(k, a)| (k as u64 + 1, a, Vec::new(), None)).collect();
        let outcome = match raw_push(&endpoint, tool.node_id, &x, AGENT, &numbered).await {
            Ok(reply) if reply.applied > 0 => Outcome::Ok,
            Ok(reply) => Outcome::Refused { reason: format!("applied 0 of the batch: {reply:?}") },
            Err(e) => Outcome::Refused { reason: e.to_string() },
        };
        self.cast.log.outcome(group, outcome)?;
        Ok(true)
    }

    /// Syncs node `i`, keeping the batch it delivers; then delivers an earlier kept
    /// batch of the same node again, as that node, in a session of its own.
    async fn replay(&mut self, i: usize, opts: SyncOptions) -> Result<bool, SoakError> {
        self.ensure_pending(i, 5).await?;
        let store = self.cast.nodes[i].agent.store().clone();
        let batch: Vec<Sent> = store.pending(opts.batch_size).await?.into_iter().map(sent).collect();
        if self.sync(i, opts).await.is_err() || batch.is_empty() {
            return Ok(false);
        }
        self.delivered.push((i, batch));
        let mine: Vec<usize> = (0..self.delivered.len()).filter(|k| self.delivered[*k].0 == i).collect();
        let pick = mine[self.rng.random_range(0..mine.len())];
        let old = self.delivered[pick].1.clone();
        let endpoint = self.world.endpoint(store.school())?;
        Ok(raw_push(&endpoint, store.node_id(), store.school(), AGENT, &old).await.is_ok())
    }

    /// The node's pending changes delivered out of order, as the node: the newer half
    /// first, then the older half, each in a session of its own.
    async fn reorder(&mut self, i: usize) -> Result<bool, SoakError> {
        self.ensure_pending(i, 10).await?;
        // The sessions that carry these batches are the node's own: each begins with the
        // handshake's checks (after a hub restore, a comparison), as every sync does. A
        // delivery that skipped them would be one no node can make.
        if self.cast.nodes[i].agent.check_continuity().await.is_err() {
            return Ok(false);
        }
        let store = self.cast.nodes[i].agent.store().clone();
        let batch: Vec<Sent> = store.pending(200).await?.into_iter().map(sent).collect();
        if batch.len() < 2 {
            return Ok(false);
        }
        let cut = self.rng.random_range(1..batch.len());
        let (older, newer) = batch.split_at(cut);
        let endpoint = self.world.endpoint(store.school())?;
        let first = raw_push(&endpoint, store.node_id(), store.school(), AGENT, newer).await;
        let then = raw_push(&endpoint, store.node_id(), store.school(), AGENT, older).await;
        Ok(first.is_ok() && then.is_ok())
    }
}
