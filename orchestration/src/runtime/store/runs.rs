//! Writing runs: creating flow runs and task runs, changing their states, storing log
//! lines and heartbeats, and finding a cached task run.

use chrono::Utc;

use super::RunStore;
use super::backend::{Lock, values};
use super::records::{CachedTaskRun, FlowRunId, NewFlowRun, NewLog, TaskRunChange, TaskRunId};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::state::RunState;

impl RunStore {
    /// Creates a flow run, owned by `new.owner`, and returns its id.
    pub async fn create_flow_run(&self, new: NewFlowRun) -> Result<FlowRunId> {
        let parameters = serde_json::to_string(&new.parameters)?;
        self.call(move |store| {
            store.query_value(
                "INSERT INTO flow_runs (flow, deployment, parameters, state, retry_of, host, \
                 pid, heartbeat_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
                 RETURNING id",
                &values![
                    new.flow,
                    new.deployment,
                    parameters,
                    new.state,
                    new.retry_of,
                    new.owner.host,
                    new.owner.pid,
                    Utc::now()
                ],
                "id",
            )
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
        self.call(move |store| {
            let changed = store.execute(
                "UPDATE flow_runs SET state = ?2, error = COALESCE(?3, error), \
                 heartbeat_at = ?4, \
                 started_at = CASE WHEN ?5 THEN COALESCE(started_at, ?4) \
                                   ELSE started_at END, \
                 ended_at = CASE WHEN ?6 THEN ?4 ELSE ended_at END \
                 WHERE id = ?1",
                &values![
                    run,
                    state,
                    error,
                    Utc::now(),
                    state == RunState::Running,
                    state.is_final()
                ],
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
        self.call(move |store| {
            store.transaction(Lock::Deferred, |store| {
                tasks
                    .iter()
                    .enumerate()
                    .map(|(position, task)| {
                        store.query_value(
                            "INSERT INTO task_runs (flow_run_id, position, task, state) \
                             VALUES (?1, ?2, ?3, ?4) RETURNING id",
                            &values![run, position, task, RunState::Pending],
                            "id",
                        )
                    })
                    .collect()
            })
        })
        .await
    }

    /// Changes a task run (see [`TaskRunChange`]).
    pub async fn update_task_run(&self, task_run: TaskRunId, change: TaskRunChange) -> Result<()> {
        self.call(move |store| {
            let output = change.output.unwrap_or_default();
            let note = change.note.or(output.note);
            store.execute(
                "UPDATE task_runs SET state = ?2, \
                 attempt = COALESCE(?3, attempt), \
                 fingerprint = COALESCE(?4, fingerprint), \
                 output_fingerprint = COALESCE(?5, output_fingerprint), \
                 rows_in = COALESCE(?6, rows_in), rows_out = COALESCE(?7, rows_out), \
                 bytes = COALESCE(?8, bytes), note = COALESCE(?9, note), error = ?10, \
                 started_at = CASE WHEN ?11 THEN COALESCE(started_at, ?12) \
                                   ELSE started_at END, \
                 ended_at = CASE WHEN ?13 THEN ?12 ELSE ended_at END \
                 WHERE id = ?1",
                &values![
                    task_run,
                    change.state,
                    change.attempt,
                    change.fingerprint,
                    change.output_fingerprint,
                    output.rows_in,
                    output.rows_out,
                    output.bytes,
                    note,
                    change.error,
                    change.state == RunState::Running,
                    Utc::now(),
                    change.state.is_final()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Stores log lines, in one transaction.
    pub async fn insert_logs(&self, lines: Vec<NewLog>) -> Result<()> {
        self.call(move |store| {
            store.transaction(Lock::Deferred, |store| {
                for line in lines {
                    store.execute(
                        "INSERT INTO logs (flow_run_id, task_run_id, at, level, message) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        &values![
                            line.flow_run_id,
                            line.task_run_id,
                            line.at,
                            line.level,
                            line.message
                        ],
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Records a sign of life of a flow run (and of the writer lock it holds).
    pub async fn heartbeat(&self, run: FlowRunId) -> Result<()> {
        self.call(move |store| {
            let now = Utc::now();
            store.execute(
                "UPDATE flow_runs SET heartbeat_at = ?2 WHERE id = ?1",
                &values![run, now],
            )?;
            store.execute(
                "UPDATE flow_locks SET heartbeat_at = ?2 WHERE flow_run_id = ?1",
                &values![run, now],
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
        self.call(move |store| {
            store
                .query_first(
                    "SELECT t.id, t.flow_run_id, t.output_fingerprint \
                     FROM task_runs t JOIN flow_runs f ON f.id = t.flow_run_id \
                     WHERE f.flow = ?1 AND t.task = ?2 AND t.fingerprint = ?3 \
                       AND t.state = 'completed' \
                     ORDER BY t.id DESC LIMIT 1",
                    &values![flow, task, fingerprint],
                )?
                .map(|row| -> Result<CachedTaskRun> {
                    Ok(CachedTaskRun {
                        task_run_id: row.get("id")?,
                        flow_run_id: row.get("flow_run_id")?,
                        output_fingerprint: row.get("output_fingerprint")?,
                    })
                })
                .transpose()
        })
        .await
    }
}
