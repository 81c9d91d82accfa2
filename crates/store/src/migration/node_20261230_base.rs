//! The version an edit was made from (`outbox.base`, JSON; NULL for a new record or a
//! pulled one). A change the hub refused keeps it while quarantined: when a hub restored
//! from an older copy no longer holds the record at all, the node sends that base again
//! (the version the county had acknowledged), so the restore loses nothing while the
//! clerk has yet to fix the refused edit.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("outbox").add_column(text_null("base")).to_owned()).await
    }
}
