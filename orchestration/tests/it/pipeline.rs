//! The pipeline as a flow of the runtime (`bankpipe run`, `retry`): a task per
//! warehouse table with its dependencies, tasks recorded in the run store, cached
//! stages skipped on a rerun, a failed run resumed by `retry` at the task that failed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use orchestration::DataLayout;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::pipeline::{PipelineSettings, daily_flow, table_task_name};
use orchestration::run_alerts::alert_run;
use orchestration::runtime::{Executor, FlowRunDetail, RunRequest, RunState, RunStore};
use orchestration::stages::Console;
use orchestration::transform::catalog::TABLES;

const AS_OF: &str = "2026-11-24";

/// Generates a small bank under `<dir>/raw` and returns the settings of a run on it.
fn small_bank(dir: &std::path::Path) -> PipelineSettings {
    let as_of: NaiveDate = AS_OF.parse().expect("date");
    generate(&GenerateOptions {
        out: dir.join("raw"),
        scale: 0.003,
        seed: 5,
        defects: 0.01,
        end_date: as_of,
    })
    .expect("generate");
    PipelineSettings::new(dir.to_owned(), as_of)
}

async fn run(settings: &PipelineSettings) -> FlowRunDetail {
    let store = RunStore::open_in(&settings.data).await.expect("store");
    let flow = daily_flow(settings.clone(), Console::default()).expect("flow");
    let request = RunRequest {
        parameters: settings.parameters(),
        deployment: None,
    };
    Executor::new(store).run(&flow, request).await.expect("run")
}

fn states(detail: &FlowRunDetail) -> BTreeMap<String, RunState> {
    detail
        .tasks
        .iter()
        .map(|t| (t.task.clone(), t.state))
        .collect()
}

/// Every task of the flow (without PostgreSQL) in state `all`, but those of `except`.
fn expected(all: RunState, except: &[(&str, RunState)]) -> BTreeMap<String, RunState> {
    let tables = TABLES.iter().map(|t| table_task_name(t.name));
    let mut states: BTreeMap<String, RunState> = [
        "ingest",
        "transform.reconcile",
        "transform.headline",
        "quality",
    ]
    .map(String::from)
    .into_iter()
    .chain(tables)
    .map(|task| (task, all))
    .collect();
    for (task, state) in except {
        states.insert((*task).to_owned(), *state);
    }
    states
}

/// The commits of the warehouse table `table`.
fn commits(layout: &DataLayout, table: &str) -> usize {
    std::fs::read_dir(layout.transformed(table).join("_delta_log"))
        .expect("log")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
        .count()
}

#[tokio::test]
async fn the_flow_has_a_task_per_table_after_the_tables_it_reads() {
    let dir = tempfile::tempdir().expect("dir");
    let settings = PipelineSettings::new(dir.path().to_owned(), AS_OF.parse().expect("date"));
    let flow = daily_flow(settings, Console::default()).expect("flow");
    let dependencies: BTreeMap<&str, Vec<&str>> = flow
        .tasks()
        .iter()
        .map(|t| {
            (
                t.name(),
                t.dependencies().iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let after = |task: &str| dependencies.get(task).cloned().unwrap_or_default();
    assert_eq!(dependencies.len(), TABLES.len() + 4, "{dependencies:?}");
    assert_eq!(after("transform.dim_clients"), ["ingest"]);
    assert_eq!(
        after("transform.dim_satisfaction"),
        ["ingest", "transform.dim_clients", "transform.dim_products"]
    );
    assert_eq!(
        after("transform.fact_transactions"),
        [
            "ingest",
            "transform.dim_accounts",
            "transform.dim_clients",
            "transform.dim_products",
            "transform.fact_fraudes"
        ]
    );
    assert_eq!(
        after("transform.mart_fraud_daily"),
        ["ingest", "transform.fact_fraudes"]
    );
    assert!(after("transform.mart_client_monthly").contains(&"transform.fact_revenue"));
    assert_eq!(
        after("transform.mart_loan_portfolio"),
        ["ingest"],
        "the portfolio reads the loans' months, not the facts"
    );
    for fact in [
        "fact_transactions",
        "fact_loans",
        "fact_payments",
        "fact_revenue",
    ] {
        assert!(
            after("transform.dim_dates").contains(&table_task_name(fact).as_str()),
            "{fact}"
        );
    }
    assert_eq!(
        after("transform.reconcile"),
        [
            "transform.fact_transactions",
            "transform.fact_loans",
            "transform.fact_payments"
        ]
    );
    let headline = after("transform.headline");
    for table in &TABLES {
        assert!(
            headline.contains(&table_task_name(table.name).as_str()),
            "{}",
            table.name
        );
    }
    assert!(headline.contains(&"transform.reconcile"));
    assert_eq!(after("quality"), ["transform.headline"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_skips_the_stages_whose_inputs_did_not_change() {
    let dir = tempfile::tempdir().expect("dir");
    // The demo's run: the generator's counts checked, the facts reconciled.
    let settings = PipelineSettings {
        demo: true,
        ..small_bank(dir.path())
    };
    let first = run(&settings).await;
    assert_eq!(first.run.state, RunState::Completed, "{first:?}");
    assert_eq!(states(&first), expected(RunState::Completed, &[]));
    let ingest = first.task("ingest").expect("ingest");
    assert!(ingest.output.rows_in > ingest.output.rows_out, "{ingest:?}");
    assert!(ingest.output.rows_out > Some(1000), "{ingest:?}");
    let reconcile = first.task("transform.reconcile").expect("reconcile");
    let facts = first.task("transform.fact_transactions").expect("fact");
    assert!(facts.output.rows_out > Some(1000), "{facts:?}");
    assert!(
        reconcile.output.rows_out > facts.output.rows_out,
        "{reconcile:?}"
    );
    assert_eq!(reconcile.output.note.as_deref(), Some("3 facts reconciled"));
    let layout = DataLayout::new(dir.path());
    let warehouse = commits(&layout, "fact_transactions");

    let second = run(&settings).await;
    let tables: Vec<(String, RunState)> = TABLES
        .iter()
        .map(|t| (table_task_name(t.name), RunState::Skipped))
        .collect();
    let skipped: Vec<(&str, RunState)> = tables
        .iter()
        .map(|(t, s)| (t.as_str(), *s))
        .chain([("ingest", RunState::Skipped)])
        .collect();
    assert_eq!(states(&second), expected(RunState::Completed, &skipped));
    for task in ["ingest", "transform.mart_client_monthly"] {
        let note = second.task(task).and_then(|t| t.output.note.clone());
        assert!(
            note.is_some_and(|n| n.starts_with("cached")),
            "{task}: {second:?}"
        );
    }
    assert_eq!(
        commits(&layout, "fact_transactions"),
        warehouse,
        "no new commit to the warehouse"
    );

    // `force` runs everything again.
    let forced = PipelineSettings {
        force: true,
        ..settings.clone()
    };
    let third = run(&forced).await;
    assert_eq!(states(&third), expected(RunState::Completed, &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_table_is_resumed_from_its_task() {
    let dir = tempfile::tempdir().expect("dir");
    let settings = small_bank(dir.path());
    let layout = DataLayout::new(dir.path());
    // A file where `fact_revenue`'s table goes: its task cannot write it.
    let revenue = layout.transformed("fact_revenue");
    std::fs::create_dir_all(revenue.parent().expect("parent")).expect("mkdir");
    std::fs::write(&revenue, "in the way").expect("file");
    let failed = run(&settings).await;
    assert_eq!(failed.run.state, RunState::Failed);
    let cancelled = RunState::Cancelled;
    assert_eq!(
        states(&failed),
        expected(
            RunState::Completed,
            &[
                ("transform.fact_revenue", RunState::Failed),
                ("transform.dim_dates", cancelled),
                ("transform.mart_client_monthly", cancelled),
                ("transform.mart_product_performance", cancelled),
                ("transform.headline", cancelled),
                ("quality", cancelled),
            ]
        ),
        "what reads fact_revenue is not run; the rest is"
    );
    let error = failed
        .task("transform.fact_revenue")
        .and_then(|t| t.error.clone())
        .unwrap_or_default();
    assert!(error.contains("fact_revenue"), "{error}");
    let facts = commits(&layout, "fact_transactions");

    // The way cleared, the retry resumes at fact_revenue.
    std::fs::remove_file(&revenue).expect("remove");
    let store = RunStore::open_in(dir.path()).await.expect("store");
    let flow = daily_flow(settings.clone(), Console::default()).expect("flow");
    let retried = Executor::new(store)
        .retry(&flow, failed.run.id)
        .await
        .expect("retry");
    assert_eq!(retried.run.state, RunState::Completed, "{retried:?}");
    let reused: Vec<(&str, RunState)> = failed
        .tasks
        .iter()
        .filter(|t| t.state == RunState::Completed)
        .map(|t| (t.task.as_str(), RunState::Skipped))
        .collect();
    assert_eq!(
        states(&retried),
        expected(RunState::Completed, &reused),
        "the completed tasks reused, the others run"
    );
    assert_eq!(commits(&layout, "fact_transactions"), facts);
    assert_eq!(commits(&layout, "fact_revenue"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_retried_from_its_failed_task() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("bankpipe.toml");
    let alerts = dir.path().join("alerts.jsonl");
    let failing = format!(
        "[[quality.checks]]\nid = \"too_many_transactions\"\n\
         table = \"fact_transactions\"\nseverity = \"error\"\n\
         volume = {{ max = 10 }}\n\n\
         [[quality.alerts.channels]]\nmin_severity = \"error\"\n\
         jsonl = {{ path = \"{}\" }}\n",
        alerts.display()
    );
    std::fs::write(&config, &failing).expect("config");
    let settings = PipelineSettings {
        config_file: Some(config.clone()),
        ..small_bank(dir.path())
    };
    let failed = run(&settings).await;
    assert_eq!(failed.run.state, RunState::Failed);
    assert_eq!(
        states(&failed),
        expected(RunState::Completed, &[("quality", RunState::Failed)])
    );
    let quality = failed.task("quality").expect("quality");
    assert_eq!(quality.attempt, 1, "a failed check is not retried");
    assert!(
        quality
            .error
            .as_deref()
            .is_some_and(|e| e.contains("error-level quality checks failed")),
        "{quality:?}"
    );

    // The failed task is told through the alert channels, once.
    let layout = DataLayout::new(dir.path());
    let alerting = settings.config().expect("config").quality.alerts;
    let sent = alert_run(&failed, &alerting, &layout).await.expect("alert");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        task_alerts(&alerts),
        [("task.daily.quality".into(), "failing".into())]
    );
    alert_run(&failed, &alerting, &layout).await.expect("again");
    assert_eq!(
        task_alerts(&alerts).len(),
        1,
        "the same failure is not told twice"
    );

    // The check is fixed; the retry reuses ingest and the warehouse.
    std::fs::write(&config, failing.replace("max = 10 ", "max = 100000000 ")).expect("config");
    let store = RunStore::open_in(dir.path()).await.expect("store");
    let stored = store.get_run(failed.run.id).await.expect("stored run");
    let again = PipelineSettings::from_parameters(&stored.run.parameters).expect("settings");
    assert_eq!(again, settings, "the run's parameters rebuild its settings");
    let flow = daily_flow(again, Console::default()).expect("flow");
    let retried = Executor::new(store)
        .retry(&flow, failed.run.id)
        .await
        .expect("retry");
    assert_eq!(retried.run.state, RunState::Completed, "{retried:?}");
    assert_eq!(retried.run.retry_of, Some(failed.run.id));
    assert_eq!(
        states(&retried),
        expected(RunState::Skipped, &[("quality", RunState::Completed)])
    );
    alert_run(&retried, &alerting, &layout)
        .await
        .expect("recovery");
    assert_eq!(
        task_alerts(&alerts),
        [
            ("task.daily.quality".into(), "failing".into()),
            ("task.daily.quality".into(), "recovered".into())
        ]
    );
}

/// The task alerts in the JSON-lines file: (check, kind).
fn task_alerts(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|alert| {
            alert["check"]
                .as_str()
                .is_some_and(|c| c.starts_with("task."))
        })
        .map(|alert| {
            (
                alert["check"].as_str().unwrap_or_default().to_owned(),
                alert["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}
