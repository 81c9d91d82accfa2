//! The error a record that breaks a rule gives: the field at fault and why, in Chinese.

use std::fmt;

use crate::Field;

/// A record broke a rule. `Display` gives a message a clerk can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The field at fault.
    pub field: Field,
    /// What is wrong, in Chinese.
    pub reason: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "字段 {}（{}）：{}", self.field.name(), self.field.label(), self.reason)
    }
}

impl ValidationError {
    /// An error on a field.
    pub fn new(field: Field, reason: impl Into<String>) -> Self {
        ValidationError { field, reason: reason.into() }
    }
}
