//! A node store's first schema: settings, local activities, the outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create().table("meta").col(string("key").primary_key()).col(text("value")).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("activity")
                .col(uuid("id").primary_key())
                .col(string("school_code"))
                .col(integer("start_year"))
                .col(integer("term"))
                .col(date("date"))
                .col(string("kind"))
                .col(big_integer("version"))
                .col(boolean("deleted"))
                .col(string_null("subject"))
                .col(string_null("grade"))
                .col(string("actor"))
                .col(string_null("teacher"))
                .col(string_null("topic"))
                .col(text_null("notes"))
                .col(integer_null("rating"))
                .col(integer_null("duration_minutes"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("outbox")
                .col(big_integer("seq").primary_key())
                .col(uuid("activity_id"))
                .col(big_integer("version"))
                .col(text("snapshot"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
