//! Who made each version a node holds or queues (`maker_node`, `maker_school`; NULL: this
//! node). A version sent again (anti-entropy after a hub restore) names its maker, so the
//! hub's conflict rule ranks it as its maker's, not as the sender's.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["activity", "outbox"] {
            m.alter_table(Table::alter().table(table).add_column(uuid_null("maker_node")).to_owned()).await?;
            m.alter_table(Table::alter().table(table).add_column(text_null("maker_school")).to_owned())
                .await?;
        }
        Ok(())
    }
}
