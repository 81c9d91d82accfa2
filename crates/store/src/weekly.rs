//! Week-by-week reads of the rollups for the pairings and gaps reports: each school's
//! live records per ISO week, and the cross-school records between owner and partner
//! schools per kind and week. A few hundred rollup rows, never the raw table.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Statement};
use yanpei_domain::Semester;

use crate::StoreError;
use crate::sql::{HubStore, sql};

/// Live records of `school` naming `partner` as a partner school, of one kind in one week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRow {
    /// The school that owns the records.
    pub school: String,
    /// The partner school they name.
    pub partner: String,
    /// The kind's code.
    pub kind: String,
    /// Monday of the ISO week.
    pub week: NaiveDate,
    /// How many.
    pub n: i64,
}

fn semester_values(semester: Semester) -> [sea_orm::Value; 2] {
    [i32::from(semester.start_year).into(), i32::from(semester.term.number()).into()]
}

impl HubStore {
    /// The semester's cross-school rollup rows (rows that sum to nothing left out).
    pub async fn pair_rollups(&self, semester: Semester) -> Result<Vec<PairRow>, StoreError> {
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT school_code, partner_code, kind, week, n FROM rollup_pair \
                     WHERE start_year = ? AND term = ? AND n <> 0",
                ),
                semester_values(semester),
            ))
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(PairRow {
                    school: r.try_get_by_index(0)?,
                    partner: r.try_get_by_index(1)?,
                    kind: r.try_get_by_index(2)?,
                    week: r.try_get_by_index(3)?,
                    n: r.try_get_by_index(4)?,
                })
            })
            .collect()
    }

    /// The semester's live records by (school, Monday of the ISO week), any kind.
    pub async fn weekly_totals(
        &self,
        semester: Semester,
    ) -> Result<BTreeMap<(String, NaiveDate), i64>, StoreError> {
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "SELECT school_code, week, CAST(SUM(n) AS BIGINT) FROM rollup_week \
                     WHERE start_year = ? AND term = ? GROUP BY school_code, week",
                ),
                semester_values(semester),
            ))
            .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            let n: i64 = r.try_get_by_index(2)?;
            if n != 0 {
                out.insert((r.try_get_by_index(0)?, r.try_get_by_index(1)?), n);
            }
        }
        Ok(out)
    }
}
