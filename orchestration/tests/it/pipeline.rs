//! The pipeline as a flow of the runtime (`bankpipe run`, `retry`): tasks recorded in
//! the run store, cached stages skipped on a rerun, a failed run resumed by `retry`.

use chrono::NaiveDate;
use orchestration::DataLayout;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::pipeline::{PipelineSettings, daily_flow};
use orchestration::run_alerts::alert_run;
use orchestration::runtime::{Executor, FlowRunDetail, RunRequest, RunState, RunStore};
use orchestration::stages::Console;

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

fn states(detail: &FlowRunDetail) -> Vec<(String, RunState)> {
    detail
        .tasks
        .iter()
        .map(|t| (t.task.clone(), t.state))
        .collect()
}

fn owned(tasks: &[(&str, RunState)]) -> Vec<(String, RunState)> {
    tasks.iter().map(|(t, s)| (t.to_string(), *s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_skips_the_stages_whose_inputs_did_not_change() {
    let dir = tempfile::tempdir().expect("dir");
    let settings = small_bank(dir.path());
    let first = run(&settings).await;
    assert_eq!(first.run.state, RunState::Completed, "{first:?}");
    assert_eq!(
        states(&first),
        owned(&[
            ("ingest", RunState::Completed),
            ("transform", RunState::Completed),
            ("quality", RunState::Completed),
        ])
    );
    let ingest = first.task("ingest").expect("ingest");
    assert!(ingest.output.rows_in > ingest.output.rows_out, "{ingest:?}");
    assert!(ingest.output.rows_out > Some(1000), "{ingest:?}");
    let layout = DataLayout::new(dir.path());
    let warehouse = std::fs::read_dir(layout.transformed("fact_transactions").join("_delta_log"))
        .expect("log")
        .count();

    let second = run(&settings).await;
    assert_eq!(
        states(&second),
        owned(&[
            ("ingest", RunState::Skipped),
            ("transform", RunState::Skipped),
            ("quality", RunState::Completed),
        ])
    );
    let note = second.task("ingest").and_then(|t| t.output.note.clone());
    assert!(note.is_some_and(|n| n.starts_with("cached")), "{second:?}");
    let after = std::fs::read_dir(layout.transformed("fact_transactions").join("_delta_log"))
        .expect("log")
        .count();
    assert_eq!(after, warehouse, "no new commit to the warehouse");

    // `force` runs everything again.
    let forced = PipelineSettings {
        force: true,
        ..settings.clone()
    };
    let third = run(&forced).await;
    assert_eq!(
        states(&third),
        owned(&[
            ("ingest", RunState::Completed),
            ("transform", RunState::Completed),
            ("quality", RunState::Completed),
        ])
    );
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
        owned(&[
            ("ingest", RunState::Completed),
            ("transform", RunState::Completed),
            ("quality", RunState::Failed),
        ])
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

    // The check is fixed; the retry reuses ingest and transform.
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
        owned(&[
            ("ingest", RunState::Skipped),
            ("transform", RunState::Skipped),
            ("quality", RunState::Completed),
        ])
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
