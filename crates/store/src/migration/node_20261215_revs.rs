//! Causal sync (protocol 3) at a node: each record's ancestry (`activity.revs`),
//! each outbox entry's ancestry (`outbox.ancestors`), and the hub's reason for a
//! refused (quarantined) entry (`outbox.refused`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("activity").add_column(text_null("revs")).to_owned()).await?;
        m.alter_table(Table::alter().table("outbox").add_column(text_null("ancestors")).to_owned()).await?;
        m.alter_table(Table::alter().table("outbox").add_column(text_null("refused")).to_owned()).await?;
        Ok(())
    }
}
