//! People's accounts (管理员, 教研员, 校长) with Argon2id password hashes, and the
//! hub's secrets (the key that signs login tokens), shared by every hub on one database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("account")
                .col(string("username").primary_key())
                .col(string("display_name"))
                .col(string("role"))
                .col(string("subject"))
                .col(text("password_hash"))
                .col(big_integer("generation"))
                .col(boolean("disabled"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("hub_secret")
                .col(string("name").primary_key())
                .col(text("value"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
