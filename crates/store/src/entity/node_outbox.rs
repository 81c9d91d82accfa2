//! The node's outbox: every local change, in order, until the hub acknowledges it.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// The node's sequence number: strictly increasing, never reused
    /// (allocated from the `last_seq` meta key, not from a rowid).
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub activity_id: Uuid,
    pub version: i64,
    /// The record's full state at `version`, as JSON.
    pub snapshot: String,
    pub created_at: DateTimeUtc,
    /// The revisions the change descends from, newest first (JSON array).
    #[sea_orm(column_type = "Text", nullable)]
    pub ancestors: Option<String>,
    /// The hub's reason for refusing the change (quarantined until the record is edited).
    #[sea_orm(column_type = "Text", nullable)]
    pub refused: Option<String>,
    /// The node that made this version; NULL: this node.
    pub maker_node: Option<Uuid>,
    /// That node's school.
    pub maker_school: Option<String>,
    /// The version an edit was made from, as JSON (`node::Base`); NULL for a new record.
    #[sea_orm(column_type = "Text", nullable)]
    pub base: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
