//! Reading runs for the web dashboard: a page of runs with the total the filter
//! selects, each flow's latest run, the latest failures, and the mean duration of the
//! completed runs. Read-only, like [`queries`](super::queries).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RunStore;
use super::backend::{Value, values};
use super::queries::{FLOW_RUN_COLUMNS, flow_run, run_condition};
use super::records::{FlowRunRecord, RunFilter};
use crate::runtime::error::Result;

impl RunStore {
    /// The runs that `filter` selects, newest first, skipping the first `offset` (its
    /// `limit` is the page's size), and how many it selects in all.
    pub async fn runs_page(
        &self,
        filter: RunFilter,
        offset: usize,
    ) -> Result<(Vec<FlowRunRecord>, u64)> {
        self.call(move |store| {
            let (condition, mut values) = run_condition(store, &filter);
            let total: u64 = store.query_value(
                &format!("SELECT count(*) AS total FROM flow_runs WHERE {condition}"),
                &values,
                "total",
            )?;
            values.push(Value::from(filter.limit.unwrap_or(usize::MAX)));
            values.push(Value::from(offset));
            let runs = store
                .query(
                    &format!(
                        "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE {condition} \
                         ORDER BY id DESC LIMIT ? OFFSET ?"
                    ),
                    &values,
                )?
                .iter()
                .map(flow_run)
                .collect::<Result<_>>()?;
            Ok((runs, total))
        })
        .await
    }

    /// Each flow's latest run, by flow name.
    pub async fn latest_run_per_flow(&self) -> Result<Vec<FlowRunRecord>> {
        self.call(move |store| {
            store
                .query(
                    &format!(
                        "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs \
                         WHERE id IN (SELECT max(id) FROM flow_runs GROUP BY flow) ORDER BY flow"
                    ),
                    &[],
                )?
                .iter()
                .map(flow_run)
                .collect()
        })
        .await
    }

    /// The latest `limit` runs that failed or crashed, newest first.
    pub async fn recent_failures(&self, limit: usize) -> Result<Vec<FlowRunRecord>> {
        self.call(move |store| {
            store
                .query(
                    &format!(
                        "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs \
                         WHERE state IN ('failed', 'crashed') ORDER BY id DESC LIMIT ?1"
                    ),
                    &values![limit],
                )?
                .iter()
                .map(flow_run)
                .collect()
        })
        .await
    }

    /// The mean time from start to end of the runs created since `since` that
    /// completed (`None` when there is none).
    pub async fn mean_duration(&self, since: DateTime<Utc>) -> Result<Option<Duration>> {
        self.call(move |store| {
            let seconds = store.dialect().seconds_between("started_at", "ended_at");
            let mean: Option<f64> = store.query_value(
                &format!(
                    "SELECT avg({seconds}) AS mean FROM flow_runs \
                     WHERE state = 'completed' AND created_at >= ?1 \
                     AND started_at IS NOT NULL AND ended_at IS NOT NULL"
                ),
                &values![since],
                "mean",
            )?;
            Ok(mean.and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok()))
        })
        .await
    }
}
