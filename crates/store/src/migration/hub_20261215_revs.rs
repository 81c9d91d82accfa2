//! Causal sync (protocol 3): each record's ancestry (`activity.revs`), each kept
//! loser's revision (`conflict.rev`), and the pull cursor each node reported last
//! (`node.pull_cursor`), which tells a node that the hub was restored from a copy.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(Table::alter().table("activity").add_column(text_null("revs")).to_owned()).await?;
        m.alter_table(Table::alter().table("conflict").add_column(string_null("rev")).to_owned()).await?;
        m.alter_table(
            Table::alter().table("node").add_column(big_integer("pull_cursor").default(0)).to_owned(),
        )
        .await?;
        Ok(())
    }
}
