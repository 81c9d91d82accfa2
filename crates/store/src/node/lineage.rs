//! A version's lineage at the node: the ancestry of a new version, who made a stored
//! version, and the version an edit was made from (kept with its outbox entry).

use sea_orm::ActiveValue::Set;
use uuid::Uuid;
use yanpei_domain::{Activity, MAX_ANCESTORS, Rev, ancestry_of};

use crate::StoreError;
use crate::convert::{from_node_row, parse_revs};
use crate::decide::Origin;
use crate::entity::node_activity;

/// The ancestry of a version made from the stored row `current` (and from `also`).
pub(super) fn next_ancestry(
    current: node_activity::Model,
    also: Option<Rev>,
) -> Result<Vec<Rev>, StoreError> {
    let held = parse_revs(current.revs.as_deref())?;
    let base = from_node_row(current)?;
    let mut ancestors = ancestry_of(&base, &held);
    if let Some(r) = also
        && !ancestors.contains(&r)
    {
        ancestors.insert(1.min(ancestors.len()), r);
        ancestors.truncate(MAX_ANCESTORS);
    }
    Ok(ancestors)
}

/// The stored version an edit is made from, as kept with the edit's outbox entry: the
/// record, its ancestry and who made it.
pub(super) fn base_of(row: &node_activity::Model) -> Result<String, StoreError> {
    let activity = from_node_row(row.clone())?;
    let base = serde_json::json!({
        "activity": activity,
        "revs": row.revs,
        "maker_node": row.maker_node,
        "maker_school": row.maker_school,
    });
    Ok(base.to_string())
}

/// What [`base_of`] kept: the version, its ancestors and its maker.
pub(super) fn parse_base(text: &str) -> Result<(Activity, Vec<Rev>, Option<Origin>), StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("outbox base: {e}"));
    let mut v: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let activity: Activity =
        serde_json::from_value(v["activity"].take()).map_err(|e| corrupt(e.to_string()))?;
    let ancestors = parse_revs(v["revs"].as_str())?;
    let maker_node = v["maker_node"].as_str().and_then(|n| n.parse::<Uuid>().ok());
    let maker_school = v["maker_school"].as_str().map(str::to_owned);
    Ok((activity, ancestors, maker_of(maker_node, maker_school)))
}

/// Who made a stored version (`None`: this node).
pub(super) fn maker_of(node: Option<Uuid>, school: Option<String>) -> Option<Origin> {
    Some(Origin { node: node?, school: school? })
}

/// Records who made the version a row now holds (`None`: this node).
pub(super) fn set_maker(row: &mut node_activity::ActiveModel, maker: Option<&Origin>) {
    row.maker_node = Set(maker.map(|m| m.node));
    row.maker_school = Set(maker.map(|m| m.school.clone()));
}
