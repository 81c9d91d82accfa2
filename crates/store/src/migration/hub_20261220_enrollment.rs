//! Enrollment codes (one-time, expiring; only their SHA-256 is kept) and the certificates
//! the hub signed for nodes (at enrollment and at renewal), so expiry can be counted.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("enrollment")
                .col(string("code_hash").primary_key())
                .col(string("school"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(string_null("node_id"))
                .col(string_null("serial"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("issued_cert")
                .col(string("serial").primary_key())
                .col(string("school"))
                .col(string("node_id"))
                .col(string("kind"))
                .col(timestamp_with_time_zone("issued_at"))
                .col(timestamp_with_time_zone("not_after"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
