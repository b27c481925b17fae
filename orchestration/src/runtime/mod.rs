//! The flow runtime: flows as DAGs of tasks, run with retries, timeouts, caching and
//! bounded parallelism, every run recorded in a run store.
//!
//! # The mental model
//! - A [`Flow`] is a named DAG of [`Task`]s, checked when built (unique names, known
//!   dependencies, no cycle). A task has a body (an async function of its
//!   [`TaskContext`] returning a [`TaskOutput`] or a [`TaskError`]), a [`TaskPolicy`]
//!   (retries, [`Backoff`], timeout) and optional fingerprints of its inputs and
//!   outputs for caching ([`Fingerprint`] helps take them).
//! - The [`Executor`] runs a flow: a flow run with parameters, one task run per task,
//!   tasks in parallel up to a limit, each as soon as its dependencies are done (see
//!   [`executor`] for the whole sequence, and [`RunState`] for what each state means).
//! - The [`RunStore`] (SQLite in the data folder) keeps every run, task run and log
//!   line, recovers the runs of crashed processes, holds the writer lock of exclusive
//!   flows, and answers the dashboard's queries.
//! - A task's log lines are those it writes with [`TaskContext::log`] and, when the
//!   process's `tracing` subscriber holds a [`TaskLogLayer`], the `tracing` events of
//!   the code it runs (see [`task_events`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), orchestration::runtime::RuntimeError> {
//! use orchestration::runtime::{Executor, Flow, RunRequest, RunStore, Task, TaskOutput};
//!
//! let flow = Flow::builder("daily")
//!     .task(Task::new("ingest", |_ctx| async { Ok(TaskOutput::default()) }))
//!     .task(Task::new("build", |_ctx| async { Ok(TaskOutput::default()) }).after(["ingest"]))
//!     .build()?;
//! let store = RunStore::open_in(std::path::Path::new("data")).await?;
//! let run = Executor::new(store)
//!     .run(&flow, RunRequest::default().with_parameter("business_date", "2026-11-24"))
//!     .await?;
//! println!("run #{} {}", run.run.id, run.run.state);
//! # Ok(())
//! # }
//! ```

pub mod backoff;
pub mod context;
mod dag;
pub mod error;
pub mod executor;
pub mod fingerprint;
pub mod flow;
mod guard;
pub mod logs;
pub mod process;
pub mod state;
pub mod store;
pub mod task_events;

pub use backoff::Backoff;
pub use context::TaskContext;
pub use error::RuntimeError;
pub use executor::{Executor, RunRequest};
pub use fingerprint::Fingerprint;
pub use flow::{Flow, FlowBuilder, Task, TaskError, TaskOutput, TaskPolicy};
pub use logs::LogLevel;
pub use process::ProcessId;
pub use state::RunState;
pub use store::{
    BACKFILL_PARAMETER, BackfillSummary, FlowRunDetail, FlowRunId, FlowRunRecord, LockWait,
    LogScope, RunFilter, RunStore, StoreLocation, StoreOptions, TaskRunId, TaskRunRecord,
};
pub use task_events::{TaskLogLayer, spawn_blocking};
