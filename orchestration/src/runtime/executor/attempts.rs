//! One task of a run: the cache check, then attempts with their timeout, retries and
//! backoff, each recorded in the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::runtime::context::TaskContext;
use crate::runtime::error::Result;
use crate::runtime::flow::{FingerprintFn, Flow, Task, TaskBody, TaskError, TaskOutput};
use crate::runtime::guard::AbortOnDrop;
use crate::runtime::logs::{LogLevel, LogSink};
use crate::runtime::state::RunState;
use crate::runtime::store::{FlowRunId, RunStore, TaskRunChange, TaskRunId};
use crate::runtime::task_events::spawn_blocking;

/// What every task of a run shares.
#[derive(Debug)]
pub(super) struct RunEnv {
    pub(super) store: RunStore,
    pub(super) flow: Flow,
    pub(super) flow_name: Arc<str>,
    pub(super) run: FlowRunId,
    pub(super) parameters: Arc<BTreeMap<String, String>>,
    pub(super) logs: LogSink,
}

/// How a task ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// Completed or skipped: its dependents may start.
    Done,
    /// Failed, with the last attempt's error.
    Failed(String),
}

/// Runs task `index` of the run as task run `task_run`.
pub(super) async fn run_task(env: Arc<RunEnv>, index: usize, task_run: TaskRunId) -> Result<Ended> {
    let task = &env.flow.tasks()[index];
    let ctx = TaskContext::new(
        Arc::clone(&env.flow_name),
        env.run,
        Arc::from(task.name()),
        task_run,
        Arc::clone(&env.parameters),
        env.logs.clone(),
    );
    let fingerprint = match task.input_fingerprint() {
        Some(inputs) => take(inputs, &ctx).await,
        None => None,
    };
    if let Some(fingerprint) = &fingerprint
        && let Some(note) = cached(&env, task, &ctx, fingerprint).await?
    {
        ctx.log(LogLevel::Info, format!("skipped: {note}"));
        env.store
            .update_task_run(
                task_run,
                TaskRunChange {
                    state: RunState::Skipped,
                    fingerprint: Some(fingerprint.clone()),
                    note: Some(note),
                    ..TaskRunChange::default()
                },
            )
            .await?;
        return Ok(Ended::Done);
    }
    let policy = *task.policy();
    let mut attempt = 0;
    loop {
        attempt += 1;
        env.store
            .update_task_run(
                task_run,
                TaskRunChange {
                    state: RunState::Running,
                    attempt: Some(attempt),
                    fingerprint: fingerprint.clone(),
                    ..TaskRunChange::default()
                },
            )
            .await?;
        let started = Instant::now();
        match attempt_once(task.body(), ctx.for_attempt(attempt), policy.timeout).await {
            Ok(output) => {
                let output_fingerprint = match task.output_fingerprint() {
                    Some(outputs) => take(outputs, &ctx).await,
                    None => None,
                };
                ctx.log(
                    LogLevel::Info,
                    format!("completed in {:?} (attempt {attempt})", started.elapsed()),
                );
                env.store
                    .update_task_run(
                        task_run,
                        TaskRunChange {
                            state: RunState::Completed,
                            output: Some(output),
                            output_fingerprint,
                            ..TaskRunChange::default()
                        },
                    )
                    .await?;
                return Ok(Ended::Done);
            }
            Err(error) if error.is_retryable() && attempt <= policy.retries => {
                let wait = policy.backoff.delay_for(env.run.0, task.name(), attempt);
                ctx.log(
                    LogLevel::Warn,
                    format!(
                        "attempt {attempt} of {} failed: {error}; next attempt in {wait:?}",
                        policy.retries + 1
                    ),
                );
                env.store
                    .update_task_run(
                        task_run,
                        TaskRunChange {
                            state: RunState::Retrying,
                            error: Some(error.to_string()),
                            ..TaskRunChange::default()
                        },
                    )
                    .await?;
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                let why = if error.is_retryable() {
                    "no retry left"
                } else {
                    "not retryable"
                };
                ctx.log(
                    LogLevel::Error,
                    format!("attempt {attempt} failed ({why}): {error}"),
                );
                env.store
                    .update_task_run(
                        task_run,
                        TaskRunChange {
                            state: RunState::Failed,
                            error: Some(error.to_string()),
                            ..TaskRunChange::default()
                        },
                    )
                    .await?;
                return Ok(Ended::Failed(error.to_string()));
            }
        }
    }
}

/// Why the task may be skipped as cached, if it may: a completed run of it had the
/// same input fingerprint, and its outputs are unchanged (or not fingerprinted).
async fn cached(
    env: &RunEnv,
    task: &Task,
    ctx: &TaskContext,
    fingerprint: &str,
) -> Result<Option<String>> {
    let Some(hit) = env
        .store
        .find_cached(&env.flow_name, task.name(), fingerprint)
        .await?
    else {
        return Ok(None);
    };
    let Some(outputs) = task.output_fingerprint() else {
        return Ok(Some(format!(
            "cached: inputs unchanged since run #{} (task run #{})",
            hit.flow_run_id, hit.task_run_id
        )));
    };
    let now = take(outputs, ctx).await;
    if now.is_some() && now == hit.output_fingerprint {
        Ok(Some(format!(
            "cached: inputs and outputs unchanged since run #{} (task run #{})",
            hit.flow_run_id, hit.task_run_id
        )))
    } else {
        ctx.log(
            LogLevel::Info,
            format!(
                "inputs unchanged since run #{}, but its outputs changed since: running again",
                hit.flow_run_id
            ),
        );
        Ok(None)
    }
}

/// Takes a fingerprint off the async threads; `None` if it cannot be taken.
async fn take(fingerprint: &FingerprintFn, ctx: &TaskContext) -> Option<String> {
    let (fingerprint, for_call) = (Arc::clone(fingerprint), ctx.clone());
    match spawn_blocking(move || fingerprint(&for_call)).await {
        Ok(taken) => taken,
        Err(error) => {
            ctx.log(
                LogLevel::Warn,
                format!("fingerprint not taken ({error}): the task is not cached"),
            );
            None
        }
    }
}

/// One attempt, in a tokio task of its own (a panic fails the attempt, not the run)
/// and in the task run's span, stopped at the timeout.
async fn attempt_once(
    body: &TaskBody,
    ctx: TaskContext,
    timeout: Option<Duration>,
) -> Result<TaskOutput, TaskError> {
    let body = Arc::clone(body);
    let mut attempt = AbortOnDrop(tokio::spawn(
        async move { body(ctx).await }.in_current_span(),
    ));
    let joined = match timeout {
        Some(limit) => match tokio::time::timeout(limit, &mut attempt.0).await {
            Ok(joined) => joined,
            Err(_) => return Err(TaskError::retryable(format!("timed out after {limit:?}"))),
        },
        None => (&mut attempt.0).await,
    };
    match joined {
        Ok(result) => result,
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(TaskError::fatal(format!("panicked: {message}")))
        }
        Err(error) => Err(TaskError::fatal(format!("stopped: {error}"))),
    }
}
