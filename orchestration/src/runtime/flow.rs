//! Flows and tasks: what to run, in which order, with which retries and timeout, and
//! how to tell that a task need not run again.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::backoff::Backoff;
use super::context::TaskContext;
use super::dag::Dag;
use super::error::Result;

/// A task's work: called once per attempt with the attempt's context.
pub type TaskBody =
    Arc<dyn Fn(TaskContext) -> BoxFuture<'static, Result<TaskOutput, TaskError>> + Send + Sync>;

/// A fingerprint of a task's inputs or outputs (see [`Task::with_input_fingerprint`]);
/// `None` when it cannot be computed, which turns caching off for that run of the task.
/// It may read files: the executor calls it off the async threads.
pub type FingerprintFn = Arc<dyn Fn(&TaskContext) -> Option<String> + Send + Sync>;

/// What a task did, stored with its task run. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOutput {
    /// Rows read.
    pub rows_in: Option<u64>,
    /// Rows written.
    pub rows_out: Option<u64>,
    /// Bytes written.
    pub bytes: Option<u64>,
    /// Anything else worth showing (one line).
    pub note: Option<String>,
}

/// Why an attempt of a task failed, and whether another attempt may succeed.
///
/// Any error converts into a retryable `TaskError` with `?` (its message is the
/// error's, with its causes); [`TaskError::fatal`] says that retrying is pointless
/// (bad configuration, bad data), so the task fails at once whatever its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    message: String,
    retryable: bool,
}

impl TaskError {
    /// A failure that another attempt may not meet (a lost connection, a busy file).
    pub fn retryable(message: impl fmt::Display) -> Self {
        TaskError {
            message: message.to_string(),
            retryable: true,
        }
    }

    /// A failure that every attempt would meet: the task fails without retrying.
    pub fn fatal(message: impl fmt::Display) -> Self {
        TaskError {
            message: message.to_string(),
            retryable: false,
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for TaskError {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        TaskError::retryable(message)
    }
}

/// How a task is retried and how long an attempt may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskPolicy {
    /// Attempts after the first one failed (0: no retry).
    pub retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// The longest an attempt may run; a slower attempt is stopped (its future
    /// dropped) and counts as failed and retryable. `None`: no limit.
    pub timeout: Option<Duration>,
}

impl Default for TaskPolicy {
    /// No retry, the default [`Backoff`], no timeout.
    fn default() -> Self {
        TaskPolicy {
            retries: 0,
            backoff: Backoff::default(),
            timeout: None,
        }
    }
}

/// A named unit of work of a flow, with the tasks it waits for.
#[derive(Clone)]
pub struct Task {
    name: String,
    dependencies: Vec<String>,
    policy: TaskPolicy,
    body: TaskBody,
    input_fingerprint: Option<FingerprintFn>,
    output_fingerprint: Option<FingerprintFn>,
}

impl Task {
    /// A task named `name` whose attempts run `body`, with no dependency, the default
    /// [`TaskPolicy`] and no caching.
    pub fn new<F, Fut>(name: impl Into<String>, body: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<TaskOutput, TaskError>> + Send + 'static,
    {
        Task {
            name: name.into(),
            dependencies: Vec::new(),
            policy: TaskPolicy::default(),
            body: Arc::new(move |ctx| body(ctx).boxed()),
            input_fingerprint: None,
            output_fingerprint: None,
        }
    }

    /// Runs the task only once each of these tasks has completed (or was skipped).
    pub fn after<I, S>(mut self, dependencies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dependencies
            .extend(dependencies.into_iter().map(Into::into));
        self
    }

    /// Sets the retries, backoff and timeout.
    pub fn with_policy(mut self, policy: TaskPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Caches the task on a fingerprint of its inputs (a hash of its input files and
    /// configuration, e.g. by [`Fingerprint`](super::fingerprint::Fingerprint)): when a
    /// completed run of this task of this flow had the same fingerprint, and its
    /// outputs are unchanged (see [`with_output_fingerprint`](Self::with_output_fingerprint)),
    /// the task is skipped and its note says so. The inputs include what upstream
    /// tasks wrote that this task reads (their output tables), so that a rerun
    /// upstream makes this task run again.
    pub fn with_input_fingerprint<F>(mut self, fingerprint: F) -> Self
    where
        F: Fn(&TaskContext) -> Option<String> + Send + Sync + 'static,
    {
        self.input_fingerprint = Some(Arc::new(fingerprint));
        self
    }

    /// A fingerprint of the task's outputs, taken when it completes and compared when
    /// its inputs are unchanged: a cached task whose outputs were changed or deleted
    /// since is run again. Without it, a cached task's outputs are trusted.
    pub fn with_output_fingerprint<F>(mut self, fingerprint: F) -> Self
    where
        F: Fn(&TaskContext) -> Option<String> + Send + Sync + 'static,
    {
        self.output_fingerprint = Some(Arc::new(fingerprint));
        self
    }

    /// The task's name, unique in its flow.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tasks it waits for.
    pub fn dependencies(&self) -> &[String] {
        &self.dependencies
    }

    /// Its retries, backoff and timeout.
    pub fn policy(&self) -> &TaskPolicy {
        &self.policy
    }

    pub(crate) fn body(&self) -> &TaskBody {
        &self.body
    }

    pub(crate) fn input_fingerprint(&self) -> Option<&FingerprintFn> {
        self.input_fingerprint.as_ref()
    }

    pub(crate) fn output_fingerprint(&self) -> Option<&FingerprintFn> {
        self.output_fingerprint.as_ref()
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("dependencies", &self.dependencies)
            .field("policy", &self.policy)
            .field("cached", &self.input_fingerprint.is_some())
            .finish_non_exhaustive()
    }
}

/// A named DAG of tasks, checked when built. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Flow {
    inner: Arc<FlowInner>,
}

#[derive(Debug)]
struct FlowInner {
    name: String,
    exclusive: bool,
    tasks: Vec<Task>,
    dag: Dag,
}

impl Flow {
    /// Starts a flow named `name`.
    pub fn builder(name: impl Into<String>) -> FlowBuilder {
        FlowBuilder {
            name: name.into(),
            exclusive: false,
            tasks: Vec::new(),
        }
    }

    /// The flow's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether only one run of the flow may go at a time (see
    /// [`FlowBuilder::exclusive`]).
    pub fn is_exclusive(&self) -> bool {
        self.inner.exclusive
    }

    /// The tasks, in declaration order.
    pub fn tasks(&self) -> &[Task] {
        &self.inner.tasks
    }

    pub(crate) fn dag(&self) -> &Dag {
        &self.inner.dag
    }
}

/// Declares a [`Flow`]'s tasks; [`build`](Self::build) checks them.
#[derive(Debug)]
pub struct FlowBuilder {
    name: String,
    exclusive: bool,
    tasks: Vec<Task>,
}

impl FlowBuilder {
    /// Allows one run of the flow at a time (a flow that writes the warehouse): a run
    /// takes the flow's writer lock in the run store before its first task, and a
    /// second run is refused or waits (see
    /// [`Executor::with_lock_wait`](super::executor::Executor::with_lock_wait)).
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// Adds a task.
    pub fn task(mut self, task: Task) -> Self {
        self.tasks.push(task);
        self
    }

    /// Checks that the task names are unique, that every dependency is a task of the
    /// flow, and that there is no cycle (the error names it).
    pub fn build(self) -> Result<Flow> {
        let edges: Vec<(&str, &[String])> = self
            .tasks
            .iter()
            .map(|task| (task.name(), task.dependencies()))
            .collect();
        let dag = Dag::new(&self.name, &edges)?;
        Ok(Flow {
            inner: Arc::new(FlowInner {
                name: self.name,
                exclusive: self.exclusive,
                tasks: self.tasks,
                dag,
            }),
        })
    }
}
