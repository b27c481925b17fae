//! The `tracing` events of task bodies, stored with their task run's logs, through a
//! process-wide subscriber as `bankpipe` sets one up (a filter, then
//! `TaskLogLayer`), on a multi-threaded runtime: events follow their task across
//! threads (with the span carried to blocking threads), two tasks running at once
//! keep theirs apart, and events outside any task are not stored.

use std::sync::{Arc, Once};
use std::time::Duration;

use orchestration::runtime::{
    Executor, Flow, LogLevel, LogScope, RunRequest, RunState, RunStore, Task, TaskContext,
    TaskLogLayer, TaskOutput, spawn_blocking,
};
use tokio::sync::Barrier;
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the process's subscriber once: `INFO` and above, into the task logs.
fn subscriber() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(TaskLogLayer);
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_events_inside_a_task_are_stored_with_its_logs_and_no_others() {
    subscriber();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RunStore::open_in(dir.path()).await.expect("run store");
    // Both tasks wait for each other, so that they run at the same time.
    let together = Arc::new(Barrier::new(2));
    let meet = Arc::clone(&together);
    let load = Task::new("load", move |_ctx: TaskContext| {
        let together = Arc::clone(&together);
        async move {
            together.wait().await;
            tracing::warn!(table = "fact_loans", "late rows");
            spawn_blocking(|| tracing::warn!("from the blocking helper"))
                .await
                .expect("blocking work");
            let span = tracing::Span::current();
            tokio::task::spawn_blocking(move || {
                let _entered = span.enter();
                tracing::warn!("from a span entered by hand");
            })
            .await
            .expect("blocking work");
            tokio::task::spawn_blocking(|| tracing::warn!("from a thread without the span"))
                .await
                .expect("blocking work");
            tokio::spawn(
                async { tracing::warn!("from a tokio task in the span") }.in_current_span(),
            )
            .await
            .expect("spawned work");
            tracing::debug!("finer than the filter");
            Ok(TaskOutput::default())
        }
    });
    let check = Task::new("check", move |_ctx: TaskContext| {
        let meet = Arc::clone(&meet);
        async move {
            meet.wait().await;
            tracing::error!("the check's own error");
            Ok(TaskOutput::default())
        }
    });
    let flow = Flow::builder("traced")
        .task(load)
        .task(check)
        .build()
        .expect("flow");
    let noise = tokio::spawn(async {
        loop {
            tracing::warn!("outside any task");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    tracing::warn!("outside any task");
    let run = Executor::new(store.clone())
        .run(&flow, RunRequest::default())
        .await
        .expect("run");
    noise.abort();
    assert_eq!(run.run.state, RunState::Completed);

    let lines_of = |scope| {
        let store = store.clone();
        async move {
            store
                .logs(scope, 0, 1_000)
                .await
                .expect("logs")
                .into_iter()
                .map(|line| (line.level, line.message))
                .collect::<Vec<_>>()
        }
    };
    let load = lines_of(LogScope::TaskRun(run.task("load").expect("load").id)).await;
    for stored in [
        "late rows table=\"fact_loans\"",
        "from the blocking helper",
        "from a span entered by hand",
        "from a tokio task in the span",
    ] {
        assert!(
            load.contains(&(LogLevel::Warn, stored.to_owned())),
            "`{stored}` stored as a warning: {load:?}"
        );
    }
    let check = lines_of(LogScope::TaskRun(run.task("check").expect("check").id)).await;
    assert!(
        check.contains(&(LogLevel::Error, "the check's own error".to_owned())),
        "{check:?}"
    );
    let whole = lines_of(LogScope::FlowRun(run.run.id)).await;
    for absent in [
        "outside any task",
        "from a thread without the span",
        "finer than the filter",
    ] {
        assert!(
            !whole.iter().any(|(_, message)| message == absent),
            "`{absent}` not stored: {whole:?}"
        );
    }
    assert_eq!(
        whole
            .iter()
            .filter(|(_, message)| message.contains("check's own"))
            .count(),
        1,
        "stored with its own task only: {whole:?}"
    );
}
