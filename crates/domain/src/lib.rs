//! The 研培 domain: what a school records and the rules a record must obey.
//!
//! This crate does no I/O. Everything that crosses a boundary (the wire, a
//! database, a command line) is turned into these types, validated, first.

mod activity;
mod calendar;
mod details;
mod example;
mod field;
mod kind;
mod meeting;
mod rev;
pub mod roster;
mod semester;
mod text;
mod validation;

pub use activity::{Activity, ActivityDraft};
pub use calendar::Calendar;
pub use details::{AttachmentRef, Details, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_PEOPLE, ProjectStage};
pub use example::example_draft;
pub use field::Field;
pub use kind::{ActivityKind, Family, UnknownKind};
pub use meeting::MeetingItem;
pub use rev::{MAX_ANCESTORS, Rev, RevError, ancestry_of, period_digest, period_of};
pub use roster::{Alliance, Area, School, SchoolCode, SchoolLevel};
pub use semester::{Semester, Term};
pub use text::split_list;
pub use validation::ValidationError;
