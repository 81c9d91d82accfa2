//! Who may read which schools: the one place every query asks.
//!
//! The county operator reads everything; a school's node and its principal (校长)
//! read their own school;
//! a 教研员 reads the schools the current roster assigns to them (分工包校), so
//! their scope follows the roster when it changes. Asking about anything else is
//! PERMISSION_DENIED, never an empty answer.

use std::collections::BTreeSet;

use yanpei_domain::SchoolCode;
use yanpei_pki::Identity;
use yanpei_store::hub::HubStore;

use crate::HubError;

/// The schools a caller may read.
#[derive(Debug)]
pub(crate) enum Readable {
    /// The whole county.
    All,
    /// These schools only.
    Schools(BTreeSet<SchoolCode>),
}

/// The caller's readable schools, from its identity and the current roster.
pub(crate) async fn readable(store: &HubStore, who: &Identity) -> Result<Readable, HubError> {
    match who {
        Identity::Operator { .. } => Ok(Readable::All),
        Identity::Node { school } | Identity::Principal { school } => {
            Ok(Readable::Schools(BTreeSet::from([school.clone()])))
        }
        Identity::Staff { id } => {
            let roster = store.current_roster().await?.map(|(_, r)| r).unwrap_or_default();
            let staff = roster
                .staff
                .iter()
                .find(|s| &s.id == id)
                .ok_or_else(|| HubError::PermissionDenied(format!("名册中没有工号为 {id} 的研培人员")))?;
            Ok(Readable::Schools(staff.schools.iter().cloned().collect()))
        }
    }
}

/// Refuses a request for `requested` schools (`None`: the whole county) outside `readable`.
pub(crate) fn authorize(readable: &Readable, requested: Option<&[SchoolCode]>) -> Result<(), HubError> {
    let Readable::Schools(allowed) = readable else { return Ok(()) };
    let outside: Vec<String> = match requested {
        None => return Err(HubError::PermissionDenied(format!("只能查询这些学校：{}", list(allowed)))),
        Some(schools) => schools.iter().filter(|s| !allowed.contains(*s)).map(ToString::to_string).collect(),
    };
    if outside.is_empty() {
        Ok(())
    } else {
        Err(HubError::PermissionDenied(format!(
            "无权查询学校 {}；只能查询：{}",
            outside.join("、"),
            list(allowed)
        )))
    }
}

fn list(schools: &BTreeSet<SchoolCode>) -> String {
    if schools.is_empty() {
        return "（无）".into();
    }
    schools.iter().map(ToString::to_string).collect::<Vec<_>>().join("、")
}
