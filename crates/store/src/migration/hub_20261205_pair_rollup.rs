//! Two more rollups, kept in the batch transaction like the others: cross-school
//! activity between an owner school and each partner school it names (pairings
//! report), and school x subject x kind x week (statistics filtered by subject and
//! week range). A database that had records before this migration gets every rollup
//! rebuilt once at open (see `HubStore::open`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Live records of `school_code` naming `partner_code` as a partner school,
        // by kind and ISO week (its Monday).
        m.create_table(
            Table::create()
                .table("rollup_pair")
                .col(integer("start_year"))
                .col(integer("term"))
                .col(string("school_code"))
                .col(string("partner_code"))
                .col(string("kind"))
                .col(date("week"))
                .col(big_integer("n"))
                .primary_key(
                    Index::create()
                        .col("start_year")
                        .col("term")
                        .col("school_code")
                        .col("partner_code")
                        .col("kind")
                        .col("week"),
                )
                .to_owned(),
        )
        .await?;
        // By school, subject ('' where none), kind and ISO week, with complete 五定四有 meetings.
        m.create_table(
            Table::create()
                .table("rollup_subject_week")
                .col(integer("start_year"))
                .col(integer("term"))
                .col(string("school_code"))
                .col(string("subject"))
                .col(string("kind"))
                .col(date("week"))
                .col(big_integer("n"))
                .col(big_integer("complete"))
                .primary_key(
                    Index::create()
                        .col("start_year")
                        .col("term")
                        .col("school_code")
                        .col("subject")
                        .col("kind")
                        .col("week"),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
