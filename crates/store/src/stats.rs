//! Statistics reads: live records by school and kind (and complete 五定四有 meetings)
//! over a scope, a subject and a range of weeks, from the week rollups, and the same
//! counts from the raw table for checks and benchmarks.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement};
use yanpei_domain::{ActivityKind, SchoolCode, Semester};

use crate::StoreError;
use crate::entity::hub_activity;
use crate::sql::{HubStore, seq_u64, sql};

/// What the statistics are about.
#[derive(Debug, Clone, Default)]
pub struct StatsFilter {
    /// Only this semester; `None`: all.
    pub semester: Option<Semester>,
    /// Only these schools; `None`: the whole county.
    pub schools: Option<Vec<SchoolCode>>,
    /// Only records of this subject; `None`: any (records without a subject included).
    pub subject: Option<String>,
    /// Only records of this ISO week (its Monday) and later; `None`: from the first.
    pub from_week: Option<chrono::NaiveDate>,
    /// Only records of this ISO week (its Monday) and earlier; `None`: to the last.
    pub to_week: Option<chrono::NaiveDate>,
}

impl StatsFilter {
    /// The rollup that answers this filter, and its `WHERE` clause and values;
    /// `None` when the filter selects no school at all.
    pub(crate) fn rollup_where(&self) -> Option<(&'static str, String, Vec<sea_orm::Value>)> {
        let table = if self.subject.is_some() { "rollup_subject_week" } else { "rollup_week" };
        let mut text = String::from(" WHERE 1 = 1");
        let mut values: Vec<sea_orm::Value> = Vec::new();
        if let Some(s) = self.semester {
            text.push_str(" AND start_year = ? AND term = ?");
            values.push(i32::from(s.start_year).into());
            values.push(i32::from(s.term.number()).into());
        }
        if let Some(schools) = &self.schools {
            if schools.is_empty() {
                return None;
            }
            text.push_str(&format!(" AND school_code IN ({})", vec!["?"; schools.len()].join(", ")));
            values.extend(schools.iter().map(|s| s.to_string().into()));
        }
        if let Some(subject) = &self.subject {
            text.push_str(" AND subject = ?");
            values.push(subject.clone().into());
        }
        if let Some(first) = self.from_week {
            text.push_str(" AND week >= ?");
            values.push(first.into());
        }
        if let Some(last) = self.to_week {
            text.push_str(" AND week <= ?");
            values.push(last.into());
        }
        Some((table, text, values))
    }
}

/// A count of live activities of one kind at one school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolKindCount {
    /// The school.
    pub school: String,
    /// The kind.
    pub kind: ActivityKind,
    /// How many.
    pub count: u64,
}

impl HubStore {
    /// Counts of live activities by school and kind.
    /// Reads `rollup_week`, or `rollup_subject_week` when the filter names a subject.
    pub async fn stats(&self, filter: &StatsFilter) -> Result<Vec<SchoolKindCount>, StoreError> {
        let Some((table, clause, values)) = filter.rollup_where() else { return Ok(Vec::new()) };
        let text = format!(
            "SELECT school_code, kind, CAST(SUM(n) AS BIGINT) FROM {table}{clause} GROUP BY school_code, kind"
        );
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(backend, sql(backend, &text), values))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (school, kind): (String, String) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            // SUM of BIGINT is NUMERIC on PostgreSQL: cast back in the query.
            let n: i64 = row.try_get_by_index(2)?;
            if n == 0 {
                continue;
            }
            out.push(SchoolKindCount {
                kind: kind.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                school,
                count: seq_u64(n),
            });
        }
        Ok(out)
    }

    /// The same answer as [`HubStore::stats`], computed from the raw records (a
    /// `GROUP BY` over every row): what the rollups are checked and benchmarked against.
    pub async fn stats_raw(&self, filter: &StatsFilter) -> Result<Vec<SchoolKindCount>, StoreError> {
        let mut q = hub_activity::Entity::find()
            .select_only()
            .column(hub_activity::Column::SchoolCode)
            .column(hub_activity::Column::Kind)
            .column_as(hub_activity::Column::Id.count(), "n")
            .filter(hub_activity::Column::Deleted.eq(false))
            .group_by(hub_activity::Column::SchoolCode)
            .group_by(hub_activity::Column::Kind);
        if let Some(s) = filter.semester {
            q = q
                .filter(hub_activity::Column::StartYear.eq(i32::from(s.start_year)))
                .filter(hub_activity::Column::Term.eq(i32::from(s.term.number())));
        }
        if let Some(schools) = &filter.schools {
            q = q.filter(hub_activity::Column::SchoolCode.is_in(schools.iter().map(|s| s.to_string())));
        }
        match filter.subject.as_deref() {
            None => {}
            Some("") => q = q.filter(hub_activity::Column::Subject.is_null()),
            Some(s) => q = q.filter(hub_activity::Column::Subject.eq(s)),
        }
        if let Some(first) = filter.from_week {
            q = q.filter(hub_activity::Column::Date.gte(first));
        }
        if let Some(last) = filter.to_week {
            // A week's records run from its Monday to its Sunday.
            q = q.filter(hub_activity::Column::Date.lte(last + chrono::TimeDelta::days(6)));
        }
        let rows: Vec<(String, String, i64)> = q.into_tuple().all(&self.conn()).await?;
        rows.into_iter()
            .map(|(school, kind, n)| {
                Ok(SchoolKindCount {
                    kind: kind.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    school,
                    count: seq_u64(n),
                })
            })
            .collect()
    }

    /// Group meetings with all nine items of 五定四有, by school, for the same filter as `stats`.
    pub async fn complete_meetings(&self, filter: &StatsFilter) -> Result<BTreeMap<String, u64>, StoreError> {
        let Some((table, clause, mut values)) = filter.rollup_where() else { return Ok(BTreeMap::new()) };
        let text = format!(
            "SELECT school_code, CAST(SUM(complete) AS BIGINT) FROM {table}{clause} AND kind = ? \
             GROUP BY school_code"
        );
        values.push(ActivityKind::GroupMeeting.code().into());
        let backend = self.conn().get_database_backend();
        let rows = self
            .conn()
            .query_all_raw(Statement::from_sql_and_values(backend, sql(backend, &text), values))
            .await?;
        rows.into_iter()
            .map(|r| {
                let n: i64 = r.try_get_by_index(1)?;
                Ok((r.try_get_by_index(0)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}
