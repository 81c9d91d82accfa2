//! The audit log: one row per RPC the hub answered — who, which RPC, which schools,
//! how many rows, the gRPC outcome, when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_log")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("caller"))
                .col(string("rpc"))
                .col(text("schools"))
                .col(big_integer("rows"))
                .col(integer("code"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_log_caller").table("audit_log").col("caller").to_owned())
            .await?;
        Ok(())
    }
}
