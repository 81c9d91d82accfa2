//! The full taxonomy on a node: kind-specific details on every record, and the
//! conflicts the hub reports about records this school is involved in.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("activity").add_column(text_null("details")).to_owned()).await?;
        m.create_table(
            Table::create()
                .table("conflict")
                .col(big_integer("hub_id").primary_key())
                .col(uuid("activity_id"))
                .col(big_integer("version"))
                .col(string("losing_school"))
                .col(string("winning_school"))
                .col(text("losing"))
                .col(timestamp_with_time_zone("detected_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
