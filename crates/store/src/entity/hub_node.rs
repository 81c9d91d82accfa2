//! A node agent the hub has seen, with the highest sequence number it holds durably.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "node")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: Uuid,
    pub school_code: String,
    pub acked_seq: i64,
    pub agent_version: String,
    pub first_seen: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    /// The pull cursor the node reported when it last finished a session.
    pub pull_cursor: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
