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
        write!(f, "{}：{}", self.field.label(), self.reason)
    }
}

impl ValidationError {
    /// An error on a field.
    pub fn new(field: Field, reason: impl Into<String>) -> Self {
        ValidationError { field, reason: reason.into() }
    }
}

/// Refuses control characters (NUL, ESC…) in text people will read: they would be stored
/// and later printed raw to someone's terminal. Long texts may keep line breaks and tabs.
pub(crate) fn check_controls(field: Field, value: &str, multiline: bool) -> Result<(), ValidationError> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    match value.chars().find(|c| c.is_control() && !allowed(*c)) {
        Some(c) => Err(ValidationError::new(
            field,
            format!("含有控制字符 U+{:04X}（如 NUL、ESC），不能保存；请删去后重新输入", u32::from(c)),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_line_breaks_only_in_long_text() {
        // (text, multiline, accepted)
        let table = [
            ("王静", false, true),
            ("a\0b", false, false),
            ("\u{1b}[31m红", true, false),
            ("第一行\n第二行\t完", true, true),
            ("第一行\n第二行", false, false),
            ("\u{7f}", true, false),
        ];
        for (text, multiline, ok) in table {
            assert_eq!(check_controls(Field::Notes, text, multiline).is_ok(), ok, "{text:?}");
        }
    }
}
