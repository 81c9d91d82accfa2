//! The 研培 domain: what a school records and the rules a record must obey.
//!
//! This crate does no I/O. Everything that crosses a boundary (the wire, a
//! database, a command line) is turned into these types, validated, first.

mod activity;
mod kind;
pub mod roster;
mod semester;

pub use activity::{Activity, ActivityDraft, Field, ValidationError};
pub use kind::ActivityKind;
pub use roster::{Alliance, Area, School, SchoolCode, SchoolLevel};
pub use semester::{Semester, Term};
