//! Roster versions: every accepted roster is kept whole, with who made it and when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("roster_version")
                .col(big_integer("version").primary_key())
                .col(string("author"))
                .col(timestamp_with_time_zone("created_at"))
                .col(text("summary"))
                .col(text("snapshot"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
