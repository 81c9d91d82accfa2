//! The county's reports, computed from rollups and the roster; no I/O.
//!
//! `policy`: the quota policy (a documented TOML file, the seeds' figures as the
//! shipped defaults). `compliance`: every person's progress against each quota,
//! what is missing, whether the present pace reaches the target by the semester's
//! end, and a supervisor roll-up. `xlsx`: any report table as a workbook with
//! Chinese headers.

pub mod compliance;
pub mod policy;
pub mod xlsx;

pub use compliance::{Compliance, ComplianceRow, PersonCount, RollupRow, compliance};
pub use policy::{Measure, Period, PolicyError, Quota, QuotaPolicy, Role};
pub use xlsx::{Cell, Table, to_xlsx};
