//! An activity in a node's local store.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub school_code: String,
    pub start_year: i32,
    pub term: i32,
    pub date: Date,
    pub kind: String,
    pub version: i64,
    pub deleted: bool,
    pub subject: Option<String>,
    pub grade: Option<String>,
    pub actor: String,
    pub teacher: Option<String>,
    pub topic: Option<String>,
    pub notes: Option<String>,
    pub rating: Option<i32>,
    pub duration_minutes: Option<i32>,
    /// Kind-specific fields, JSON of `yanpei_domain::Details`.
    #[sea_orm(column_type = "Text", nullable)]
    pub details: Option<String>,
    pub updated_at: DateTimeUtc,
    /// The revisions this version descends from, newest first (JSON array); NULL before protocol 3.
    #[sea_orm(column_type = "Text", nullable)]
    pub revs: Option<String>,
    /// The node that made this version; NULL: this node.
    pub maker_node: Option<Uuid>,
    /// That node's school.
    pub maker_school: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
