//! Each node against the hub's view of its school.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;
use yanpei_domain::Activity;

use super::{Class, HubSnapshot, NodeSnapshot, Verdict, short};
use crate::tree::rev;

/// A node holds exactly its school's records and the shared records whose current
/// version names it, each at the hub's current version, and has nothing unsent.
pub(super) fn check_node(v: &mut Verdict, hub: &HubSnapshot, node: &NodeSnapshot) {
    let name = &node.name;
    for e in &node.sync_errors {
        v.add(Class::NodeMismatch, 1, format!("node {name}: its healing sync fails: {e}"));
    }
    if node.pending > 0 {
        v.add(
            Class::NodeMismatch,
            1,
            format!("node {name}: {} changes still unsent after healing", node.pending),
        );
    }
    let view: BTreeMap<Uuid, &Activity> =
        hub.records.iter().filter(|(_, a)| a.involves(&node.school)).map(|(id, a)| (*id, a)).collect();
    // A record whose change the hub refused stays at the node's version until a person answers.
    let held: BTreeSet<String> = node.quarantined.iter().map(|(a, _)| rev(a)).collect();
    let held_here = |a: &Activity| held.contains(&rev(a));
    for (id, h) in &view {
        match node.records.get(id) {
            None => v.add(
                Class::NodeMismatch,
                1,
                format!(
                    "node {name}: lacks record {id} (hub v{}{}) of {}",
                    h.version,
                    if h.deleted { ", deleted" } else { "" },
                    h.school
                ),
            ),
            Some(mine) if held_here(mine) => {}
            Some(mine) if rev(mine) != rev(h) => v.add(
                Class::NodeMismatch,
                1,
                format!(
                    "node {name}: holds record {id} at {}, the hub at {}",
                    short(&rev(mine)),
                    short(&rev(h))
                ),
            ),
            Some(_) => {}
        }
    }
    for (id, mine) in &node.records {
        if view.contains_key(id) || held_here(mine) {
            continue;
        }
        let why = match hub.records.get(id) {
            None => "the hub does not hold it".to_owned(),
            Some(h) => {
                format!("the hub's current version no longer names {} (owner {})", node.school, h.school)
            }
        };
        v.add(
            Class::NodeMismatch,
            1,
            format!("node {name}: holds record {id} ({}): {why}", short(&rev(mine))),
        );
    }
}
