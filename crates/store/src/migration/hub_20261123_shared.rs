//! The full taxonomy, shared records and conflicts: kind-specific details on every
//! record, the schools a shared record involves, and the losing side of every
//! concurrent edit.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("activity").add_column(text_null("details")).to_owned()).await?;
        // The school of the node that made the stored version (the tie-break of a conflict).
        m.alter_table(Table::alter().table("activity").add_column(string_null("origin_school")).to_owned())
            .await?;
        // Partner schools of shared records (the owner is activity.school_code); a school
        // once involved keeps receiving the record's changes.
        m.create_table(
            Table::create()
                .table("activity_party")
                .col(uuid("activity_id"))
                .col(string("school_code"))
                .primary_key(Index::create().col("activity_id").col("school_code"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("activity_party_school")
                .table("activity_party")
                .col("school_code")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("conflict")
                .col(big_integer("id").primary_key().auto_increment())
                .col(uuid("activity_id"))
                .col(big_integer("version"))
                .col(string("school_code"))
                .col(uuid("losing_node"))
                .col(string("losing_school"))
                .col(uuid("winning_node"))
                .col(string("winning_school"))
                .col(text("losing"))
                .col(timestamp_with_time_zone("detected_at"))
                .col(big_integer_null("resolved_version"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("conflict_once")
                .table("conflict")
                .col("activity_id")
                .col("version")
                .col("losing_node")
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
