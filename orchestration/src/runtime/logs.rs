//! Task logs: lines that a task writes with [`TaskContext::log`], sent to the console
//! through `tracing` and stored with the task run by a writer task (in batches, off
//! the task's way), so that a dashboard can tail them while the run goes. The
//! `tracing` events of the code a task runs join them through
//! [`TaskLogLayer`](super::task_events::TaskLogLayer).
//!
//! [`TaskContext::log`]: super::context::TaskContext::log

use std::fmt;
use std::str::FromStr;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::guard::AbortOnDrop;
use super::store::{FlowRunId, NewLog, RunStore, TaskRunId};

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Details for whoever debugs the task.
    Debug,
    /// What the task does.
    Info,
    /// Something odd that did not stop the task.
    Warn,
    /// A failure.
    Error,
}

impl LogLevel {
    /// The level's name as stored (`debug`, `info`, `warn`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level name that is not `debug`, `info`, `warn` or `error`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown log level `{0}` (expected debug, info, warn or error)")]
pub struct UnknownLevel(pub String);

impl FromStr for LogLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ]
        .into_iter()
        .find(|level| level.as_str() == s)
        .ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

/// The target of the console's copy of a stored line: the task-log layer leaves
/// these events alone (the line is stored already).
pub(crate) const ECHO_TARGET: &str = module_path!();

enum Command {
    Line(NewLog),
    Flush(oneshot::Sender<()>),
}

/// Where a flow run's log lines go: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub(crate) struct LogSink {
    flow_run: FlowRunId,
    sender: mpsc::UnboundedSender<Command>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Line(line) => f.debug_tuple("Line").field(line).finish(),
            Command::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl LogSink {
    /// Starts the writer of flow run `flow_run`'s lines; it stops when the returned
    /// guard is dropped (after a [`flush`](Self::flush), nothing is lost).
    pub(crate) fn start(store: RunStore, flow_run: FlowRunId) -> (LogSink, AbortOnDrop<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_lines(store, receiver));
        (LogSink { flow_run, sender }, AbortOnDrop(writer))
    }

    /// Logs a line of the flow run (`task_run` `None`) or of one of its task runs.
    pub(crate) fn line(
        &self,
        task_run: Option<TaskRunId>,
        task: &str,
        level: LogLevel,
        message: String,
    ) {
        let run = self.flow_run;
        match level {
            LogLevel::Debug => tracing::debug!(target: ECHO_TARGET, %run, task, "{message}"),
            LogLevel::Info => tracing::info!(target: ECHO_TARGET, %run, task, "{message}"),
            LogLevel::Warn => tracing::warn!(target: ECHO_TARGET, %run, task, "{message}"),
            LogLevel::Error => tracing::error!(target: ECHO_TARGET, %run, task, "{message}"),
        }
        self.store(task_run, level, message);
    }

    /// Stores a line of the flow run (`task_run` `None`) or of one of its task runs,
    /// without the console's copy (for a line that comes from `tracing`).
    pub(crate) fn store(&self, task_run: Option<TaskRunId>, level: LogLevel, message: String) {
        let line = NewLog {
            flow_run_id: self.flow_run,
            task_run_id: task_run,
            at: Utc::now(),
            level,
            message,
        };
        // The writer is gone only once the run has ended: a late line is dropped.
        let _ = self.sender.send(Command::Line(line));
    }

    /// Waits until every line sent before is in the store.
    pub(crate) async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

/// Writes the lines as they come, each burst in one transaction.
async fn write_lines(store: RunStore, mut receiver: mpsc::UnboundedReceiver<Command>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = Vec::new();
        let mut flushed = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next {
            match command {
                Command::Line(line) => batch.push(line),
                Command::Flush(done) => flushed.push(done),
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
            let lines = batch.len();
            if let Err(error) = store.insert_logs(batch).await {
                tracing::warn!("{lines} log lines could not be stored: {error}");
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}
