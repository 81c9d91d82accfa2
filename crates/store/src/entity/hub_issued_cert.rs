//! Node certificates the hub signed (enrollment, renewal), by serial (hex).
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "issued_cert")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub serial: String,
    pub school: String,
    pub node_id: String,
    /// `enroll` or `renew`.
    pub kind: String,
    pub issued_at: DateTimeUtc,
    pub not_after: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
