//! Reading runs, for the dashboard and the command: lists of runs, one run with its
//! task runs, log lines to tail, runs per day.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use super::RunStore;
use super::records::{
    BACKFILL_PARAMETER, DayCount, FlowRunDetail, FlowRunId, FlowRunRecord, LogRecord, LogScope,
    RunFilter, TaskRunRecord,
};
use super::sql::{optional_count, optional_time, time, timestamp};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::flow::TaskOutput;
use crate::runtime::process::ProcessId;

/// Where the backfill's id is in a run's parameters (JSON), for `json_extract`.
pub(super) fn backfill_path() -> String {
    format!("$.{BACKFILL_PARAMETER}")
}

pub(super) const FLOW_RUN_COLUMNS: &str = "id, flow, deployment, parameters, state, retry_of, host, pid, \
     created_at, started_at, ended_at, error";

impl RunStore {
    /// Flow runs, newest first.
    pub async fn list_runs(&self, filter: RunFilter) -> Result<Vec<FlowRunRecord>> {
        self.call(move |connection| {
            let (condition, mut values) = run_condition(&filter);
            let mut sql = format!(
                "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE {condition} ORDER BY id DESC"
            );
            if let Some(limit) = filter.limit {
                sql.push_str(" LIMIT ?");
                values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            }
            let mut select = connection.prepare(&sql)?;
            let runs = select
                .query_map(params_from_iter(values), flow_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(runs)
        })
        .await
    }

    /// One flow run with its task runs.
    pub async fn get_run(&self, run: FlowRunId) -> Result<FlowRunDetail> {
        self.call(move |connection| {
            let record = connection
                .query_row(
                    &format!("SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE id = ?1"),
                    params![run],
                    flow_run,
                )
                .optional()?
                .ok_or(RuntimeError::RunNotFound(run))?;
            let mut select = connection.prepare(
                "SELECT id, flow_run_id, task, state, attempt, started_at, ended_at, rows_in, \
                 rows_out, bytes, fingerprint, output_fingerprint, note, error \
                 FROM task_runs WHERE flow_run_id = ?1 ORDER BY position",
            )?;
            let tasks = select
                .query_map(params![run], task_run)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(FlowRunDetail { run: record, tasks })
        })
        .await
    }

    /// Up to `limit` log lines of a flow run or task run whose id is above `after`
    /// (0 for the first), oldest first: to tail a running task, ask again with the
    /// last id seen.
    pub async fn logs(&self, scope: LogScope, after: i64, limit: usize) -> Result<Vec<LogRecord>> {
        self.call(move |connection| {
            let (column, id) = match scope {
                LogScope::FlowRun(run) => ("flow_run_id", run.0),
                LogScope::TaskRun(task_run) => ("task_run_id", task_run.0),
            };
            let mut select = connection.prepare(&format!(
                "SELECT id, flow_run_id, task_run_id, at, level, message FROM logs \
                 WHERE {column} = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let lines = select
                .query_map(params![id, after, limit], |row| {
                    Ok(LogRecord {
                        id: row.get("id")?,
                        flow_run_id: row.get("flow_run_id")?,
                        task_run_id: row.get("task_run_id")?,
                        at: time(row, "at")?,
                        level: row.get("level")?,
                        message: row.get("message")?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(lines)
        })
        .await
    }

    /// How many flow runs created since `since` are in each state, per day (UTC),
    /// oldest day first.
    pub async fn runs_per_day(&self, since: DateTime<Utc>) -> Result<Vec<DayCount>> {
        self.call(move |connection| {
            let mut select = connection.prepare(
                "SELECT substr(created_at, 1, 10) AS day, state, count(*) FROM flow_runs \
                 WHERE created_at >= ?1 GROUP BY day, state ORDER BY day, state",
            )?;
            let counts = select
                .query_map(params![timestamp(since)], |row| {
                    let day: String = row.get(0)?;
                    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            Box::new(error),
                        )
                    })?;
                    Ok(DayCount {
                        day,
                        state: row.get(1)?,
                        runs: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(counts)
        })
        .await
    }
}

/// The `WHERE` condition of `filter` (its flow, state and backfill), with its values.
pub(super) fn run_condition(filter: &RunFilter) -> (String, Vec<Value>) {
    let mut condition = "1 = 1".to_owned();
    let mut values = Vec::new();
    if let Some(flow) = &filter.flow {
        condition.push_str(" AND flow = ?");
        values.push(Value::Text(flow.clone()));
    }
    if let Some(state) = filter.state {
        condition.push_str(" AND state = ?");
        values.push(Value::Text(state.as_str().to_owned()));
    }
    if let Some(backfill) = &filter.backfill {
        condition.push_str(" AND json_extract(parameters, ?) = ?");
        values.push(Value::Text(backfill_path()));
        values.push(Value::Text(backfill.clone()));
    }
    (condition, values)
}

pub(super) fn flow_run(row: &Row<'_>) -> rusqlite::Result<FlowRunRecord> {
    let parameters: String = row.get("parameters")?;
    let parameters: BTreeMap<String, String> =
        serde_json::from_str(&parameters).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                Box::new(error),
            )
        })?;
    Ok(FlowRunRecord {
        id: row.get("id")?,
        flow: row.get("flow")?,
        deployment: row.get("deployment")?,
        parameters,
        state: row.get("state")?,
        retry_of: row.get("retry_of")?,
        owner: ProcessId {
            host: row.get("host")?,
            pid: row.get("pid")?,
        },
        created_at: time(row, "created_at")?,
        started_at: optional_time(row, "started_at")?,
        ended_at: optional_time(row, "ended_at")?,
        error: row.get("error")?,
    })
}

fn task_run(row: &Row<'_>) -> rusqlite::Result<TaskRunRecord> {
    Ok(TaskRunRecord {
        id: row.get("id")?,
        flow_run_id: row.get("flow_run_id")?,
        task: row.get("task")?,
        state: row.get("state")?,
        attempt: row.get("attempt")?,
        started_at: optional_time(row, "started_at")?,
        ended_at: optional_time(row, "ended_at")?,
        output: TaskOutput {
            rows_in: optional_count(row, "rows_in")?,
            rows_out: optional_count(row, "rows_out")?,
            bytes: optional_count(row, "bytes")?,
            note: row.get("note")?,
        },
        fingerprint: row.get("fingerprint")?,
        output_fingerprint: row.get("output_fingerprint")?,
        error: row.get("error")?,
    })
}
