//! Revisions: the identity of one version of a record, and a version's ancestry.
//!
//! A revision is `VERSION-HEX16`: the version number and the first 8 bytes of the
//! SHA-256 of the record's canonical JSON (every field, `version` and `deleted`
//! included). Identical content at the same version is the same revision, whoever
//! made it; any difference makes another. A change names the revisions it descends
//! from (its ancestors, newest first), which is how the hub tells an edit made from
//! the version it holds from one made from an older version (a concurrent edit).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Activity;

/// The most ancestors a change carries and a store keeps per record.
pub const MAX_ANCESTORS: usize = 64;

/// The identity of one version of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rev {
    version: u64,
    hash: String,
}

/// A revision string that is not `VERSION-HEX16`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("修订号「{0}」格式不对：应为「版本-16位十六进制」")]
pub struct RevError(pub String);

impl Rev {
    /// The revision of `a` as it is now.
    pub fn of(a: &Activity) -> Rev {
        // Serialising a plain struct of strings, numbers and dates cannot fail; if it
        // ever did, the empty input still gives a stable (if shared) hash.
        let json = serde_json::to_vec(a).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let hash = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Rev { version: a.version, hash }
    }

    /// The version number this revision is of.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.version, self.hash)
    }
}

impl FromStr for Rev {
    type Err = RevError;

    fn from_str(s: &str) -> Result<Rev, RevError> {
        let bad = || RevError(s.chars().take(40).collect());
        let (v, h) = s.split_once('-').ok_or_else(bad)?;
        let version = v.parse::<u64>().map_err(|_| bad())?;
        if version == 0
            || h.len() != 16
            || !h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        Ok(Rev { version, hash: h.to_owned() })
    }
}

impl serde::Serialize for Rev {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Rev {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rev, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The ancestry of a new version made from `base` (whose own ancestry is
/// `base_ancestors`, newest first): the base's revision, then its ancestors,
/// without repeats, at most [`MAX_ANCESTORS`].
pub fn ancestry_of(base: &Activity, base_ancestors: &[Rev]) -> Vec<Rev> {
    let mut out = Vec::with_capacity(base_ancestors.len() + 1);
    out.push(Rev::of(base));
    for r in base_ancestors {
        if out.len() >= MAX_ANCESTORS {
            break;
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    out
}

/// The anti-entropy period of a record: the month (`YYYY-MM`) of its UUIDv7 id's
/// time, which never changes with edits; `"0000-00"` for ids without a time.
pub fn period_of(id: &Uuid) -> String {
    match id.get_timestamp() {
        Some(ts) => {
            let (secs, _) = ts.to_unix();
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            match chrono::DateTime::from_timestamp(secs, 0) {
                Some(t) => t.format("%Y-%m").to_string(),
                None => "0000-00".to_owned(),
            }
        }
        None => "0000-00".to_owned(),
    }
}

/// The anti-entropy digest of one period's records: SHA-256 (hex) over their
/// "ID REV" lines sorted by id. Node and hub compute it the same way.
pub fn period_digest(entries: &[(Uuid, Rev)]) -> String {
    let mut sorted: Vec<&(Uuid, Rev)> = entries.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (id, rev) in sorted {
        h.update(format!("{id} {rev}\n").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActivityKind, SchoolCode, Semester, example_draft};

    fn record() -> Activity {
        let school: SchoolCode = "CGZ1".parse().unwrap();
        let semester: Semester = "2024-2025-1".parse().unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2024, 9, 10).unwrap();
        Activity::create(
            school.clone(),
            semester,
            day,
            ActivityKind::Lecture,
            example_draft(ActivityKind::Lecture, &school),
        )
        .unwrap()
    }

    #[test]
    fn same_content_same_rev_any_change_another() {
        let a = record();
        let b = a.clone();
        assert_eq!(Rev::of(&a), Rev::of(&b));
        let mut c = a.clone();
        c.body.notes = Some("改".into());
        assert_ne!(Rev::of(&a), Rev::of(&c));
        let mut d = a.clone();
        d.deleted = true;
        assert_ne!(Rev::of(&a), Rev::of(&d));
        assert_eq!(Rev::of(&a).version(), 1);
    }

    #[test]
    fn parses_what_it_prints_and_refuses_the_rest() {
        let r = Rev::of(&record());
        assert_eq!(r.to_string().parse::<Rev>().unwrap(), r);
        for bad in ["", "1", "1-", "0-0123456789abcdef", "x-0123456789abcdef", "1-0123456789ABCDEF", "1-0123"]
        {
            assert!(bad.parse::<Rev>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ancestry_is_base_first_bounded_and_without_repeats() {
        let a = record();
        let older: Vec<Rev> = (0..100).map(|i| format!("{}-{:016x}", i + 1, i).parse().unwrap()).collect();
        let anc = ancestry_of(&a, &older);
        assert_eq!(anc.len(), MAX_ANCESTORS);
        assert_eq!(anc[0], Rev::of(&a));
        let again = ancestry_of(&a, &[Rev::of(&a)]);
        assert_eq!(again, vec![Rev::of(&a)]);
    }

    #[test]
    fn period_is_the_month_of_the_id() {
        let id = Uuid::parse_str("0190f2a0-0000-7000-8000-000000000000").unwrap();
        assert_eq!(period_of(&id), "2024-07");
        assert_eq!(period_of(&Uuid::nil()), "0000-00");
    }
}
