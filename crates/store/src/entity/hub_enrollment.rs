//! One-time enrollment codes, by the SHA-256 of the code (the code itself is never stored).
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub school: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// When the code was used; a used code never works again.
    pub used_at: Option<DateTimeUtc>,
    /// The node that used it.
    pub node_id: Option<String>,
    /// The serial (hex) of the certificate it yielded.
    pub serial: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
