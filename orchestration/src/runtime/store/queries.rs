//! Reading runs, for the dashboard and the command: lists of runs, one run with its
//! task runs, log lines to tail, runs per day.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::RunStore;
use super::backend::{Backend, Row, Value, values};
use super::records::{
    DayCount, FlowRunDetail, FlowRunId, FlowRunRecord, LogRecord, LogScope, RunFilter,
    TaskRunRecord,
};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::flow::TaskOutput;
use crate::runtime::process::ProcessId;

pub(super) const FLOW_RUN_COLUMNS: &str = "id, flow, deployment, parameters, state, retry_of, host, pid, \
     created_at, started_at, ended_at, error";

impl RunStore {
    /// Flow runs, newest first.
    pub async fn list_runs(&self, filter: RunFilter) -> Result<Vec<FlowRunRecord>> {
        self.call(move |store| {
            let (condition, mut values) = run_condition(store, &filter);
            let mut sql = format!(
                "SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE {condition} ORDER BY id DESC"
            );
            if let Some(limit) = filter.limit {
                sql.push_str(" LIMIT ?");
                values.push(Value::from(limit));
            }
            store.query(&sql, &values)?.iter().map(flow_run).collect()
        })
        .await
    }

    /// One flow run with its task runs.
    pub async fn get_run(&self, run: FlowRunId) -> Result<FlowRunDetail> {
        self.call(move |store| {
            let record = store
                .query_first(
                    &format!("SELECT {FLOW_RUN_COLUMNS} FROM flow_runs WHERE id = ?1"),
                    &values![run],
                )?
                .ok_or(RuntimeError::RunNotFound(run))?;
            let tasks = store
                .query(
                    "SELECT id, flow_run_id, task, state, attempt, started_at, ended_at, \
                     rows_in, rows_out, bytes, fingerprint, output_fingerprint, note, error \
                     FROM task_runs WHERE flow_run_id = ?1 ORDER BY position",
                    &values![run],
                )?
                .iter()
                .map(task_run)
                .collect::<Result<_>>()?;
            Ok(FlowRunDetail {
                run: flow_run(&record)?,
                tasks,
            })
        })
        .await
    }

    /// Up to `limit` log lines of a flow run or task run whose id is above `after`
    /// (0 for the first), oldest first: to tail a running task, ask again with the
    /// last id seen.
    pub async fn logs(&self, scope: LogScope, after: i64, limit: usize) -> Result<Vec<LogRecord>> {
        self.call(move |store| {
            let (column, id) = match scope {
                LogScope::FlowRun(run) => ("flow_run_id", run.0),
                LogScope::TaskRun(task_run) => ("task_run_id", task_run.0),
            };
            store
                .query(
                    &format!(
                        "SELECT id, flow_run_id, task_run_id, at, level, message FROM logs \
                         WHERE {column} = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                    ),
                    &values![id, after, limit],
                )?
                .iter()
                .map(|row| -> Result<LogRecord> {
                    Ok(LogRecord {
                        id: row.get("id")?,
                        flow_run_id: row.get("flow_run_id")?,
                        task_run_id: row.get("task_run_id")?,
                        at: row.get("at")?,
                        level: row.get("level")?,
                        message: row.get("message")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// How many flow runs created since `since` are in each state, per day (UTC),
    /// oldest day first.
    pub async fn runs_per_day(&self, since: DateTime<Utc>) -> Result<Vec<DayCount>> {
        self.call(move |store| {
            let day = store.dialect().day("created_at");
            store
                .query(
                    &format!(
                        "SELECT {day} AS day, state, count(*) AS runs FROM flow_runs \
                         WHERE created_at >= ?1 GROUP BY 1, state ORDER BY 1, state"
                    ),
                    &values![since],
                )?
                .iter()
                .map(|row| -> Result<DayCount> {
                    let day: String = row.get("day")?;
                    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|error| {
                        RuntimeError::StoreValue {
                            column: "day".to_owned(),
                            message: format!("{day:?}: {error}"),
                        }
                    })?;
                    Ok(DayCount {
                        day,
                        state: row.get("state")?,
                        runs: row.get("runs")?,
                    })
                })
                .collect()
        })
        .await
    }
}

/// The `WHERE` condition of `filter` (its flow, state and backfill), with its values.
pub(super) fn run_condition(store: &Backend, filter: &RunFilter) -> (String, Vec<Value>) {
    let mut condition = "1 = 1".to_owned();
    let mut values = Vec::new();
    if let Some(flow) = &filter.flow {
        condition.push_str(" AND flow = ?");
        values.push(Value::from(flow));
    }
    if let Some(state) = filter.state {
        condition.push_str(" AND state = ?");
        values.push(Value::from(state));
    }
    if let Some(backfill) = &filter.backfill {
        condition.push_str(&format!(" AND {} = ?", store.dialect().backfill()));
        values.push(Value::from(backfill));
    }
    (condition, values)
}

/// A flow run from a row of [`FLOW_RUN_COLUMNS`].
pub(super) fn flow_run(row: &Row) -> Result<FlowRunRecord> {
    let parameters: String = row.get("parameters")?;
    let parameters: BTreeMap<String, String> =
        serde_json::from_str(&parameters).map_err(|error| RuntimeError::StoreValue {
            column: "parameters".to_owned(),
            message: error.to_string(),
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
        created_at: row.get("created_at")?,
        started_at: row.get("started_at")?,
        ended_at: row.get("ended_at")?,
        error: row.get("error")?,
    })
}

fn task_run(row: &Row) -> Result<TaskRunRecord> {
    Ok(TaskRunRecord {
        id: row.get("id")?,
        flow_run_id: row.get("flow_run_id")?,
        task: row.get("task")?,
        state: row.get("state")?,
        attempt: row.get("attempt")?,
        started_at: row.get("started_at")?,
        ended_at: row.get("ended_at")?,
        output: TaskOutput {
            rows_in: row.get("rows_in")?,
            rows_out: row.get("rows_out")?,
            bytes: row.get("bytes")?,
            note: row.get("note")?,
        },
        fingerprint: row.get("fingerprint")?,
        output_fingerprint: row.get("output_fingerprint")?,
        error: row.get("error")?,
    })
}
