//! The demo: a county shaped like the one in the seeds (14 townships; 3 town
//! and 22 township junior high schools plus primary schools; 5 regional
//! alliances each led by a base school), a hub and one node agent per school
//! on SQLite files, a plausible semester recorded at every school, one
//! nightly sync, and the county's totals beside the nodes' own.

mod accounts;
mod county;
mod error;
mod grpc;
mod run;
mod semester;

pub use accounts::{DemoAccount, create_demo_accounts};
pub use county::{DEMO_ROSTER_DIR, demo_roster};
pub use error::DemoError;
pub use run::{DemoReport, DemoWorld, GroupTotal, run_demo, run_demo_kept, start_world};
pub use semester::{DEMO_SEMESTER, pairing_activity, semester_of_activity};
