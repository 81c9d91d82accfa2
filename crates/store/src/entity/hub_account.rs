//! A person's account at the hub: 管理员, 教研员 (linked to a roster staff id) or 校长 (linked to a school).
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub username: String,
    pub display_name: String,
    /// `operator`, `staff` or `principal`.
    pub role: String,
    /// The staff id (staff), the school code (principal), empty (operator).
    pub subject: String,
    /// PHC string (Argon2id).
    pub password_hash: String,
    /// Bumped when the password changes; tokens carry it, so older ones stop working.
    pub generation: i64,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
