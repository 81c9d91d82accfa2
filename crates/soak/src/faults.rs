//! The kinds of fault the intent suite injects, and how many of each a run injected.

use serde::Serialize;

/// One kind of fault (or of hard situation a person creates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum FaultKind {
    /// A connection cut part-way, node to hub.
    CutUp,
    /// A connection cut part-way, hub to node (the answer lost).
    CutDown,
    /// Every chunk delayed, or the stream stalled for a while.
    Delay,
    /// The hub process frozen (SIGSTOP) during a sync, then resumed.
    HubStall,
    /// The acknowledgement of a push lost after the hub committed (the batch goes again).
    LostAck,
    /// An already acknowledged batch delivered again, as the node, later.
    Replay,
    /// A node's pending changes delivered out of order: its newer half in one session,
    /// then its older half in another (then the node syncs as usual).
    Reorder,
    /// One node syncing in two sessions at once (the same outbox pushed twice concurrently).
    TwoSessions,
    /// SIGKILL of the hub process at a random moment between syncs.
    HubKill,
    /// SIGKILL of the hub process while a node pushes.
    HubKillMidPush,
    /// A node write cancelled mid-transaction (outcome unknown).
    NodeWriteCancelled,
    /// A node agent running as its own process (`yanpei node sync`) killed mid-sync.
    NodeKillMidSync,
    /// The hub's disk full while nodes push, freed without restarting the hub.
    DiskFull,
    /// The hub's database replaced by an earlier copy.
    HubRestore,
    /// Two or three nodes of one school editing and deleting the same records from different bases.
    SiblingEdits,
    /// A shared record's partner schools added, removed or replaced.
    PartnerChange,
    /// A record of another school pushed through this school's certificate.
    ForeignOwner,
    /// A roster version imported mid-schedule: a partner school removed (or put back).
    RosterChange,
    /// A node process SIGKILLed while it writes records and edits.
    NodeKillMidWrite,
    /// The nodes' disk full while a node records, edits and syncs; then freed.
    NodeDiskFull,
    /// A second hub process on the same PostgreSQL database; nodes push through both;
    /// one is SIGKILLed mid-push (PostgreSQL runs only).
    TwoHubs,
    /// The hub's disk fails (EIO on its SQLite files) for a moment while nodes push.
    HubIoError,
    /// A node's disk fails (EIO on its store) while its people write.
    NodeIoError,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 23] = [
        FaultKind::CutUp,
        FaultKind::CutDown,
        FaultKind::Delay,
        FaultKind::HubStall,
        FaultKind::LostAck,
        FaultKind::Replay,
        FaultKind::Reorder,
        FaultKind::TwoSessions,
        FaultKind::HubKill,
        FaultKind::HubKillMidPush,
        FaultKind::NodeWriteCancelled,
        FaultKind::NodeKillMidSync,
        FaultKind::DiskFull,
        FaultKind::HubRestore,
        FaultKind::SiblingEdits,
        FaultKind::PartnerChange,
        FaultKind::ForeignOwner,
        FaultKind::RosterChange,
        FaultKind::NodeKillMidWrite,
        FaultKind::NodeDiskFull,
        FaultKind::TwoHubs,
        FaultKind::HubIoError,
        FaultKind::NodeIoError,
    ];

    /// Its name on the command line (`--faults cut-up,disk-full`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::CutUp => "cut-up",
            FaultKind::CutDown => "cut-down",
            FaultKind::Delay => "delay",
            FaultKind::HubStall => "hub-stall",
            FaultKind::LostAck => "lost-ack",
            FaultKind::Replay => "replay",
            FaultKind::Reorder => "reorder",
            FaultKind::TwoSessions => "two-sessions",
            FaultKind::HubKill => "hub-kill",
            FaultKind::HubKillMidPush => "hub-kill-mid-push",
            FaultKind::NodeWriteCancelled => "node-write-cancelled",
            FaultKind::NodeKillMidSync => "node-kill-mid-sync",
            FaultKind::DiskFull => "disk-full",
            FaultKind::HubRestore => "hub-restore",
            FaultKind::SiblingEdits => "sibling-edits",
            FaultKind::PartnerChange => "partner-change",
            FaultKind::ForeignOwner => "foreign-owner",
            FaultKind::RosterChange => "roster-change",
            FaultKind::NodeKillMidWrite => "node-kill-mid-write",
            FaultKind::NodeDiskFull => "node-disk-full",
            FaultKind::TwoHubs => "two-hubs",
            FaultKind::HubIoError => "hub-io-error",
            FaultKind::NodeIoError => "node-io-error",
        }
    }

    /// The kind named `name` (see [`FaultKind::name`]).
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Its name in reports.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::CutUp => "cut node->hub",
            FaultKind::CutDown => "cut hub->node",
            FaultKind::Delay => "delay/stall",
            FaultKind::HubStall => "hub frozen",
            FaultKind::LostAck => "lost ack",
            FaultKind::Replay => "replay",
            FaultKind::Reorder => "reordered batches",
            FaultKind::TwoSessions => "two sessions",
            FaultKind::HubKill => "hub SIGKILL",
            FaultKind::HubKillMidPush => "hub SIGKILL mid-push",
            FaultKind::NodeWriteCancelled => "node write cancelled",
            FaultKind::NodeKillMidSync => "node SIGKILL mid-sync",
            FaultKind::DiskFull => "disk full",
            FaultKind::HubRestore => "hub restored",
            FaultKind::SiblingEdits => "sibling edits",
            FaultKind::PartnerChange => "partner change",
            FaultKind::ForeignOwner => "foreign owner",
            FaultKind::RosterChange => "roster version imported",
            FaultKind::NodeKillMidWrite => "node SIGKILL mid-write",
            FaultKind::NodeDiskFull => "node disk full",
            FaultKind::TwoHubs => "two hubs, one killed",
            FaultKind::HubIoError => "hub I/O errors",
            FaultKind::NodeIoError => "node I/O errors",
        }
    }
}

/// How many faults of each kind were injected (kinds in [`FaultKind::ALL`] order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultTally([u32; FaultKind::ALL.len()]);

impl FaultTally {
    /// Counts one.
    pub fn add(&mut self, kind: FaultKind) {
        self.0[kind as usize] += 1;
    }

    /// How many of `kind`.
    pub fn get(&self, kind: FaultKind) -> u32 {
        self.0[kind as usize]
    }

    /// Every kind with its count.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, u32)> + '_ {
        FaultKind::ALL.iter().map(|k| (*k, self.get(*k)))
    }

    /// Kinds never injected.
    pub fn missing(&self) -> Vec<FaultKind> {
        self.iter().filter(|(_, n)| *n == 0).map(|(k, _)| k).collect()
    }

    /// All faults.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|n| u64::from(*n)).sum()
    }
}

impl std::ops::AddAssign<&FaultTally> for FaultTally {
    fn add_assign(&mut self, o: &FaultTally) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }
}

impl Serialize for FaultTally {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(FaultKind::ALL.len()))?;
        for (k, n) in self.iter() {
            m.serialize_entry(k.label(), &n)?;
        }
        m.end()
    }
}
