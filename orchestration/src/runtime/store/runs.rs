//! Writing runs: creating flow runs and task runs, changing their states, storing log
//! lines and heartbeats, and finding a cached task run.

use chrono::Utc;
use rusqlite::{OptionalExtension, params};

use super::RunStore;
use super::records::{CachedTaskRun, FlowRunId, NewFlowRun, NewLog, TaskRunChange, TaskRunId};
use super::sql::{count, timestamp};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::state::RunState;

impl RunStore {
    /// Creates a flow run, owned by `new.owner`, and returns its id.
    pub async fn create_flow_run(&self, new: NewFlowRun) -> Result<FlowRunId> {
        let parameters = serde_json::to_string(&new.parameters)?;
        self.call(move |connection| {
            let now = timestamp(Utc::now());
            connection.execute(
                "INSERT INTO flow_runs (flow, deployment, parameters, state, retry_of, host, \
                 pid, heartbeat_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    new.flow,
                    new.deployment,
                    parameters,
                    new.state,
                    new.retry_of,
                    new.owner.host,
                    new.owner.pid,
                    now
                ],
            )?;
            Ok(FlowRunId(connection.last_insert_rowid()))
        })
        .await
    }

    /// Sets a flow run's state (and its error, if given). `running` sets its start
    /// time once; a final state sets its end time.
    pub async fn set_flow_run_state(
        &self,
        run: FlowRunId,
        state: RunState,
        error: Option<String>,
    ) -> Result<()> {
        self.call(move |connection| {
            let changed = connection.execute(
                "UPDATE flow_runs SET state = ?2, error = COALESCE(?3, error), \
                 heartbeat_at = ?4, \
                 started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?4) \
                                   ELSE started_at END, \
                 ended_at = CASE WHEN ?5 THEN ?4 ELSE ended_at END \
                 WHERE id = ?1",
                params![run, state, error, timestamp(Utc::now()), state.is_final()],
            )?;
            if changed == 0 {
                return Err(RuntimeError::RunNotFound(run));
            }
            Ok(())
        })
        .await
    }

    /// Creates a `pending` task run for each task (in the flow's order) of a flow run.
    pub async fn create_task_runs(
        &self,
        run: FlowRunId,
        tasks: Vec<String>,
    ) -> Result<Vec<TaskRunId>> {
        self.call(move |connection| {
            let transaction = connection.transaction()?;
            let mut ids = Vec::with_capacity(tasks.len());
            {
                let mut insert = transaction.prepare(
                    "INSERT INTO task_runs (flow_run_id, position, task, state) \
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (position, task) in tasks.iter().enumerate() {
                    insert.execute(params![run, position as i64, task, RunState::Pending])?;
                    ids.push(TaskRunId(transaction.last_insert_rowid()));
                }
            }
            transaction.commit()?;
            Ok(ids)
        })
        .await
    }

    /// Changes a task run (see [`TaskRunChange`]).
    pub async fn update_task_run(&self, task_run: TaskRunId, change: TaskRunChange) -> Result<()> {
        self.call(move |connection| {
            let output = change.output.unwrap_or_default();
            let note = change.note.or(output.note);
            connection.execute(
                "UPDATE task_runs SET state = ?2, \
                 attempt = COALESCE(?3, attempt), \
                 fingerprint = COALESCE(?4, fingerprint), \
                 output_fingerprint = COALESCE(?5, output_fingerprint), \
                 rows_in = COALESCE(?6, rows_in), rows_out = COALESCE(?7, rows_out), \
                 bytes = COALESCE(?8, bytes), note = COALESCE(?9, note), error = ?10, \
                 started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?11) \
                                   ELSE started_at END, \
                 ended_at = CASE WHEN ?12 THEN ?11 ELSE ended_at END \
                 WHERE id = ?1",
                params![
                    task_run,
                    change.state,
                    change.attempt,
                    change.fingerprint,
                    change.output_fingerprint,
                    count(output.rows_in),
                    count(output.rows_out),
                    count(output.bytes),
                    note,
                    change.error,
                    timestamp(Utc::now()),
                    change.state.is_final()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores log lines, in one transaction.
    pub async fn insert_logs(&self, lines: Vec<NewLog>) -> Result<()> {
        self.call(move |connection| {
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare(
                    "INSERT INTO logs (flow_run_id, task_run_id, at, level, message) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for line in &lines {
                    insert.execute(params![
                        line.flow_run_id,
                        line.task_run_id,
                        timestamp(line.at),
                        line.level,
                        line.message
                    ])?;
                }
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Records a sign of life of a flow run (and of the writer lock it holds).
    pub async fn heartbeat(&self, run: FlowRunId) -> Result<()> {
        self.call(move |connection| {
            let now = timestamp(Utc::now());
            connection.execute(
                "UPDATE flow_runs SET heartbeat_at = ?2 WHERE id = ?1",
                params![run, now],
            )?;
            connection.execute(
                "UPDATE flow_locks SET heartbeat_at = ?2 WHERE flow_run_id = ?1",
                params![run, now],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest completed run of task `task` of flow `flow` whose inputs had
    /// `fingerprint`.
    pub async fn find_cached(
        &self,
        flow: &str,
        task: &str,
        fingerprint: &str,
    ) -> Result<Option<CachedTaskRun>> {
        let (flow, task, fingerprint) = (flow.to_owned(), task.to_owned(), fingerprint.to_owned());
        self.call(move |connection| {
            Ok(connection
                .query_row(
                    "SELECT t.id, t.flow_run_id, t.output_fingerprint \
                     FROM task_runs t JOIN flow_runs f ON f.id = t.flow_run_id \
                     WHERE f.flow = ?1 AND t.task = ?2 AND t.fingerprint = ?3 \
                       AND t.state = 'completed' \
                     ORDER BY t.id DESC LIMIT 1",
                    params![flow, task, fingerprint],
                    |row| {
                        Ok(CachedTaskRun {
                            task_run_id: row.get(0)?,
                            flow_run_id: row.get(1)?,
                            output_fingerprint: row.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }
}
