//! The runtime's error type: a flow that does not hold together, the run store, the
//! writer lock, a run that cannot be retried.
//!
//! A task's own failure is not an error of the runtime: it is a [`TaskError`] stored
//! with the task run, and the flow run ends `failed` (see the [executor]).
//!
//! [`TaskError`]: super::flow::TaskError
//! [executor]: super::executor

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::process::ProcessId;
use super::state::RunState;
use super::store::FlowRunId;

/// Why the runtime could not build, start or record a flow run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Two tasks of a flow have the same name.
    #[error("flow `{flow}`: two tasks are named `{task}`; give each task its own name")]
    DuplicateTask {
        /// The flow.
        flow: String,
        /// The name used twice.
        task: String,
    },
    /// A task depends on a task that is not in the flow.
    #[error(
        "flow `{flow}`: task `{task}` depends on `{dependency}`, which is not a task of the \
         flow (its tasks: {known})"
    )]
    UnknownDependency {
        /// The flow.
        flow: String,
        /// The task that declares the dependency.
        task: String,
        /// The missing task.
        dependency: String,
        /// The flow's task names, comma-separated.
        known: String,
    },
    /// The tasks' dependencies form a cycle, so no task of it could ever start.
    #[error(
        "flow `{flow}` has a dependency cycle: {} (each task depends on the next); remove \
         one of these dependencies",
        cycle.join(" → ")
    )]
    Cycle {
        /// The flow.
        flow: String,
        /// The tasks of the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// The run store could not be opened or created.
    #[error("run store {path}: cannot open: {source}")]
    Open {
        /// The store's file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The run store's folder could not be created.
    #[error("run store: cannot create the folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The run store was written by a newer bankpipe.
    #[error(
        "run store {store} has schema version {found}, this bankpipe knows up to {supported}: \
         use a newer bankpipe, or another store"
    )]
    StoreTooNew {
        /// The store (its file, or its PostgreSQL schema).
        store: String,
        /// The schema version found in the file.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },
    /// A read or write of the SQLite run store failed.
    #[error("run store: {0}")]
    Store(#[from] rusqlite::Error),
    /// Connecting to the PostgreSQL run store, or a statement of it, failed.
    #[error("run store (PostgreSQL): {0}")]
    Postgres(#[from] storage::postgres::PostgresError),
    /// A value read from the run store is not what its column should hold.
    #[error("run store: column `{column}`: {message}")]
    StoreValue {
        /// The column.
        column: String,
        /// What was wrong.
        message: String,
    },
    /// A run's parameters could not be written as JSON.
    #[error("run parameters cannot be stored as JSON: {0}")]
    Parameters(#[from] serde_json::Error),
    /// Another run of the flow holds the flow's writer lock.
    #[error(
        "flow `{flow}` is being run by run #{holder} ({process}, since {since}); only one \
         run of it may write at a time: wait for that run to end, or run with a lock wait"
    )]
    LockHeld {
        /// The flow.
        flow: String,
        /// The run that holds the lock.
        holder: FlowRunId,
        /// The process of that run.
        process: ProcessId,
        /// When it took the lock.
        since: DateTime<Utc>,
    },
    /// The flow's writer lock was not released within the wait.
    #[error(
        "flow `{flow}` is still being run by run #{holder} after waiting {waited:?} for its \
         lock; try again later, or wait longer"
    )]
    LockTimeout {
        /// The flow.
        flow: String,
        /// The run that holds the lock.
        holder: FlowRunId,
        /// How long this run waited.
        waited: Duration,
    },
    /// No flow run has this id (never created, or pruned).
    #[error("no flow run #{0} in the run store (it may have been pruned)")]
    RunNotFound(FlowRunId),
    /// A run was to be retried with another flow than its own.
    #[error("run #{run} is a run of flow `{found}`, not of `{expected}`")]
    FlowMismatch {
        /// The run.
        run: FlowRunId,
        /// The flow given.
        expected: String,
        /// The run's flow.
        found: String,
    },
    /// Only a run that ended without completing can be retried.
    #[error("run #{run} is {state}: only a failed, crashed or cancelled run can be retried")]
    NotRetryable {
        /// The run.
        run: FlowRunId,
        /// Its state.
        state: RunState,
    },
    /// A launcher could not start a deployment's run (its parameters, its flow).
    #[error("cannot start the run: {0}")]
    Launch(String),
    /// A blocking call of the store panicked or was cancelled: a bug.
    #[error("internal error: a run store call did not finish: {0}")]
    Blocking(#[from] tokio::task::JoinError),
}

/// The result type of the runtime.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
