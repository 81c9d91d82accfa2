//! The hub's audit log: one row per answered RPC.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// `node:CODE`, `operator:NAME`, `staff:ID`, or a placeholder for a caller without one.
    pub caller: String,
    /// The gRPC path, e.g. `/yanpei.v1.SyncService/Push`.
    pub rpc: String,
    /// JSON array of school codes.
    pub schools: String,
    pub rows: i64,
    /// The gRPC status code answered (0 = OK).
    pub code: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
