//! The DAG walk of a run: which task starts when, and what a failure cancels.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::Instrument;

use super::attempts::{self, Ended, RunEnv};
use crate::runtime::error::Result;
use crate::runtime::logs::LogLevel;
use crate::runtime::state::RunState;
use crate::runtime::store::{FlowRunId, TaskRunChange, TaskRunId};
use crate::runtime::task_events::task_span;

/// A task that failed, and why.
#[derive(Debug)]
pub(super) struct Failure {
    task: String,
    error: String,
}

/// The run's error for its failed tasks.
pub(super) fn summary(failures: &[Failure]) -> String {
    match failures {
        [one] => format!("task `{}` failed: {}", one.task, one.error),
        [first, ..] => format!(
            "{} tasks failed: {}; first `{}`: {}",
            failures.len(),
            failures
                .iter()
                .map(|f| format!("`{}`", f.task))
                .collect::<Vec<_>>()
                .join(", "),
            first.task,
            first.error
        ),
        [] => "no task failed".to_owned(),
    }
}

/// Creates the task runs, marks the run `running`, and runs the tasks, at most
/// `concurrency` at a time, each once its dependencies are done; returns the failures.
pub(super) async fn schedule(
    env: &Arc<RunEnv>,
    reuse: &HashMap<String, FlowRunId>,
    concurrency: usize,
) -> Result<Vec<Failure>> {
    let dag = env.flow.dag();
    let tasks = env.flow.tasks();
    let names = dag
        .order
        .iter()
        .map(|&i| tasks[i].name().to_owned())
        .collect();
    let created = env.store.create_task_runs(env.run, names).await?;
    let mut task_runs = vec![TaskRunId(0); tasks.len()];
    for (&i, id) in dag.order.iter().zip(created) {
        task_runs[i] = id;
    }
    env.store
        .set_flow_run_state(env.run, RunState::Running, None)
        .await?;

    let mut waiting: Vec<usize> = dag.dependencies.iter().map(Vec::len).collect();
    let mut ready: VecDeque<usize> = dag
        .order
        .iter()
        .copied()
        .filter(|&i| waiting[i] == 0)
        .collect();
    let mut release = |done: usize, ready: &mut VecDeque<usize>| {
        for &next in &dag.dependents[done] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push_back(next);
            }
        }
    };
    let mut running = JoinSet::new();
    let mut started = HashMap::new();
    let mut cancelled = vec![false; tasks.len()];
    let mut failures = Vec::new();
    loop {
        while running.len() < concurrency {
            let Some(i) = ready.pop_front() else { break };
            let name = tasks[i].name();
            if let Some(previous) = reuse.get(name) {
                let note = format!("reused: completed in run #{previous}");
                env.logs.line(
                    Some(task_runs[i]),
                    name,
                    LogLevel::Info,
                    format!("skipped: {note}"),
                );
                env.store
                    .update_task_run(
                        task_runs[i],
                        TaskRunChange {
                            state: RunState::Skipped,
                            note: Some(note),
                            ..TaskRunChange::default()
                        },
                    )
                    .await?;
                release(i, &mut ready);
                continue;
            }
            let span = task_span(&env.logs, env.run, name, task_runs[i]);
            let handle = running
                .spawn(attempts::run_task(Arc::clone(env), i, task_runs[i]).instrument(span));
            started.insert(handle.id(), i);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (i, ended) = match joined {
            Ok((id, ended)) => (started.remove(&id), ended?),
            Err(error) => {
                let message = format!("internal error: the task's runner stopped: {error}");
                let i = started.remove(&error.id());
                if let Some(i) = i {
                    env.store
                        .update_task_run(
                            task_runs[i],
                            TaskRunChange {
                                state: RunState::Failed,
                                error: Some(message.clone()),
                                ..TaskRunChange::default()
                            },
                        )
                        .await?;
                }
                (i, Ended::Failed(message))
            }
        };
        let Some(i) = i else { continue };
        match ended {
            Ended::Done => release(i, &mut ready),
            Ended::Failed(error) => {
                cancel_downstream(env, i, &task_runs, &mut cancelled).await?;
                failures.push(Failure {
                    task: tasks[i].name().to_owned(),
                    error,
                });
            }
        }
    }
    Ok(failures)
}

/// Marks every task downstream of the failed task `failed` as `cancelled`.
async fn cancel_downstream(
    env: &RunEnv,
    failed: usize,
    task_runs: &[TaskRunId],
    cancelled: &mut [bool],
) -> Result<()> {
    let dag = env.flow.dag();
    let tasks = env.flow.tasks();
    let error = format!("not run: upstream task `{}` failed", tasks[failed].name());
    let mut stack = dag.dependents[failed].clone();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut cancelled[i], true) {
            continue;
        }
        env.logs.line(
            Some(task_runs[i]),
            tasks[i].name(),
            LogLevel::Warn,
            error.clone(),
        );
        env.store
            .update_task_run(
                task_runs[i],
                TaskRunChange {
                    state: RunState::Cancelled,
                    error: Some(error.clone()),
                    ..TaskRunChange::default()
                },
            )
            .await?;
        stack.extend_from_slice(&dag.dependents[i]);
    }
    Ok(())
}
