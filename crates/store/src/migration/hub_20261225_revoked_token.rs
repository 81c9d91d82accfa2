//! Login tokens ended before their expiry (signing out of the dashboard), kept until
//! they would have expired anyway, so every hub on one database refuses them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("revoked_token")
                .col(string("token_id").primary_key())
                .col(string("username"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("revoked_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
