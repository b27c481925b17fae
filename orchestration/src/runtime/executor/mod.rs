//! The executor: runs a flow run, and retries a failed one.
//!
//! # How a run goes
//! 1. The flow run is created `pending`, owned by this process, and beats (a heartbeat
//!    every tenth of [`StoreOptions::stale_after`](super::store::StoreOptions)) until
//!    it ends.
//! 2. An [exclusive](super::flow::FlowBuilder::exclusive) flow takes its writer lock;
//!    when another live run holds it, the run is refused or waits
//!    ([`Executor::with_lock_wait`]), and a refused run ends `cancelled` with the
//!    reason.
//! 3. Every task gets a `pending` task run, and the run goes `running`. A task starts
//!    as soon as each of its dependencies completed or was skipped, while fewer than
//!    the [concurrency limit](Executor::with_concurrency) are going (a task waiting
//!    for its next attempt keeps its slot).
//! 4. A task with an input fingerprint whose flow has a completed run of it with the
//!    same fingerprint and unchanged outputs ends `skipped`, its note saying
//!    `cached: …`. Otherwise it runs, in a `tracing` span of its own (whose events
//!    can be stored with its logs: see [`task_events`](super::task_events)): each
//!    attempt in a tokio task of its own, stopped at its timeout; a failed attempt
//!    (an error, a timeout) is retried after the backoff while retries remain and the
//!    error is retryable; a panic is not retried.
//! 5. A task that fails leaves every task downstream of it `cancelled` (never run, the
//!    error naming the failed task); tasks on other branches go on.
//! 6. The run ends `completed` when every task completed or was skipped, else `failed`
//!    with the failed tasks named; the lock is released and the stored run returned.
//!
//! A task's failure is the run's outcome, not an error: [`Executor::run`] returns the
//! run (state `failed`). It returns an error when the run could not be made: a lock
//! held, or the store failing.
//!
//! [`Executor::retry`] starts a new run of a failed, crashed or cancelled run, with its
//! parameters: the tasks the old run completed (or skipped) are `skipped` with the note
//! `reused: …`, the others run.

mod attempts;
mod scheduler;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::error::{Result, RuntimeError};
use super::flow::Flow;
use super::guard::AbortOnDrop;
use super::logs::{LogLevel, LogSink};
use super::process::ProcessId;
use super::state::RunState;
use super::store::{FlowRunDetail, FlowRunId, LockWait, NewFlowRun, RunStore};
use attempts::RunEnv;
use scheduler::Failure;

/// Runs flows, recording everything in a [`RunStore`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Executor {
    store: RunStore,
    concurrency: usize,
    lock_wait: LockWait,
}

/// What to run a flow with.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The run's parameters (business date, source folder, …), given to every task.
    pub parameters: BTreeMap<String, String>,
    /// The deployment that starts the run, if any.
    pub deployment: Option<String>,
}

impl RunRequest {
    /// Adds a parameter.
    pub fn with_parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }
}

impl Executor {
    /// Four tasks at a time; an exclusive run whose lock is held is refused.
    pub fn new(store: RunStore) -> Self {
        Executor {
            store,
            concurrency: 4,
            lock_wait: LockWait::Refuse,
        }
    }

    /// Runs at most `tasks` tasks at a time (at least 1).
    pub fn with_concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = tasks.max(1);
        self
    }

    /// What an exclusive run does when its flow's lock is held: refuse (the default)
    /// or wait.
    pub fn with_lock_wait(mut self, wait: LockWait) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The store the runs are recorded in.
    pub fn store(&self) -> &RunStore {
        &self.store
    }

    /// Runs `flow` and returns the run as stored (see the [module](self) docs).
    pub async fn run(&self, flow: &Flow, request: RunRequest) -> Result<FlowRunDetail> {
        self.execute(flow, request, None, HashMap::new()).await
    }

    /// Runs `flow` again for its run `run`, which failed, crashed or was cancelled:
    /// a new run with the same parameters, reusing the tasks that `run` completed.
    pub async fn retry(&self, flow: &Flow, run: FlowRunId) -> Result<FlowRunDetail> {
        let previous = self.store.get_run(run).await?;
        if previous.run.flow != flow.name() {
            return Err(RuntimeError::FlowMismatch {
                run,
                expected: flow.name().to_owned(),
                found: previous.run.flow,
            });
        }
        if !matches!(
            previous.run.state,
            RunState::Failed | RunState::Crashed | RunState::Cancelled
        ) {
            return Err(RuntimeError::NotRetryable {
                run,
                state: previous.run.state,
            });
        }
        let reuse = previous
            .tasks
            .iter()
            .filter(|task| matches!(task.state, RunState::Completed | RunState::Skipped))
            .map(|task| (task.task.clone(), run))
            .collect();
        let request = RunRequest {
            parameters: previous.run.parameters,
            deployment: previous.run.deployment,
        };
        self.execute(flow, request, Some(run), reuse).await
    }

    /// Starts a run of `flow` in the background and returns its id as soon as the run
    /// is in the store, with the handle that yields the run when it ends (what
    /// [`Executor::run`] returns). Dropping the handle does not stop the run.
    pub async fn start(
        &self,
        flow: Flow,
        request: RunRequest,
    ) -> Result<(FlowRunId, tokio::task::JoinHandle<Result<FlowRunDetail>>)> {
        let parameters = request.parameters.clone();
        let run = self.create(&flow, request, None).await?;
        let executor = self.clone();
        let handle = tokio::spawn(async move {
            executor
                .execute_created(&flow, run, parameters, None, HashMap::new())
                .await
        });
        Ok((run, handle))
    }

    /// Creates the flow run, `pending`, owned by this process.
    async fn create(
        &self,
        flow: &Flow,
        request: RunRequest,
        retry_of: Option<FlowRunId>,
    ) -> Result<FlowRunId> {
        self.store
            .create_flow_run(NewFlowRun {
                flow: flow.name().to_owned(),
                deployment: request.deployment,
                parameters: request.parameters,
                state: RunState::Pending,
                retry_of,
                owner: ProcessId::current(),
            })
            .await
    }

    async fn execute(
        &self,
        flow: &Flow,
        request: RunRequest,
        retry_of: Option<FlowRunId>,
        reuse: HashMap<String, FlowRunId>,
    ) -> Result<FlowRunDetail> {
        let parameters = request.parameters.clone();
        let run = self.create(flow, request, retry_of).await?;
        self.execute_created(flow, run, parameters, retry_of, reuse)
            .await
    }

    /// Runs the created flow run `run` (steps 2 to 6 of the module's docs).
    async fn execute_created(
        &self,
        flow: &Flow,
        run: FlowRunId,
        parameters: BTreeMap<String, String>,
        retry_of: Option<FlowRunId>,
        reuse: HashMap<String, FlowRunId>,
    ) -> Result<FlowRunDetail> {
        let owner = ProcessId::current();
        let (logs, _writer) = LogSink::start(self.store.clone(), run);
        let _heartbeat = self.heartbeat(run);
        if let Some(previous) = retry_of {
            logs.line(
                None,
                flow.name(),
                LogLevel::Info,
                format!("retries run #{previous}: its completed tasks are reused"),
            );
        }
        let env = Arc::new(RunEnv {
            store: self.store.clone(),
            flow: flow.clone(),
            flow_name: Arc::from(flow.name()),
            run,
            parameters: Arc::new(parameters),
            logs: logs.clone(),
        });
        let outcome = self.go(&env, &owner, &reuse).await;
        let (state, error) = match &outcome {
            Ok(failures) if failures.is_empty() => (RunState::Completed, None),
            Ok(failures) => (RunState::Failed, Some(scheduler::summary(failures))),
            Err(error @ (RuntimeError::LockHeld { .. } | RuntimeError::LockTimeout { .. })) => {
                (RunState::Cancelled, Some(error.to_string()))
            }
            Err(error) => (
                RunState::Failed,
                Some(format!("the runtime stopped: {error}")),
            ),
        };
        let level = if state == RunState::Completed {
            LogLevel::Info
        } else {
            LogLevel::Error
        };
        let ending = error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        logs.line(None, flow.name(), level, format!("run {state}{ending}"));
        logs.flush().await;
        let ended = self.store.set_flow_run_state(run, state, error).await;
        let released = if flow.is_exclusive() {
            self.store.release_lock(flow.name(), run).await
        } else {
            Ok(())
        };
        outcome?;
        ended?;
        released?;
        self.store.get_run(run).await
    }

    /// Takes the lock if needed, creates the task runs and runs them.
    async fn go(
        &self,
        env: &Arc<RunEnv>,
        owner: &ProcessId,
        reuse: &HashMap<String, FlowRunId>,
    ) -> Result<Vec<Failure>> {
        let flow = &env.flow;
        if flow.is_exclusive() {
            if let LockWait::Wait(timeout) = self.lock_wait {
                env.logs.line(
                    None,
                    flow.name(),
                    LogLevel::Debug,
                    format!("taking the flow's lock (waiting up to {timeout:?})"),
                );
            }
            let taken_over = self
                .store
                .acquire_lock(flow.name(), env.run, owner, self.lock_wait)
                .await?;
            if let Some(previous) = taken_over {
                env.logs.line(
                    None,
                    flow.name(),
                    LogLevel::Warn,
                    format!("took over the lock of run #{previous}, whose process is gone"),
                );
            }
        }
        scheduler::schedule(env, reuse, self.concurrency).await
    }

    /// Beats for run `run` until dropped.
    fn heartbeat(&self, run: FlowRunId) -> AbortOnDrop<()> {
        let store = self.store.clone();
        let every = (store.options().stale_after / 10).max(Duration::from_millis(10));
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = store.heartbeat(run).await {
                    tracing::warn!(%run, "heartbeat not stored: {error}");
                }
            }
        }))
    }
}
