//! Reading runs for the web dashboard: a page of runs with the total the filter
//! selects, each flow's latest run, the latest failures, and the mean duration of the
//! completed runs. Read-only, like [`queries`](super::queries).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use super::RunStore;
use super::queries::{FLOW_RUN_COLUMNS, flow_run, run_condition};
use super::records::{FlowRunRecord, RunFilter};
use super::sql::timestamp;
use crate::runtime::error::Result;

impl RunStore {
    /// The runs that `filter` selects, newest first, skipping the first `offset` (its
    /// `limit` is the page's size), and how many it selects in all.
    pub async fn runs_page(
        &self,
        filter: RunFilter,
        offset: usize,
    ) -> Result<(Vec<FlowRunRecord>, u64)> {
        self.call(move |connection| {
            let (condition, mut values) = run_condition(&filter);
            let total: i64 = connection.query_row(
                &format!("SELECT count(*) FROM flow_runs WHERE {condition}"),
                params_from_iter(values.iter()),
                |row| row.get(0),
            )?;
            values.push(Value::Integer(filter.limit.map_or(-1, integer)));
            values.push(Value::Integer(integer(offset)));
            let mut select = connection.prepare(&format!(
                "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE {condition} \
                 ORDER BY id DESC LIMIT ? OFFSET ?"
            ))?;
            let runs = select
                .query_map(params_from_iter(values), flow_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((runs, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    /// Each flow's latest run, by flow name.
    pub async fn latest_run_per_flow(&self) -> Result<Vec<FlowRunRecord>> {
        self.call(move |connection| {
            let mut select = connection.prepare(&format!(
                "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs \
                 WHERE id IN (SELECT max(id) FROM flow_runs GROUP BY flow) ORDER BY flow"
            ))?;
            let runs = select
                .query_map([], flow_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(runs)
        })
        .await
    }

    /// The latest `limit` runs that failed or crashed, newest first.
    pub async fn recent_failures(&self, limit: usize) -> Result<Vec<FlowRunRecord>> {
        self.call(move |connection| {
            let mut select = connection.prepare(&format!(
                "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs \
                 WHERE state IN ('failed', 'crashed') ORDER BY id DESC LIMIT ?1"
            ))?;
            let runs = select
                .query_map(params![integer(limit)], flow_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(runs)
        })
        .await
    }

    /// The mean time from start to end of the runs created since `since` that
    /// completed (`None` when there is none).
    pub async fn mean_duration(&self, since: DateTime<Utc>) -> Result<Option<Duration>> {
        self.call(move |connection| {
            let seconds: Option<f64> = connection.query_row(
                "SELECT avg((julianday(ended_at) - julianday(started_at)) * 86400.0) \
                 FROM flow_runs WHERE state = 'completed' AND created_at >= ?1 \
                 AND started_at IS NOT NULL AND ended_at IS NOT NULL",
                params![timestamp(since)],
                |row| row.get(0),
            )?;
            Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
        })
        .await
    }
}

/// A count as an SQLite integer.
fn integer(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
