//! What the run store keeps: flow runs, task runs and log lines, as written and as read.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::runtime::flow::TaskOutput;
use crate::runtime::logs::LogLevel;
use crate::runtime::process::ProcessId;
use crate::runtime::state::RunState;

/// The run parameter whose value groups runs into a backfill: the runs of one
/// backfill (`bankpipe backfill`, or runs triggered with it) share its value, the
/// backfill's id, and a retry keeps it with the other parameters.
pub const BACKFILL_PARAMETER: &str = "backfill";

/// A flow run's id (what `bankpipe retry` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowRunId(pub i64);

/// A task run's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskRunId(pub i64);

impl fmt::Display for FlowRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TaskRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A flow run to create.
#[derive(Debug, Clone)]
pub struct NewFlowRun {
    /// The flow.
    pub flow: String,
    /// The deployment that started it, if any.
    pub deployment: Option<String>,
    /// Its parameters.
    pub parameters: BTreeMap<String, String>,
    /// Its first state: `pending` (about to run) or `scheduled`.
    pub state: RunState,
    /// The run it retries, if any.
    pub retry_of: Option<FlowRunId>,
    /// The process that runs it (for crash recovery).
    pub owner: ProcessId,
}

/// A change of a task run: its new state, and the fields to set (`None` keeps a field
/// as it is, except `error`, which is always replaced). Starting sets its start time
/// once; a final state sets its end time.
#[derive(Debug, Clone, Default)]
pub struct TaskRunChange {
    /// The new state.
    pub state: RunState,
    /// The attempt now made.
    pub attempt: Option<u32>,
    /// The fingerprint of its inputs.
    pub fingerprint: Option<String>,
    /// The fingerprint of its outputs.
    pub output_fingerprint: Option<String>,
    /// What it did.
    pub output: Option<TaskOutput>,
    /// A note: why it was skipped, or the output's note.
    pub note: Option<String>,
    /// Why its last attempt failed (`None` clears it).
    pub error: Option<String>,
}

/// A log line to store.
#[derive(Debug, Clone)]
pub struct NewLog {
    /// The flow run.
    pub flow_run_id: FlowRunId,
    /// The task run, or `None` for a line of the flow run itself.
    pub task_run_id: Option<TaskRunId>,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// A flow run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRunRecord {
    /// Its id.
    pub id: FlowRunId,
    /// The flow.
    pub flow: String,
    /// The deployment that started it, if any.
    pub deployment: Option<String>,
    /// Its parameters.
    pub parameters: BTreeMap<String, String>,
    /// Its state.
    pub state: RunState,
    /// The run it retries, if any (that run may have been pruned since).
    pub retry_of: Option<FlowRunId>,
    /// The process that ran it.
    pub owner: ProcessId,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it failed, crashed or was cancelled.
    pub error: Option<String>,
}

impl FlowRunRecord {
    /// The backfill the run belongs to (its [`BACKFILL_PARAMETER`]), if any.
    pub fn backfill(&self) -> Option<&str> {
        self.parameters.get(BACKFILL_PARAMETER).map(String::as_str)
    }
}

/// A task run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRunRecord {
    /// Its id.
    pub id: TaskRunId,
    /// The flow run.
    pub flow_run_id: FlowRunId,
    /// The task.
    pub task: String,
    /// Its state.
    pub state: RunState,
    /// Attempts made (0: never started).
    pub attempt: u32,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// What it did (rows in, rows out, bytes, note).
    pub output: TaskOutput,
    /// The fingerprint of its inputs, if cached.
    pub fingerprint: Option<String>,
    /// The fingerprint of its outputs, if declared.
    pub output_fingerprint: Option<String>,
    /// Why its last attempt failed, or why it was cancelled or crashed.
    pub error: Option<String>,
}

/// A flow run with its task runs (in the flow's order).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRunDetail {
    /// The flow run.
    pub run: FlowRunRecord,
    /// Its task runs.
    pub tasks: Vec<TaskRunRecord>,
}

impl FlowRunDetail {
    /// The task run of the task named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskRunRecord> {
        self.tasks.iter().find(|task| task.task == name)
    }
}

/// A stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its id: increasing, so a reader can ask for the lines after the last it saw.
    pub id: i64,
    /// The flow run.
    pub flow_run_id: FlowRunId,
    /// The task run, or `None` for a line of the flow run itself.
    pub task_run_id: Option<TaskRunId>,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// Which flow runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this flow.
    pub flow: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only runs of this backfill (see [`BACKFILL_PARAMETER`]).
    pub backfill: Option<String>,
    /// At most this many, newest first (`None`: all).
    pub limit: Option<usize>,
}

/// A backfill: the runs that share a [`BACKFILL_PARAMETER`] value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillSummary {
    /// The backfill's id (the parameter's value).
    pub id: String,
    /// The deployment of its runs, if any.
    pub deployment: Option<String>,
    /// Its runs by state.
    pub states: BTreeMap<RunState, u64>,
    /// When its first run was created.
    pub created_at: DateTime<Utc>,
    /// Its newest run.
    pub latest_run: FlowRunId,
}

impl BackfillSummary {
    /// How many runs it has.
    pub fn runs(&self) -> u64 {
        self.states.values().sum()
    }

    /// Whether every one of its runs has ended.
    pub fn has_ended(&self) -> bool {
        self.states.keys().all(|state| state.is_final())
    }
}

/// Whose log lines to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogScope {
    /// Every line of a flow run, its tasks' included.
    FlowRun(FlowRunId),
    /// The lines of one task run.
    TaskRun(TaskRunId),
}

/// How many runs were created on a day (UTC) and are in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    /// The day.
    pub day: NaiveDate,
    /// The state.
    pub state: RunState,
    /// The runs.
    pub runs: u64,
}

/// What [`RunStore::prune`](super::RunStore::prune) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Flow runs deleted.
    pub flow_runs: u64,
    /// Task runs deleted.
    pub task_runs: u64,
    /// Log lines deleted.
    pub logs: u64,
}

/// A completed task run whose inputs had a given fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTaskRun {
    /// The task run.
    pub task_run_id: TaskRunId,
    /// Its flow run.
    pub flow_run_id: FlowRunId,
    /// The fingerprint of its outputs when it completed.
    pub output_fingerprint: Option<String>,
}
