//! One module per command family.

pub(crate) mod account;
pub(crate) mod bench;
pub(crate) mod ca;
pub(crate) mod demo;
pub(crate) mod enroll;
pub(crate) mod hub;
pub(crate) mod intent;
pub(crate) mod login;
pub(crate) mod node;
pub(crate) mod pairs;
pub(crate) mod query;
pub(crate) mod reliability;
pub(crate) mod report;
pub(crate) mod revoke;
pub(crate) mod roster;
pub(crate) mod soak;

use std::path::Path;

use anyhow::Context;

/// Reads a PEM file with a message that names it.
pub(crate) fn read_pem(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}
