//! The audit log: every RPC the hub answers becomes one entry — who (from the
//! certificate), which RPC, which schools, how many rows, the gRPC code, when.
//!
//! The [`gate`](crate::gate) layer, which every request passes through, opens a
//! [`Note`] before the handler runs and writes the entry after it answered; a
//! handler only adds what it alone knows (the schools, the rows) to the note. So
//! a new handler cannot skip the log: at worst its entries lack schools and rows.
//!
//! Entries go through a bounded channel to one writer task that inserts them in
//! batches, outside the batch transaction: the log must not lengthen the
//! transaction every writer serialises on (the counter row), and refused calls
//! have no transaction at all. The channel applies backpressure instead of dropping
//! entries. [`AuditSink::flush`] waits until everything sent before it is stored;
//! the audit query calls it, so the log it answers includes every call answered
//! before it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use yanpei_pki::Identity;
use yanpei_store::audit::AuditEntry;
use yanpei_store::hub::HubStore;

/// Entries waiting for the writer; beyond this, RPCs wait for it.
const QUEUE: usize = 4096;
/// Most entries one insert writes.
const BATCH: usize = 500;

/// How the log names a caller.
pub(crate) fn caller_name(who: &Identity) -> String {
    match who {
        Identity::Node { school } => format!("node:{school}"),
        Identity::Staff { id } => format!("staff:{id}"),
        Identity::Operator { name } => format!("operator:{name}"),
        Identity::Principal { school } => format!("principal:{school}"),
    }
}

/// What a handler adds to its call's entry. Found in the request's extensions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Note(Arc<Mutex<NoteInner>>);

#[derive(Debug, Default)]
struct NoteInner {
    schools: BTreeSet<String>,
    rows: u64,
}

impl Note {
    /// The note the gate opened for this request (a detached one if none).
    pub(crate) fn of<T>(req: &tonic::Request<T>) -> Note {
        req.extensions().get::<Note>().cloned().unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut NoteInner)) {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The call concerned `school`.
    pub(crate) fn school(&self, school: impl ToString) {
        self.with(|n| {
            n.schools.insert(school.to_string());
        });
    }

    /// The call carried `n` more rows.
    pub(crate) fn rows(&self, n: usize) {
        self.with(|inner| inner.rows = inner.rows.saturating_add(n as u64));
    }

    pub(crate) fn take(&self) -> (Vec<String>, u64) {
        let inner = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (inner.schools.iter().cloned().collect(), inner.rows)
    }
}

enum Msg {
    Entry(AuditEntry),
    Flush(oneshot::Sender<()>),
}

/// Where the gate sends entries.
#[derive(Debug, Clone)]
pub(crate) struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(_) => "Entry",
            Msg::Flush(_) => "Flush",
        })
    }
}

impl AuditSink {
    /// Starts the writer; it ends once every sink is dropped and the queue is written.
    pub(crate) fn start(store: HubStore) -> (AuditSink, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (AuditSink { tx }, tokio::spawn(write(store, rx)))
    }

    /// Queues an entry (waiting while the queue is full).
    pub(crate) async fn record(&self, entry: AuditEntry) {
        if self.tx.send(Msg::Entry(entry)).await.is_err() {
            tracing::error!("audit writer has stopped; an audit entry is lost");
        }
    }

    /// Waits until every entry queued before this call is stored.
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write(store: HubStore, mut rx: mpsc::Receiver<Msg>) {
    let mut entries = Vec::with_capacity(BATCH);
    let mut flushed = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => entries.push(e),
                Msg::Flush(done) => flushed.push(done),
            }
            if entries.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if let Err(e) = store.append_audit(&entries).await {
            tracing::error!(error = %e, lost = entries.len(), "could not write audit entries");
        }
        entries.clear();
        for done in flushed.drain(..) {
            let _ = done.send(());
        }
    }
}
