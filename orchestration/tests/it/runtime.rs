//! The flow runtime: dependency order, parallelism, retries, timeouts, failures that
//! cancel only what depends on them, caching, resuming, crash recovery, the writer
//! lock and retention, each on a real run store in a temporary folder; those that
//! depend on the store's SQL, on both backends (SQLite and PostgreSQL).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use orchestration::runtime::store::{NewFlowRun, TaskRunChange};
use orchestration::runtime::{
    BACKFILL_PARAMETER, Backoff, Executor, Fingerprint, Flow, FlowRunDetail, FlowRunRecord,
    LockWait, LogLevel, LogScope, ProcessId, RunFilter, RunRequest, RunState, RunStore,
    RuntimeError, StoreLocation, StoreOptions, Task, TaskContext, TaskError, TaskOutput,
    TaskPolicy,
};
use tokio::sync::{Notify, mpsc};

use crate::run_stores::{TestStore, on_both_stores};

async fn store(dir: &Path) -> RunStore {
    RunStore::open_in(dir).await.expect("run store")
}

/// A task that completes at once.
fn done(name: &str) -> Task {
    Task::new(name, |_ctx| async { Ok(TaskOutput::default()) })
}

/// `retries` retries, no wait between attempts.
fn retries(retries: u32) -> TaskPolicy {
    TaskPolicy {
        retries,
        backoff: Backoff::NONE,
        timeout: None,
    }
}

fn states(run: &FlowRunDetail) -> BTreeMap<&str, RunState> {
    run.tasks
        .iter()
        .map(|t| (t.task.as_str(), t.state))
        .collect()
}

/// A process that existed on no host.
fn gone_process() -> ProcessId {
    ProcessId {
        pid: u32::MAX,
        ..ProcessId::current()
    }
}

#[tokio::test]
async fn tasks_start_after_their_dependencies_and_get_the_runs_parameters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let step = |name: &'static str| {
        let events = Arc::clone(&events);
        Task::new(name, move |ctx: TaskContext| {
            let events = Arc::clone(&events);
            async move {
                events.lock().expect("events").push(format!("start {name}"));
                assert_eq!(ctx.parameter("business_date"), Some("2026-11-24"));
                tokio::time::sleep(Duration::from_millis(5)).await;
                events.lock().expect("events").push(format!("end {name}"));
                Ok(TaskOutput {
                    rows_in: Some(10),
                    rows_out: Some(9),
                    bytes: Some(100),
                    note: Some(format!("{name} done")),
                })
            }
        })
    };
    // Declared out of order on purpose: a diamond, then a tail.
    let flow = Flow::builder("daily")
        .task(step("report").after(["marts"]))
        .task(step("marts").after(["dimensions", "facts"]))
        .task(step("facts").after(["ingest"]))
        .task(step("dimensions").after(["ingest"]))
        .task(step("ingest"))
        .build()
        .expect("a valid flow");
    let run = Executor::new(store(dir.path()).await)
        .run(
            &flow,
            RunRequest::default().with_parameter("business_date", "2026-11-24"),
        )
        .await
        .expect("run");

    assert_eq!(run.run.state, RunState::Completed, "{:?}", run.run.error);
    assert_eq!(run.run.parameters["business_date"], "2026-11-24");
    let order: Vec<&str> = run.tasks.iter().map(|t| t.task.as_str()).collect();
    assert_eq!(order, ["ingest", "facts", "dimensions", "marts", "report"]);
    let events = events.lock().expect("events").clone();
    let at = |event: &str| {
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no `{event}` in {events:?}"))
    };
    for (task, dependencies) in [
        ("facts", &["ingest"][..]),
        ("dimensions", &["ingest"]),
        ("marts", &["facts", "dimensions"]),
        ("report", &["marts"]),
    ] {
        for dependency in dependencies {
            assert!(
                at(&format!("end {dependency}")) < at(&format!("start {task}")),
                "{task} started before {dependency} ended: {events:?}"
            );
        }
    }
    for task in &run.tasks {
        assert_eq!(task.state, RunState::Completed);
        assert_eq!(task.attempt, 1);
        assert_eq!(task.output.rows_out, Some(9));
        assert_eq!(
            task.output.note.as_deref(),
            Some(&*format!("{} done", task.task))
        );
        assert!(task.started_at <= task.ended_at && task.started_at.is_some());
    }
    assert!(run.run.started_at.is_some() && run.run.ended_at >= run.run.started_at);
}

#[tokio::test]
async fn independent_tasks_run_in_parallel_up_to_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut builder = Flow::builder("wide");
    for i in 0..7 {
        let (now, most) = (Arc::clone(&now), Arc::clone(&most));
        builder = builder.task(Task::new(format!("t{i}"), move |_ctx| {
            let (now, most) = (Arc::clone(&now), Arc::clone(&most));
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(TaskOutput::default())
            }
        }));
    }
    let flow = builder.build().expect("flow");
    let run = Executor::new(store(dir.path()).await)
        .with_concurrency(3)
        .run(&flow, RunRequest::default())
        .await
        .expect("run");
    assert_eq!(run.run.state, RunState::Completed);
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "at most 3 at a time, and 3 reached"
    );
}

#[tokio::test]
async fn a_failed_attempt_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let flow = Flow::builder("flaky")
        .task(
            Task::new("load", move |ctx: TaskContext| {
                let calls = Arc::clone(&counted);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    ctx.log(LogLevel::Info, format!("attempt {}", ctx.attempt()));
                    if ctx.attempt() < 3 {
                        return Err(TaskError::retryable("connection reset"));
                    }
                    Ok(TaskOutput {
                        rows_out: Some(42),
                        ..TaskOutput::default()
                    })
                }
            })
            .with_policy(retries(4)),
        )
        .build()
        .expect("flow");
    let executor = Executor::new(store(dir.path()).await);
    let run = executor
        .run(&flow, RunRequest::default())
        .await
        .expect("run");
    assert_eq!(run.run.state, RunState::Completed);
    let load = run.task("load").expect("load");
    assert_eq!((load.state, load.attempt), (RunState::Completed, 3));
    assert_eq!(load.output.rows_out, Some(42));
    assert_eq!(load.error, None, "a completed task carries no error");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let lines = executor
        .store()
        .logs(LogScope::TaskRun(load.id), 0, 100)
        .await
        .expect("logs");
    let text: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    assert!(text.contains(&"attempt 1"), "{text:?}");
    assert!(
        lines.iter().any(|l| l.level == LogLevel::Warn
            && l.message
                .starts_with("attempt 2 of 5 failed: connection reset")),
        "{text:?}"
    );
}

#[tokio::test]
async fn exhausted_retries_fail_the_task_and_cancel_only_what_depends_on_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let downstream_ran = Arc::new(AtomicUsize::new(0));
    let counting = |name: &str| {
        let ran = Arc::clone(&downstream_ran);
        Task::new(name, move |_ctx| {
            let ran = Arc::clone(&ran);
            async move {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(TaskOutput::default())
            }
        })
    };
    let flow = Flow::builder("branches")
        .task(
            Task::new("extract", |_ctx| async {
                Err(TaskError::retryable("the source is down"))
            })
            .with_policy(retries(2)),
        )
        .task(counting("clean").after(["extract"]))
        .task(counting("publish").after(["clean", "fx"]))
        .task(done("fx"))
        .task(done("fx_report").after(["fx"]))
        .build()
        .expect("flow");
    let run = Executor::new(store(dir.path()).await)
        .run(&flow, RunRequest::default())
        .await
        .expect("a failed run is a run, not an error");

    assert_eq!(run.run.state, RunState::Failed);
    let error = run.run.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("task `extract` failed: the source is down"),
        "{error}"
    );
    assert_eq!(
        states(&run),
        BTreeMap::from([
            ("extract", RunState::Failed),
            ("clean", RunState::Cancelled),
            ("publish", RunState::Cancelled),
            ("fx", RunState::Completed),
            ("fx_report", RunState::Completed),
        ])
    );
    assert_eq!(run.task("extract").map(|t| t.attempt), Some(3));
    assert_eq!(
        downstream_ran.load(Ordering::SeqCst),
        0,
        "downstream tasks never ran"
    );
    for task in ["clean", "publish"] {
        let task = run.task(task).expect("task");
        assert_eq!(task.attempt, 0);
        assert_eq!(
            task.error.as_deref(),
            Some("not run: upstream task `extract` failed")
        );
    }
}

#[tokio::test]
async fn fatal_errors_and_panics_are_not_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flow = Flow::builder("broken")
        .task(
            Task::new("config", |_ctx| async {
                Err(TaskError::fatal("no such column `amount`"))
            })
            .with_policy(retries(5)),
        )
        .task(
            Task::new("bug", |ctx: TaskContext| async move {
                if ctx.attempt() > 0 {
                    panic!("index out of bounds");
                }
                Ok(TaskOutput::default())
            })
            .with_policy(retries(5)),
        )
        .build()
        .expect("flow");
    let run = Executor::new(store(dir.path()).await)
        .run(&flow, RunRequest::default())
        .await
        .expect("run");
    let config = run.task("config").expect("config");
    assert_eq!((config.state, config.attempt), (RunState::Failed, 1));
    let bug = run.task("bug").expect("bug");
    assert_eq!((bug.state, bug.attempt), (RunState::Failed, 1));
    assert_eq!(bug.error.as_deref(), Some("panicked: index out of bounds"));
    assert!(
        run.run
            .error
            .as_deref()
            .unwrap_or_default()
            .starts_with("2 tasks failed")
    );
}

#[tokio::test]
async fn a_slow_attempt_is_stopped_at_its_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = TaskPolicy {
        retries: 1,
        backoff: Backoff::NONE,
        timeout: Some(Duration::from_millis(50)),
    };
    let flow = Flow::builder("slow")
        .task(
            Task::new("hangs", |_ctx| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(TaskOutput::default())
            })
            .with_policy(policy),
        )
        .task(
            Task::new("slow_once", |ctx: TaskContext| async move {
                if ctx.attempt() == 1 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                Ok(TaskOutput::default())
            })
            .with_policy(policy),
        )
        .build()
        .expect("flow");
    let started = Instant::now();
    let run = Executor::new(store(dir.path()).await)
        .run(&flow, RunRequest::default())
        .await
        .expect("run");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let hangs = run.task("hangs").expect("hangs");
    assert_eq!((hangs.state, hangs.attempt), (RunState::Failed, 2));
    assert_eq!(hangs.error.as_deref(), Some("timed out after 50ms"));
    let slow_once = run.task("slow_once").expect("slow_once");
    assert_eq!(
        (slow_once.state, slow_once.attempt),
        (RunState::Completed, 2)
    );
}

/// A task that copies `raw/a.csv` into `out/a.csv`, cached on its input file and
/// configuration, and on its output folder.
fn copy_task(root: &Path, runs: &Arc<AtomicUsize>) -> Task {
    let (raw, out) = (root.join("raw"), root.join("out"));
    let (inputs, outputs) = (raw.clone(), out.clone());
    let runs = Arc::clone(runs);
    Task::new("copy", move |_ctx| {
        let (raw, out, runs) = (raw.clone(), out.clone(), Arc::clone(&runs));
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            std::fs::create_dir_all(&out)?;
            let bytes = std::fs::copy(raw.join("a.csv"), out.join("a.csv"))?;
            Ok(TaskOutput {
                bytes: Some(bytes),
                ..TaskOutput::default()
            })
        }
    })
    .with_input_fingerprint(move |ctx| {
        Some(
            Fingerprint::new()
                .text("separator", ctx.parameter("separator").unwrap_or(","))
                .path(&inputs)
                .ok()?
                .finish(),
        )
    })
    .with_output_fingerprint(move |_ctx| Some(Fingerprint::new().path(&outputs).ok()?.finish()))
}

#[tokio::test]
async fn a_task_whose_inputs_and_outputs_are_unchanged_is_skipped_as_cached() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("raw")).expect("mkdir");
    std::fs::write(dir.path().join("raw/a.csv"), "id\n1\n").expect("write");
    let runs = Arc::new(AtomicUsize::new(0));
    let flow = Flow::builder("cached")
        .task(copy_task(dir.path(), &runs))
        .task(done("after").after(["copy"]))
        .build()
        .expect("flow");
    let executor = Executor::new(store(&dir.path().join("data")).await);
    let run = |request: RunRequest| {
        let (executor, flow) = (executor.clone(), flow.clone());
        async move { executor.run(&flow, request).await.expect("run") }
    };

    let first = run(RunRequest::default()).await;
    assert_eq!(states(&first)["copy"], RunState::Completed);
    let second = run(RunRequest::default()).await;
    let copy = second.task("copy").expect("copy");
    assert_eq!(second.run.state, RunState::Completed);
    assert_eq!(copy.state, RunState::Skipped);
    let note = copy.output.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with(&format!(
            "cached: inputs and outputs unchanged since run #{}",
            first.run.id
        )),
        "{note}"
    );
    assert_eq!(
        second.task("after").map(|t| t.state),
        Some(RunState::Completed)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Outputs deleted: run again.
    std::fs::remove_dir_all(dir.path().join("out")).expect("rm");
    assert_eq!(
        states(&run(RunRequest::default()).await)["copy"],
        RunState::Completed
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(dir.path().join("out/a.csv").exists());
    assert_eq!(
        states(&run(RunRequest::default()).await)["copy"],
        RunState::Skipped
    );

    // Another input file, or another configuration: run again.
    std::fs::write(dir.path().join("raw/a.csv"), "id\n1\n2\n").expect("write");
    assert_eq!(
        states(&run(RunRequest::default()).await)["copy"],
        RunState::Completed
    );
    let semicolon = RunRequest::default().with_parameter("separator", ";");
    assert_eq!(
        states(&run(semicolon.clone()).await)["copy"],
        RunState::Completed
    );
    assert_eq!(states(&run(semicolon).await)["copy"], RunState::Skipped);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn retry_reruns_a_failed_run_from_its_failed_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let calls = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let fail_build = Arc::new(AtomicUsize::new(1));
    let task = |name: &'static str| {
        let (calls, fail_build) = (Arc::clone(&calls), Arc::clone(&fail_build));
        Task::new(name, move |ctx: TaskContext| {
            let (calls, fail_build) = (Arc::clone(&calls), Arc::clone(&fail_build));
            async move {
                *calls
                    .lock()
                    .expect("calls")
                    .entry(name.to_owned())
                    .or_default() += 1;
                assert_eq!(ctx.parameter("business_date"), Some("2026-11-24"));
                if name == "build" && fail_build.load(Ordering::SeqCst) == 1 {
                    return Err(TaskError::fatal("disk full"));
                }
                Ok(TaskOutput::default())
            }
        })
    };
    let flow = Flow::builder("resumable")
        .task(task("ingest"))
        .task(task("build").after(["ingest"]))
        .task(task("marts").after(["build"]))
        .task(task("quality").after(["ingest"]))
        .build()
        .expect("flow");
    let executor = Executor::new(store(dir.path()).await);
    let failed = executor
        .run(
            &flow,
            RunRequest::default().with_parameter("business_date", "2026-11-24"),
        )
        .await
        .expect("run");
    assert_eq!(failed.run.state, RunState::Failed);
    assert_eq!(states(&failed)["marts"], RunState::Cancelled);

    fail_build.store(0, Ordering::SeqCst);
    let retried = executor.retry(&flow, failed.run.id).await.expect("retry");
    assert_eq!(
        retried.run.state,
        RunState::Completed,
        "{:?}",
        retried.run.error
    );
    assert_eq!(retried.run.retry_of, Some(failed.run.id));
    assert_eq!(retried.run.parameters, failed.run.parameters);
    assert_eq!(
        states(&retried),
        BTreeMap::from([
            ("ingest", RunState::Skipped),
            ("build", RunState::Completed),
            ("marts", RunState::Completed),
            ("quality", RunState::Skipped),
        ])
    );
    assert_eq!(
        retried.task("ingest").and_then(|t| t.output.note.clone()),
        Some(format!("reused: completed in run #{}", failed.run.id))
    );
    let calls = calls.lock().expect("calls").clone();
    assert_eq!(
        calls,
        BTreeMap::from([
            ("build".to_owned(), 2),
            ("ingest".to_owned(), 1),
            ("marts".to_owned(), 1),
            ("quality".to_owned(), 1),
        ])
    );

    let again = executor
        .retry(&flow, retried.run.id)
        .await
        .expect_err("completed");
    assert!(matches!(
        again,
        RuntimeError::NotRetryable {
            state: RunState::Completed,
            ..
        }
    ));
    let other = Flow::builder("other")
        .task(done("x"))
        .build()
        .expect("flow");
    let mismatch = executor
        .retry(&other, failed.run.id)
        .await
        .expect_err("other flow");
    assert!(
        mismatch
            .to_string()
            .contains("is a run of flow `resumable`"),
        "{mismatch}"
    );
}

async fn runs_of_a_gone_process_are_marked_crashed_when_the_store_opens(stores: TestStore) {
    let first = stores.open().await;
    let new_run = |owner: ProcessId| NewFlowRun {
        flow: "daily".to_owned(),
        deployment: Some("bank-daily".to_owned()),
        parameters: BTreeMap::new(),
        state: RunState::Pending,
        retry_of: None,
        owner,
    };
    let dead = first
        .create_flow_run(new_run(gone_process()))
        .await
        .expect("run");
    first
        .set_flow_run_state(dead, RunState::Running, None)
        .await
        .expect("running");
    let tasks = first
        .create_task_runs(dead, vec!["a".into(), "b".into(), "c".into()])
        .await
        .expect("task runs");
    for (task, state) in [
        (tasks[0], RunState::Completed),
        (tasks[1], RunState::Running),
    ] {
        let change = TaskRunChange {
            state,
            attempt: Some(1),
            ..TaskRunChange::default()
        };
        first.update_task_run(task, change).await.expect("update");
    }
    let alive = first
        .create_flow_run(new_run(ProcessId::current()))
        .await
        .expect("run");
    first
        .set_flow_run_state(alive, RunState::Running, None)
        .await
        .expect("running");
    let elsewhere = ProcessId {
        host: "another-host".to_owned(),
        pid: 1,
    };
    let remote = first
        .create_flow_run(new_run(elsewhere))
        .await
        .expect("run");
    drop(first);

    let reopened = stores.open().await;
    let crashed = reopened.get_run(dead).await.expect("run");
    assert_eq!(crashed.run.state, RunState::Crashed);
    assert!(crashed.run.ended_at.is_some());
    let error = crashed.run.error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("pid {} on", u32::MAX)) && error.contains("is gone"),
        "{error}"
    );
    assert_eq!(
        states(&crashed),
        BTreeMap::from([
            ("a", RunState::Completed),
            ("b", RunState::Crashed),
            ("c", RunState::Cancelled),
        ])
    );
    for live in [alive, remote] {
        let state = reopened.get_run(live).await.expect("run").run.state;
        assert!(state.is_active(), "a live run stays as it was: {state}");
    }

    // Another host's run is judged by its heartbeat.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let impatient = stores
        .open_with(StoreOptions {
            stale_after: Duration::from_millis(20),
        })
        .await;
    let remote = impatient.get_run(remote).await.expect("run").run;
    assert_eq!(remote.state, RunState::Crashed);
    assert!(
        remote
            .error
            .unwrap_or_default()
            .contains("gave no sign of life"),
        "crashed for its heartbeat"
    );
    // The crashed run can be retried.
    let flow = Flow::builder("daily")
        .task(done("a"))
        .task(done("b").after(["a"]))
        .task(done("c").after(["b"]))
        .build()
        .expect("flow");
    let retried = Executor::new(reopened)
        .retry(&flow, dead)
        .await
        .expect("retry");
    assert_eq!(retried.run.state, RunState::Completed);
    assert_eq!(states(&retried)["a"], RunState::Skipped);
    assert_eq!(retried.run.deployment.as_deref(), Some("bank-daily"));
}

/// An exclusive flow whose task reports its run and waits for `release`.
fn held_flow(started: mpsc::UnboundedSender<i64>, release: Arc<Notify>) -> Flow {
    Flow::builder("warehouse")
        .exclusive()
        .task(Task::new("write", move |ctx: TaskContext| {
            let (started, release) = (started.clone(), Arc::clone(&release));
            async move {
                let _ = started.send(ctx.run_id().0);
                release.notified().await;
                Ok(TaskOutput::default())
            }
        }))
        .build()
        .expect("flow")
}

async fn a_second_run_of_an_exclusive_flow_is_refused_or_waits(stores: TestStore) {
    let executor = Executor::new(stores.open().await);
    let (started, mut running) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let flow = held_flow(started, Arc::clone(&release));
    let first = tokio::spawn({
        let (executor, flow) = (executor.clone(), flow.clone());
        async move { executor.run(&flow, RunRequest::default()).await }
    });
    let holder = running.recv().await.expect("the first run started");

    let refused = executor
        .run(&flow, RunRequest::default())
        .await
        .expect_err("refused");
    assert!(
        matches!(&refused, RuntimeError::LockHeld { holder: h, .. } if h.0 == holder),
        "{refused}"
    );
    let message = refused.to_string();
    assert!(
        message.contains(&format!("run #{holder} (pid {}", std::process::id())),
        "{message}"
    );
    let cancelled = executor
        .store()
        .list_runs(RunFilter {
            state: Some(RunState::Cancelled),
            ..RunFilter::default()
        })
        .await
        .expect("runs");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].error.as_deref(), Some(message.as_str()));

    let timed_out = executor
        .clone()
        .with_lock_wait(LockWait::Wait(Duration::from_millis(50)))
        .run(&flow, RunRequest::default())
        .await
        .expect_err("timed out");
    assert!(
        matches!(timed_out, RuntimeError::LockTimeout { .. }),
        "{timed_out}"
    );

    let waiting = tokio::spawn({
        let executor = executor
            .clone()
            .with_lock_wait(LockWait::Wait(Duration::from_secs(10)));
        let flow = flow.clone();
        async move { executor.run(&flow, RunRequest::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.notify_one();
    let first = first.await.expect("join").expect("first run");
    assert_eq!(first.run.state, RunState::Completed);
    let second = running.recv().await.expect("the waiting run started");
    assert!(second > holder);
    release.notify_one();
    let waited = waiting.await.expect("join").expect("waiting run");
    assert_eq!(waited.run.state, RunState::Completed);
    assert!(
        waited.run.started_at >= first.run.ended_at,
        "ran after the first ended"
    );
}

async fn the_lock_of_a_gone_process_is_taken_over(stores: TestStore) {
    let store = stores.open().await;
    let dead = store
        .create_flow_run(NewFlowRun {
            flow: "warehouse".to_owned(),
            deployment: None,
            parameters: BTreeMap::new(),
            state: RunState::Running,
            retry_of: None,
            owner: gone_process(),
        })
        .await
        .expect("run");
    store
        .acquire_lock("warehouse", dead, &gone_process(), LockWait::Refuse)
        .await
        .expect("the lock is free");
    let flow = Flow::builder("warehouse")
        .exclusive()
        .task(done("write"))
        .build()
        .expect("flow");
    let executor = Executor::new(store.clone());
    let run = executor
        .run(&flow, RunRequest::default())
        .await
        .expect("taken over");
    assert_eq!(run.run.state, RunState::Completed);
    let old = store.get_run(dead).await.expect("run").run;
    assert_eq!(old.state, RunState::Crashed);
    let error = old.error.unwrap_or_default();
    assert!(
        error.starts_with("crashed: its process (pid") && error.ends_with("is gone"),
        "{error}"
    );
    let lines = store
        .logs(LogScope::FlowRun(run.run.id), 0, 100)
        .await
        .expect("logs");
    assert!(
        lines
            .iter()
            .any(|l| l.message
                == format!("took over the lock of run #{dead}, whose process is gone")),
        "{lines:?}"
    );
    // The lock was released at the end: the next run takes it at once.
    let next = executor
        .run(&flow, RunRequest::default())
        .await
        .expect("next run");
    assert_eq!(next.run.state, RunState::Completed);
}

async fn the_store_lists_runs_tails_logs_counts_days_and_prunes(stores: TestStore) {
    let flow = Flow::builder("chatty")
        .task(Task::new("talk", |ctx: TaskContext| async move {
            for i in 1..=5 {
                ctx.log(LogLevel::Info, format!("line {i}"));
            }
            Ok(TaskOutput::default())
        }))
        .build()
        .expect("flow");
    let failing = Flow::builder("failing")
        .task(Task::new("no", |_ctx| async {
            Err(TaskError::fatal("no"))
        }))
        .build()
        .expect("flow");
    let executor = Executor::new(stores.open().await);
    let store = executor.store().clone();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            executor
                .run(&flow, RunRequest::default())
                .await
                .expect("run")
                .run
                .id,
        );
    }
    executor
        .run(&failing, RunRequest::default())
        .await
        .expect("run");

    let all = store.list_runs(RunFilter::default()).await.expect("runs");
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let chatty = RunFilter {
        flow: Some("chatty".to_owned()),
        limit: Some(2),
        ..RunFilter::default()
    };
    let latest: Vec<_> = store
        .list_runs(chatty)
        .await
        .expect("runs")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(latest, [ids[2], ids[1]]);
    let failed = RunFilter {
        state: Some(RunState::Failed),
        ..RunFilter::default()
    };
    assert_eq!(
        store.list_runs(failed).await.expect("runs")[0].flow,
        "failing"
    );

    let detail = store.get_run(ids[0]).await.expect("run");
    let talk = detail.task("talk").expect("talk").id;
    let head = store
        .logs(LogScope::TaskRun(talk), 0, 3)
        .await
        .expect("logs");
    assert_eq!(
        head.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["line 1", "line 2", "line 3"]
    );
    let tail = store
        .logs(LogScope::TaskRun(talk), head[2].id, 100)
        .await
        .expect("logs");
    let tail: Vec<&str> = tail.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(&tail[..2], ["line 4", "line 5"]);
    let whole = store
        .logs(LogScope::FlowRun(ids[0]), 0, 100)
        .await
        .expect("logs");
    assert!(
        whole
            .iter()
            .any(|l| l.task_run_id.is_none() && l.message == "run completed")
    );

    let days = store
        .runs_per_day(Utc::now() - TimeDelta::days(1))
        .await
        .expect("days");
    let today = Utc::now().date_naive();
    let count = |state| {
        days.iter()
            .filter(|d| d.day == today && d.state == state)
            .map(|d| d.runs)
            .sum::<u64>()
    };
    assert_eq!(
        (count(RunState::Completed), count(RunState::Failed)),
        (3, 1)
    );

    // A run still going is never pruned.
    let going = store
        .create_flow_run(NewFlowRun {
            flow: "chatty".to_owned(),
            deployment: None,
            parameters: BTreeMap::new(),
            state: RunState::Running,
            retry_of: None,
            owner: ProcessId::current(),
        })
        .await
        .expect("run");
    let none = store.prune(Duration::from_secs(3600)).await.expect("prune");
    assert_eq!(none.flow_runs, 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pruned = store.prune(Duration::ZERO).await.expect("prune");
    assert_eq!(pruned.flow_runs, 4);
    assert_eq!(pruned.task_runs, 4);
    assert!(pruned.logs >= 3 * 5, "{pruned:?}");
    let left: Vec<_> = store
        .list_runs(RunFilter::default())
        .await
        .expect("runs")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [going]);
    assert!(matches!(
        store.get_run(ids[0]).await,
        Err(RuntimeError::RunNotFound(id)) if id == ids[0]
    ));
}

async fn the_dashboards_queries_read_pages_flows_failures_durations_and_backfills(
    stores: TestStore,
) {
    let executor = Executor::new(stores.open().await);
    let store = executor.store().clone();
    let ok = Flow::builder("ok").task(done("a")).build().expect("flow");
    let failing = Flow::builder("failing")
        .task(Task::new("no", |_ctx| async {
            Err(TaskError::fatal("no"))
        }))
        .build()
        .expect("flow");
    let in_backfill = |day: &str| {
        RunRequest::default()
            .with_parameter(BACKFILL_PARAMETER, "bf-1")
            .with_parameter("business_date", day)
    };
    let ids = |runs: Vec<FlowRunRecord>| runs.iter().map(|r| r.id).collect::<Vec<_>>();
    let first = executor
        .run(&ok, in_backfill("2026-11-01"))
        .await
        .expect("run");
    let second = executor
        .run(&failing, in_backfill("2026-11-02"))
        .await
        .expect("run");
    let third = executor.run(&ok, RunRequest::default()).await.expect("run");
    let (first, second, third) = (first.run.id, second.run.id, third.run.id);

    let page = RunFilter {
        limit: Some(2),
        ..RunFilter::default()
    };
    let (runs, total) = store.runs_page(page, 1).await.expect("page");
    assert_eq!((ids(runs), total), (vec![second, first], 3));
    let backfilled = RunFilter {
        backfill: Some("bf-1".to_owned()),
        ..RunFilter::default()
    };
    let (runs, total) = store.runs_page(backfilled, 0).await.expect("page");
    assert_eq!((ids(runs), total), (vec![second, first], 2));
    let latest: Vec<_> = store
        .latest_run_per_flow()
        .await
        .expect("latest")
        .iter()
        .map(|r| (r.flow.clone(), r.id))
        .collect();
    assert_eq!(
        latest,
        [("failing".to_owned(), second), ("ok".to_owned(), third)]
    );
    assert_eq!(
        ids(store.recent_failures(5).await.expect("failures")),
        [second]
    );
    let mean = store
        .mean_duration(Utc::now() - TimeDelta::hours(1))
        .await
        .expect("mean");
    assert!(
        mean.is_some_and(|m| m < Duration::from_secs(60)),
        "{mean:?}"
    );

    let backfills = store.backfills(10).await.expect("backfills");
    assert_eq!(backfills.len(), 1, "{backfills:?}");
    let backfill = &backfills[0];
    assert_eq!(
        (backfill.id.as_str(), backfill.latest_run),
        ("bf-1", second)
    );
    assert_eq!(
        backfill.states,
        BTreeMap::from([(RunState::Completed, 1), (RunState::Failed, 1)])
    );
    assert!(backfill.has_ended());
    assert_eq!(
        store.backfill("bf-1").await.expect("backfill").as_ref(),
        Some(backfill)
    );
    assert_eq!(store.backfill("nope").await.expect("none"), None);
}

#[tokio::test]
async fn a_postgres_store_is_created_once_and_refuses_a_schema_from_a_newer_bankpipe() {
    let Some(stores) = TestStore::postgres("store_versions").await else {
        return;
    };
    let first = stores.open().await;
    let run = first
        .create_flow_run(NewFlowRun {
            flow: "daily".to_owned(),
            deployment: None,
            parameters: BTreeMap::from([("as_of".to_owned(), "2026-11-25".to_owned())]),
            state: RunState::Pending,
            retry_of: None,
            owner: ProcessId::current(),
        })
        .await
        .expect("run");
    // Opened again (another process would do the same): nothing is created twice.
    let second = stores.open().await;
    let read = second.get_run(run).await.expect("run").run;
    assert_eq!(read.parameters["as_of"], "2026-11-25");
    assert_eq!(read.state, RunState::Pending);
    assert!(
        stores
            .location()
            .to_string()
            .contains("schema t_store_versions"),
        "{}",
        stores.location()
    );

    let StoreLocation::Postgres { schema, .. } = stores.location() else {
        unreachable!("a PostgreSQL store");
    };
    let client = crate::pg::try_connect().await.expect("server");
    client
        .batch_execute(&format!(
            "UPDATE \"{schema}\".store_version SET version = 99"
        ))
        .await
        .expect("newer version");
    let error = RunStore::open_at(stores.location(), StoreOptions::default())
        .await
        .expect_err("a newer schema");
    let message = error.to_string();
    assert!(
        message.contains("schema version 99") && message.contains(&schema),
        "{message}"
    );
}

on_both_stores!(
    runs_of_a_gone_process_are_marked_crashed_when_the_store_opens,
    a_second_run_of_an_exclusive_flow_is_refused_or_waits,
    the_lock_of_a_gone_process_is_taken_over,
    the_store_lists_runs_tails_logs_counts_days_and_prunes,
    the_dashboards_queries_read_pages_flows_failures_durations_and_backfills,
);
