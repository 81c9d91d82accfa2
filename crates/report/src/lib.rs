//! The county's reports, computed from rollups and the roster; no I/O.
//!
//! `policy`: the quota policy (a documented TOML file, the seeds' figures as the
//! shipped defaults). `compliance`: every person's progress against each quota,
//! what is missing, whether the present pace reaches the target by the semester's
//! end, and a supervisor roll-up. `pairs`: cross-school activity per pairing and the
//! weak school's trend. `gaps`: urban/rural, township and alliance groups week by
//! week. `xlsx`: any report table as a workbook with
//! Chinese headers.

pub mod compliance;
pub mod coverage;
pub mod gaps;
pub mod pairs;
pub mod policy;
pub mod week;
pub mod xlsx;

pub use compliance::{Compliance, ComplianceRow, PersonCount, RollupRow, StaffRows, compliance};
pub use coverage::{SchoolCoverage, coverage};
pub use gaps::{Dimension, GapGroup, GapWeek, Gaps, gaps};
pub use pairs::{PairCount, PairReport, Trend, pairings};
pub use policy::{CountsFor, Measure, Period, PolicyError, Quota, QuotaPolicy, Role};
pub use xlsx::{Cell, Table, to_xlsx};
