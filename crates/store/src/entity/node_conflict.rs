//! An open conflict the hub reported about a record this school is involved in.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conflict")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hub_id: i64,
    pub activity_id: Uuid,
    pub version: i64,
    pub losing_school: String,
    pub winning_school: String,
    /// JSON of the losing `Activity`.
    #[sea_orm(column_type = "Text")]
    pub losing: String,
    pub detected_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
