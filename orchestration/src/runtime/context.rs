//! What a task attempt knows about its run: the run, the task, the attempt, the run's
//! parameters, and where its log lines go.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::logs::{LogLevel, LogSink};
use super::store::{FlowRunId, TaskRunId};

/// The context of one attempt of a task (or of its fingerprints, with attempt 0).
/// Cheap to clone.
#[derive(Clone)]
pub struct TaskContext {
    flow: Arc<str>,
    run_id: FlowRunId,
    task: Arc<str>,
    task_run_id: TaskRunId,
    attempt: u32,
    parameters: Arc<BTreeMap<String, String>>,
    logs: LogSink,
}

impl TaskContext {
    pub(crate) fn new(
        flow: Arc<str>,
        run_id: FlowRunId,
        task: Arc<str>,
        task_run_id: TaskRunId,
        parameters: Arc<BTreeMap<String, String>>,
        logs: LogSink,
    ) -> Self {
        TaskContext {
            flow,
            run_id,
            task,
            task_run_id,
            attempt: 0,
            parameters,
            logs,
        }
    }

    pub(crate) fn for_attempt(&self, attempt: u32) -> Self {
        TaskContext {
            attempt,
            ..self.clone()
        }
    }

    /// The flow's name.
    pub fn flow(&self) -> &str {
        &self.flow
    }

    /// The flow run.
    pub fn run_id(&self) -> FlowRunId {
        self.run_id
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// The task run (one per task and flow run, across attempts).
    pub fn task_run_id(&self) -> TaskRunId {
        self.task_run_id
    }

    /// The attempt, from 1; 0 while the task's fingerprints are taken.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The run's parameters (business date, source folder, …).
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.parameters
    }

    /// One parameter of the run.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// Logs a line: to the console through `tracing`, and into the run store with the
    /// task run (stored in the background; never blocks).
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.logs
            .line(Some(self.task_run_id), &self.task, level, message.into());
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("flow", &self.flow)
            .field("run_id", &self.run_id)
            .field("task", &self.task)
            .field("task_run_id", &self.task_run_id)
            .field("attempt", &self.attempt)
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}
