//! The pipeline as a flow of the runtime (`bankpipe run`, `retry`): a task per entity
//! after its parents, a task per warehouse table after the entities and tables it
//! reads, tasks recorded in the run store, cached stages skipped on a rerun, a failed
//! run resumed by `retry` at the task that failed.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use contract::Entity;
use orchestration::DataLayout;
use orchestration::check::{CheckOptions, check_connections};
use orchestration::generate::{GenerateOptions, generate};
use orchestration::maintain::{MaintainOptions, maintain};
use orchestration::pipeline::{
    INGEST_SUMMARY_TASK, PipelineSettings, daily_flow, ingest_task_name, table_task_name,
};
use orchestration::run_alerts::alert_run;
use orchestration::runtime::{Executor, FlowRunDetail, LogScope, RunRequest, RunState, RunStore};
use orchestration::stages::Console;
use orchestration::transform::catalog::TABLES;
use storage::delta;

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
    let entities = Entity::ALL.map(ingest_task_name);
    let tables = TABLES.iter().map(|t| table_task_name(t.name));
    let mut states: BTreeMap<String, RunState> = [
        INGEST_SUMMARY_TASK,
        "transform.reconcile",
        "transform.headline",
        "quality",
    ]
    .map(String::from)
    .into_iter()
    .chain(entities)
    .chain(tables)
    .map(|task| (task, all))
    .collect();
    for (task, state) in except {
        states.insert((*task).to_owned(), *state);
    }
    states
}

/// Why task `task` of the run failed (empty when it did not).
fn task_error(detail: &FlowRunDetail, task: &str) -> String {
    detail
        .task(task)
        .and_then(|t| t.error.clone())
        .unwrap_or_default()
}

/// The commits of the warehouse table `table`.
fn commits(layout: &DataLayout, table: &str) -> usize {
    let folder = layout
        .transformed(table)
        .folder()
        .expect("local")
        .to_owned();
    std::fs::read_dir(folder.join("_delta_log"))
        .expect("log")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
        .count()
}

#[tokio::test]
async fn the_flow_has_a_task_per_entity_and_table_after_what_it_reads() {
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
    assert_eq!(
        dependencies.len(),
        Entity::ALL.len() + TABLES.len() + 4,
        "{dependencies:?}"
    );

    // Each entity after the entities it refers to.
    for root in ["clients", "products", "fx_rates"] {
        assert!(after(&format!("ingest.{root}")).is_empty(), "{root}");
    }
    assert_eq!(
        after("ingest.accounts"),
        ["ingest.products", "ingest.clients"]
    );
    assert_eq!(after("ingest.transactions"), ["ingest.accounts"]);
    assert_eq!(after("ingest.fraud_reports"), ["ingest.transactions"]);
    for entity in Entity::ALL {
        let parents: Vec<String> = entity
            .spec()
            .references
            .iter()
            .map(|r| ingest_task_name(r.parent))
            .collect();
        for parent in &parents {
            assert!(
                after(&ingest_task_name(entity)).contains(&parent.as_str()),
                "{entity} after {parent}"
            );
        }
    }
    let entities = Entity::ALL.map(ingest_task_name);
    assert_eq!(after(INGEST_SUMMARY_TASK), entities);

    // Each table after the entities and the tables it reads.
    assert_eq!(after("transform.dim_clients"), ["ingest.clients"]);
    assert_eq!(
        after("transform.dim_satisfaction"),
        [
            "ingest.satisfaction",
            "transform.dim_clients",
            "transform.dim_products"
        ]
    );
    // The run's setup (report window, FX rates) reads four entities.
    let setup = [
        "ingest.transactions",
        "ingest.fx_rates",
        "ingest.loans",
        "ingest.payments",
    ];
    assert_eq!(
        after("transform.fact_transactions"),
        [
            &setup[..],
            &[
                "transform.dim_accounts",
                "transform.dim_clients",
                "transform.dim_products",
                "transform.fact_fraudes"
            ]
        ]
        .concat()
    );
    assert!(after("transform.fact_fraudes").contains(&"ingest.fraud_reports"));
    assert_eq!(
        after("transform.mart_fraud_daily"),
        ["transform.fact_fraudes"],
        "reads no entity: after the fact it reads"
    );
    assert!(after("transform.mart_client_monthly").contains(&"transform.fact_revenue"));
    assert_eq!(
        after("transform.mart_loan_portfolio"),
        setup,
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
    for table in &TABLES {
        for entity in table.inputs() {
            assert!(
                after(&table_task_name(table.name)).contains(&ingest_task_name(entity).as_str()),
                "{} after ingest.{entity}",
                table.name
            );
        }
    }
    assert_eq!(
        after("transform.reconcile"),
        [
            "transform.fact_transactions",
            "transform.fact_loans",
            "transform.fact_payments",
            INGEST_SUMMARY_TASK
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
    let ingest = first.task(INGEST_SUMMARY_TASK).expect("ingest");
    assert!(ingest.output.rows_in > ingest.output.rows_out, "{ingest:?}");
    assert!(ingest.output.rows_out > Some(1000), "{ingest:?}");
    let quarantined = ingest
        .output
        .rows_in
        .zip(ingest.output.rows_out)
        .map(|(read, accepted)| read - accepted);
    assert_eq!(
        ingest.output.note,
        quarantined.map(|q| format!("{} entities, {q} rows quarantined", Entity::ALL.len()))
    );
    let transactions = first.task("ingest.transactions").expect("transactions");
    assert!(
        transactions.output.rows_out > Some(1000),
        "{transactions:?}"
    );
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

    // Every entity and table cached; the summary, counted from the tables, still
    // matches the generator's counts.
    let second = run(&settings).await;
    let cached: Vec<String> = Entity::ALL
        .map(ingest_task_name)
        .into_iter()
        .chain(TABLES.iter().map(|t| table_task_name(t.name)))
        .collect();
    let skipped: Vec<(&str, RunState)> = cached
        .iter()
        .map(|t| (t.as_str(), RunState::Skipped))
        .collect();
    assert_eq!(states(&second), expected(RunState::Completed, &skipped));
    for task in ["ingest.transactions", "transform.mart_client_monthly"] {
        let note = second.task(task).and_then(|t| t.output.note.clone());
        assert!(
            note.is_some_and(|n| n.starts_with("cached")),
            "{task}: {second:?}"
        );
    }
    let recounted = second.task(INGEST_SUMMARY_TASK).expect("summary");
    assert_eq!(
        (recounted.output.rows_in, recounted.output.rows_out),
        (ingest.output.rows_in, ingest.output.rows_out),
        "the same counts, from the tables"
    );
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
    let revenue = layout
        .transformed("fact_revenue")
        .folder()
        .expect("local")
        .to_owned();
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
    let error = task_error(&failed, "transform.fact_revenue");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_entity_is_resumed_with_its_parents_keys_read_back() {
    let dir = tempfile::tempdir().expect("dir");
    // The fraud reports declared as Parquet: their task cannot read them.
    let config = dir.path().join("bankpipe.toml");
    std::fs::write(&config, "[entities.fraud_reports]\nformat = \"parquet\"\n").expect("config");
    let settings = PipelineSettings {
        config_file: Some(config.clone()),
        ..small_bank(dir.path())
    };
    // A report on a transaction that does not exist.
    let reports = dir.path().join("raw").join("fraud_reports.csv");
    let mut bytes = std::fs::read(&reports).expect("reports");
    if bytes.last() != Some(&b'\n') {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(b"TX-ORPHAN-1,2026-11-20T10:00:00Z,true,planted by the test\n");
    std::fs::write(&reports, bytes).expect("orphan");

    let failed = run(&settings).await;
    assert_eq!(failed.run.state, RunState::Failed);
    let cancelled = RunState::Cancelled;
    assert_eq!(
        states(&failed),
        expected(
            RunState::Completed,
            &[
                ("ingest.fraud_reports", RunState::Failed),
                (INGEST_SUMMARY_TASK, cancelled),
                ("transform.fact_fraudes", cancelled),
                ("transform.fact_transactions", cancelled),
                ("transform.fact_revenue", cancelled),
                ("transform.dim_dates", cancelled),
                ("transform.mart_client_monthly", cancelled),
                ("transform.mart_product_performance", cancelled),
                ("transform.mart_fraud_daily", cancelled),
                ("transform.reconcile", cancelled),
                ("transform.headline", cancelled),
                ("quality", cancelled),
            ]
        ),
        "what reads the fraud reports is not run; the other entities and tables are"
    );
    let error = task_error(&failed, "ingest.fraud_reports");
    assert!(error.contains("fraud_reports"), "{error}");

    // The configuration fixed, a retry (a new flow: nothing in memory, as in another
    // process) resumes at the fraud reports, checked against the transactions' keys
    // read back from their processed table.
    std::fs::write(&config, "").expect("config");
    let store = RunStore::open_in(dir.path()).await.expect("store");
    let flow = daily_flow(settings.clone(), Console::default()).expect("flow");
    let retried = Executor::new(store.clone())
        .retry(&flow, failed.run.id)
        .await
        .expect("retry");
    assert_eq!(retried.run.state, RunState::Completed, "{retried:?}");
    let state = |task: &str| retried.task(task).map(|t| t.state);
    assert_eq!(state("ingest.transactions"), Some(RunState::Skipped));
    assert_eq!(state("ingest.fraud_reports"), Some(RunState::Completed));
    assert_eq!(state(INGEST_SUMMARY_TASK), Some(RunState::Completed));
    let task = retried.task("ingest.fraud_reports").expect("task");
    let logs = store
        .logs(LogScope::TaskRun(task.id), 0, 100)
        .await
        .expect("logs");
    assert!(
        logs.iter().any(|l| l
            .message
            .ends_with("keys of transactions read back from its processed table")),
        "{logs:?}"
    );

    let layout = DataLayout::new(dir.path());
    let quarantine = layout
        .quarantine(Entity::FraudReports)
        .location()
        .expect("table");
    let rules = |sql: &str| {
        let quarantine = quarantine.clone();
        let sql = sql.to_owned();
        async move {
            let batches = delta::query(&quarantine, &sql).await.expect("query");
            batches
                .iter()
                .flat_map(|b| {
                    let rules = cast(b.column(0), &DataType::Utf8).expect("text");
                    rules
                        .as_string::<i32>()
                        .iter()
                        .map(|r| r.unwrap_or_default().to_owned())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        rules("SELECT rule_id FROM t WHERE raw LIKE '%TX-ORPHAN-1%'").await,
        ["orphan_reference"]
    );
    // Exactly the generator's orphans and ours: every other report found its
    // transaction among the keys read back.
    let planted = orchestration::expected::read(
        &dir.path()
            .join("raw")
            .join("_generator")
            .join("expected.json"),
    )
    .expect("expected");
    let orphans = planted["fraud_reports"]
        .quarantined
        .get("orphan_reference")
        .copied()
        .unwrap_or_default();
    let found = rules("SELECT rule_id FROM t WHERE rule_id = 'orphan_reference'").await;
    assert_eq!(found.len() as u64, orphans + 1);
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

/// The S3 stand-in of `BANKPIPE_S3_ENDPOINT` with its bucket `bankpipe-test` created;
/// `None` (the test skipped, loudly) without one, unless `BANKPIPE_REQUIRE_S3=1`.
async fn s3_stand_in() -> Option<String> {
    let required = std::env::var("BANKPIPE_REQUIRE_S3").as_deref() == Ok("1");
    let Ok(endpoint) = std::env::var("BANKPIPE_S3_ENDPOINT") else {
        assert!(
            !required,
            "BANKPIPE_REQUIRE_S3=1 but BANKPIPE_S3_ENDPOINT is not set"
        );
        eprintln!("SKIPPED: no S3 stand-in (BANKPIPE_S3_ENDPOINT is not set)");
        return None;
    };
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    // The stand-in takes an unsigned request; it answers 409 when the bucket exists.
    match reqwest::Client::new()
        .put(format!("{endpoint}/bankpipe-test"))
        .send()
        .await
    {
        Ok(answer) if answer.status().is_success() || answer.status().as_u16() == 409 => {
            Some(endpoint)
        }
        other => {
            assert!(!required, "no S3 stand-in at {endpoint}: {other:?}");
            eprintln!("SKIPPED: no S3 stand-in at {endpoint}: {other:?}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_runs_with_its_lake_in_s3_and_maintain_finds_its_tables_there() {
    let Some(endpoint) = s3_stand_in().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = small_bank(dir.path());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let lake = format!("s3://bankpipe-test/flow-{}-{nanos}", std::process::id());
    let config = dir.path().join("bankpipe.toml");
    std::fs::write(
        &config,
        format!(
            "[lake]\nlocation = \"{lake}\"\noptions = {{ aws_endpoint = \"{endpoint}\", \
             aws_allow_http = \"true\", aws_region = \"us-east-1\", \
             aws_access_key_id = \"test\", aws_secret_access_key = \"test\" }}\n"
        ),
    )
    .expect("config");
    settings.config_file = Some(config);

    let detail = run(&settings).await;
    let failed: Vec<_> = detail
        .tasks
        .iter()
        .filter(|t| t.state != RunState::Completed)
        .map(|t| (t.task.clone(), t.state, t.error.clone()))
        .collect();
    assert_eq!(detail.run.state, RunState::Completed, "{failed:?}");
    for layer in ["processed", "quarantine", "transformed"] {
        assert!(
            !dir.path().join(layer).exists(),
            "no {layer} folder in the data folder"
        );
    }
    let layout = settings
        .config()
        .expect("config")
        .layout(dir.path())
        .expect("layout");
    let facts = layout
        .transformed("fact_transactions")
        .location()
        .expect("location");
    assert!(facts.url().as_str().starts_with(&lake), "{}", facts.url());
    assert!(delta::count_rows(&facts).await.expect("facts") > 1000);
    let reports = dir.path().join("monitoring/reports");
    let report = std::fs::read_dir(&reports)
        .expect("the report stays in the data folder")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .expect("a JSON report");
    let text = std::fs::read_to_string(report.path()).expect("report");
    assert!(text.contains("fact_transactions") && text.contains("quarantine_transactions"));

    let checks = check_connections(&CheckOptions {
        layout: layout.clone(),
        database_url: None,
        schema: "bank_dw".to_owned(),
        run_store: None,
        attempts: 1,
        first_backoff: std::time::Duration::from_millis(1),
    })
    .await;
    let lake_check = checks
        .iter()
        .find(|c| c.check == "lake location")
        .expect("");
    assert!(
        lake_check.ok && lake_check.target.starts_with(&lake),
        "{lake_check:?}"
    );
    let facts_check = checks
        .iter()
        .find(|c| c.target == "transformed/fact_transactions")
        .expect("the facts' check");
    assert!(
        facts_check.ok && facts_check.detail.contains("rows"),
        "{facts_check:?}"
    );

    let tables = maintain(&MaintainOptions {
        layout,
        retention: std::time::Duration::from_secs(168 * 3600),
        dry_run: true,
        run_id: "maint-s3".to_owned(),
    })
    .await
    .expect("maintain");
    let found: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    for table in [
        "monitoring/metrics",
        "processed/transactions",
        "quarantine/transactions",
        "transformed/fact_transactions",
        "transformed/marts/mart_client_monthly",
    ] {
        assert!(found.contains(&table), "{table} in {found:?}");
    }
}
