//! Planted bugs: test-only switches that break one promise of the sync on purpose,
//! so the intent-level fault suite can show it catches each (issue 15). They exist
//! only in debug builds (`debug_assertions`); a release build ignores the variable.
//! `YANPEI_PLANTED_BUG` names one or more, comma-separated, in the hub's environment.

use std::sync::OnceLock;

/// A promise broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The hub answers a push without committing its transaction.
    AckBeforeCommit,
    /// Every change is taken as made from the version the hub holds.
    SkipBaseCheck,
    /// The hub never tells a school it no longer names that a shared record left it:
    /// neither the pull nor the anti-entropy comparison (which would repair the pull's
    /// silence after a restore) names it gone.
    ForgetPartnerRemoval,
    /// Refused changes leave no note in the ledger.
    DropLedgerNote,
    /// A batch's rollup deltas are applied twice.
    DoubleRollup,
}

impl Bug {
    /// Every planted bug.
    pub const ALL: [Bug; 5] = [
        Bug::AckBeforeCommit,
        Bug::SkipBaseCheck,
        Bug::ForgetPartnerRemoval,
        Bug::DropLedgerNote,
        Bug::DoubleRollup,
    ];

    /// Its name in `YANPEI_PLANTED_BUG`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::SkipBaseCheck => "skip-base-check",
            Bug::ForgetPartnerRemoval => "forget-partner-removal",
            Bug::DropLedgerNote => "drop-ledger-note",
            Bug::DoubleRollup => "double-rollup",
        }
    }
}

/// The environment variable that plants bugs (debug builds only).
pub const VARIABLE: &str = "YANPEI_PLANTED_BUG";

/// Whether `bug` is planted in this process.
pub fn planted(bug: Bug) -> bool {
    static PLANTED: OnceLock<Vec<String>> = OnceLock::new();
    if !cfg!(debug_assertions) {
        return false;
    }
    let names = PLANTED.get_or_init(|| {
        let names: Vec<String> = std::env::var(VARIABLE)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        if !names.is_empty() {
            tracing::error!(bugs = ?names, "PLANTED BUGS ARE ACTIVE: this process breaks sync on purpose (tests only)");
        }
        names
    });
    names.iter().any(|n| n == bug.name())
}
