//! The losing side of a concurrent edit: two nodes made the same version of one record.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conflict")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: Uuid,
    pub version: i64,
    /// The record's own school.
    pub school_code: String,
    pub losing_node: Uuid,
    pub losing_school: String,
    pub winning_node: Uuid,
    pub winning_school: String,
    /// JSON of the losing `Activity`.
    #[sea_orm(column_type = "Text")]
    pub losing: String,
    pub detected_at: DateTimeUtc,
    /// The version that resolved it, once someone edited the record after seeing it.
    pub resolved_version: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    /// The losing version's revision; NULL on rows from before protocol 3.
    pub rev: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
