//! What the hub sends in the store's terms, checked like anything from the network: the
//! conversions the proto crate cannot hold (it does not know the store's types).

use uuid::Uuid;
use yanpei_domain::{Activity, Rev, SchoolCode};
use yanpei_proto::pb;
use yanpei_store::decide::Origin;
use yanpei_store::node::{OutboxEntry, PulledRecord};

use super::bad_answer;
use crate::NodeError;

/// Record ids the hub sent.
pub(super) fn record_ids(v: Vec<String>) -> Result<Vec<Uuid>, NodeError> {
    v.iter()
        .map(|s| Uuid::try_parse(s).map_err(|_| bad_answer(format!("hub sent an invalid record id {s:?}"))))
        .collect()
}

/// An outbox entry as the wire carries it.
pub(super) fn change_to_pb(e: &OutboxEntry) -> pb::Change {
    pb::Change {
        seq: e.seq,
        activity: Some(pb::Activity::from(&e.activity)),
        ancestors: e.ancestors.iter().map(ToString::to_string).collect(),
        maker_node: e.maker.as_ref().map(|m| m.node.to_string()).unwrap_or_default(),
        maker_school: e.maker.as_ref().map(|m| m.school.clone()).unwrap_or_default(),
    }
}

fn revs(v: &[String], bad: impl Fn(String) -> NodeError) -> Result<Vec<Rev>, NodeError> {
    v.iter().map(|r| r.parse::<Rev>()).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))
}

/// A record the hub sent.
pub(super) fn pulled_from_pb(c: pb::PulledChange) -> Result<PulledRecord, NodeError> {
    let bad = |what: String| bad_answer(format!("hub sent an invalid record: {what}"));
    let p = c.activity.ok_or_else(|| bad("no record".into()))?;
    let activity = Activity::try_from(p).map_err(|e| bad(e.to_string()))?;
    let ancestors = revs(&c.ancestors, bad)?;
    let kept = revs(&c.kept, bad)?;
    // Hubs before the maker was sent leave it empty: the version is then sent again in
    // this node's name, as before.
    let maker = match (c.maker_node.as_str(), c.maker_school.as_str()) {
        ("", "") => None,
        (node, school) => Some(Origin {
            node: Uuid::parse_str(node).map_err(|e| bad(format!("maker_node: {e}")))?,
            school: school.parse::<SchoolCode>().map_err(|e| bad(format!("maker_school: {e}")))?.to_string(),
        }),
    };
    Ok(PulledRecord { activity, ancestors, maker, kept })
}

/// A conflict the hub reported, checked like any record it sends.
pub(super) fn conflict_from_pb(c: pb::Conflict) -> Result<yanpei_store::Conflict, NodeError> {
    let bad = |what: String| bad_answer(format!("hub sent an invalid conflict: {what}"));
    let losing = c.losing.ok_or_else(|| bad("no losing version".into()))?;
    let losing = Activity::try_from(losing).map_err(|e| bad(e.to_string()))?;
    let detected_at = chrono::DateTime::parse_from_rfc3339(&c.detected_at)
        .map_err(|e| bad(e.to_string()))?
        .with_timezone(&chrono::Utc);
    Ok(yanpei_store::Conflict {
        id: c.id,
        version: c.version,
        losing_school: c.losing_school,
        winning_school: c.winning_school,
        losing,
        detected_at,
        resolved_version: (c.resolved_version != 0).then_some(c.resolved_version),
    })
}
