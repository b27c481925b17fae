//! Reading backfills: the runs that share a [`BACKFILL_PARAMETER`] value, summed up
//! per backfill (its runs by state, its deployment, when it started). Read-only, like
//! [`queries`](super::queries).
//!
//! [`BACKFILL_PARAMETER`]: super::BACKFILL_PARAMETER

use std::collections::BTreeMap;

use rusqlite::{Row, params};

use super::RunStore;
use super::queries::backfill_path;
use super::records::BackfillSummary;
use super::sql::time;
use crate::runtime::error::Result;

impl RunStore {
    /// The latest `limit` backfills, the one with the newest run first.
    pub async fn backfills(&self, limit: usize) -> Result<Vec<BackfillSummary>> {
        let mut backfills = self.summaries(None).await?;
        backfills.sort_by_key(|backfill| std::cmp::Reverse(backfill.latest_run));
        backfills.truncate(limit);
        Ok(backfills)
    }

    /// The backfill `id`, if a run has it.
    pub async fn backfill(&self, id: &str) -> Result<Option<BackfillSummary>> {
        Ok(self.summaries(Some(id.to_owned())).await?.pop())
    }

    /// Every backfill, or only backfill `only`, by id.
    async fn summaries(&self, only: Option<String>) -> Result<Vec<BackfillSummary>> {
        self.call(move |connection| {
            let mut select = connection.prepare(
                "SELECT backfill, state, count(*) AS runs, min(created_at) AS created_at, \
                 max(id) AS latest_run, min(deployment) AS deployment \
                 FROM (SELECT json_extract(parameters, ?1) AS backfill, * FROM flow_runs) \
                 WHERE backfill IS NOT NULL AND (?2 IS NULL OR backfill = ?2) \
                 GROUP BY backfill, state",
            )?;
            let mut backfills: BTreeMap<String, BackfillSummary> = BTreeMap::new();
            let mut rows = select.query(params![backfill_path(), only])?;
            while let Some(row) = rows.next()? {
                let part = summary(row)?;
                match backfills.get_mut(&part.id) {
                    Some(whole) => merge(whole, part),
                    None => {
                        backfills.insert(part.id.clone(), part);
                    }
                }
            }
            Ok(backfills.into_values().collect())
        })
        .await
    }
}

/// The summary of the runs of one backfill in one state.
fn summary(row: &Row<'_>) -> rusqlite::Result<BackfillSummary> {
    let runs: i64 = row.get("runs")?;
    Ok(BackfillSummary {
        id: row.get("backfill")?,
        deployment: row.get("deployment")?,
        states: BTreeMap::from([(row.get("state")?, u64::try_from(runs).unwrap_or(0))]),
        created_at: time(row, "created_at")?,
        latest_run: row.get("latest_run")?,
    })
}

/// Adds `part`, the runs of one more state, to `whole`.
fn merge(whole: &mut BackfillSummary, part: BackfillSummary) {
    whole.states.extend(part.states);
    whole.created_at = whole.created_at.min(part.created_at);
    whole.latest_run = whole.latest_run.max(part.latest_run);
    if whole.deployment.is_none() {
        whole.deployment = part.deployment;
    }
}
