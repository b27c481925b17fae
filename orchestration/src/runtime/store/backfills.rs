//! Reading backfills: the runs that share a [`BACKFILL_PARAMETER`] value, summed up
//! per backfill (its runs by state, its deployment, when it started). Read-only, like
//! [`queries`](super::queries).
//!
//! [`BACKFILL_PARAMETER`]: super::BACKFILL_PARAMETER

use std::collections::BTreeMap;

use super::RunStore;
use super::backend::{Row, values};
use super::records::BackfillSummary;
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
        self.call(move |store| {
            let backfill = store.dialect().backfill();
            let rows = store.query(
                &format!(
                    "SELECT backfill, state, count(*) AS runs, min(created_at) AS created_at, \
                     max(id) AS latest_run, min(deployment) AS deployment \
                     FROM (SELECT {backfill} AS backfill, state, created_at, id, deployment \
                           FROM flow_runs) AS runs \
                     WHERE backfill IS NOT NULL AND (CAST(?1 AS TEXT) IS NULL OR backfill = ?1) \
                     GROUP BY backfill, state"
                ),
                &values![only],
            )?;
            let mut backfills: BTreeMap<String, BackfillSummary> = BTreeMap::new();
            for row in &rows {
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
fn summary(row: &Row) -> Result<BackfillSummary> {
    Ok(BackfillSummary {
        id: row.get("backfill")?,
        deployment: row.get("deployment")?,
        states: BTreeMap::from([(row.get("state")?, row.get("runs")?)]),
        created_at: row.get("created_at")?,
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
