//! Rollups: counts kept up to date in the batch transaction, so queries never scan
//! the raw activity table. Built from existing rows when first opened (see `rollup`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // By school, kind and ISO week (its Monday): county, alliance, township,
        // urban/rural, school, semester, week and kind all sum from here.
        m.create_table(
            Table::create()
                .table("rollup_week")
                .col(integer("start_year"))
                .col(integer("term"))
                .col(string("school_code"))
                .col(string("kind"))
                .col(date("week"))
                .col(big_integer("n"))
                .col(big_integer("days"))
                .col(big_integer("complete"))
                .primary_key(
                    Index::create().col("start_year").col("term").col("school_code").col("kind").col("week"),
                )
                .to_owned(),
        )
        .await?;
        // By person (the record's 执行人: a teacher or a staff member), school and kind.
        m.create_table(
            Table::create()
                .table("rollup_person")
                .col(integer("start_year"))
                .col(integer("term"))
                .col(string("school_code"))
                .col(string("actor"))
                .col(string("kind"))
                .col(big_integer("n"))
                .col(big_integer("days"))
                .primary_key(
                    Index::create().col("start_year").col("term").col("actor").col("school_code").col("kind"),
                )
                .to_owned(),
        )
        .await?;
        // By school, subject ('' where none) and kind.
        m.create_table(
            Table::create()
                .table("rollup_subject")
                .col(integer("start_year"))
                .col(integer("term"))
                .col(string("school_code"))
                .col(string("subject"))
                .col(string("kind"))
                .col(big_integer("n"))
                .primary_key(
                    Index::create()
                        .col("start_year")
                        .col("term")
                        .col("school_code")
                        .col("subject")
                        .col("kind"),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
