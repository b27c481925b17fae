//! The bankpipe pipeline as a flow of the [`runtime`](crate::runtime), run by `bankpipe
//! run`, `demo`, `retry`, the scheduler and the dashboard alike:
//!
//! - `ingest`;
//! - one task per warehouse table, `transform.<table>` (`transform.dim_clients`,
//!   `transform.fact_transactions`, `transform.mart_client_monthly`, …), each after
//!   `ingest` and the tasks of the tables it reads (see the
//!   [catalogue](crate::transform::catalog)): tables that do not read each other build
//!   at the same time;
//! - `transform.reconcile`, after the facts it reconciles with their processed rows
//!   (the run fails unless they do);
//! - `transform.headline`, after every table and the reconciliation: tells the
//!   warehouse's tables, the headline figures and the fraud rules' scores;
//! - `quality`, then `publish_postgres` (when the `[postgres]` sink is on).
//!
//! A run's [`PipelineSettings`] are its parameters, stored with the run
//! ([`PipelineSettings::parameters`]), so a failed run can be retried later from the
//! run store alone ([`PipelineSettings::from_parameters`]).
//!
//! - `ingest` and the table tasks are cached: each fingerprints its inputs (the raw
//!   folder and the ingestion mapping; for a table, the processed entities and the
//!   warehouse tables it reads, the model's settings and the business date) and its
//!   outputs (the layers it writes; the table), and is skipped when neither changed
//!   since it last completed — so a rerun after a failure resumes at the table that
//!   failed. `force` turns caching off.
//! - The table tasks of a run share one [`Transform`]: the report window and daily FX
//!   rates are computed once, and at most [`TRANSFORM_LANES`] tables build at once,
//!   each in a DataFusion session holding at most `memory_limit / TRANSFORM_LANES`
//!   bytes before spilling, so that together they stay within the run's
//!   `memory_limit` whatever the executor's concurrency.
//! - `transform.reconcile`, `transform.headline` and `quality` always run: they check
//!   and tell the warehouse as it is; `quality` records the run's metrics and judges
//!   them.
//! - `publish_postgres` is retried on failure (a server restarting, a lost
//!   connection), three attempts with backoff.
//!
//! Errors in the data or the configuration fail their task at once; only failures
//! that may pass (I/O, connections, a concurrent Delta commit) are retried.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDate;
use monitoring::alerts::{AlertConfig, Channel, ChannelConfig};
use monitoring::checks::{Outcome, QualityConfig, Severity};
use storage::StorageError;
use storage::postgres::{ConnectFailure, PostgresError};

use crate::config::PipelineConfig;
use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;
use crate::quality::quarantine_share_checks;
use crate::runtime::{
    Backoff, Fingerprint, Flow, FlowRunId, Task, TaskContext, TaskError, TaskOutput, TaskPolicy,
};
use crate::stages::{
    Console, build_table, publish_to, run_ingest, run_quality, run_reconcile, tell_warehouse,
};
use crate::transform::catalog::{TABLES, Table};
use crate::transform::{DEFAULT_MEMORY_LIMIT, RECONCILED, Transform, TransformOptions};

/// The name of the pipeline's flow.
pub const DAILY_FLOW: &str = "daily";

/// The task that reconciles the facts with their processed rows.
pub const RECONCILE_TASK: &str = "transform.reconcile";

/// The task that tells the warehouse and its headline figures.
pub const HEADLINE_TASK: &str = "transform.headline";

/// How many warehouse tables build at once, each with this share of the run's
/// `memory_limit`: two, one per core of the machines bankpipe is measured on, since
/// each session already uses every core and two overlap one's single-threaded
/// stretches (the fraud rules' pass, Delta commits) with the other's work.
pub const TRANSFORM_LANES: usize = 2;

/// The task that builds the warehouse table `table`: `transform.<table>`.
pub fn table_task_name(table: &str) -> String {
    format!("transform.{table}")
}

/// What one pipeline run works on.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSettings {
    /// The configuration file, if any (its content is read when the flow is built).
    pub config_file: Option<PathBuf>,
    /// The raw extracts (default: the configuration's `raw`, else `<data>/raw`).
    pub raw: Option<PathBuf>,
    /// The data folder.
    pub data: PathBuf,
    /// The business date.
    pub as_of: NaiveDate,
    /// Bytes the transform may hold before spilling.
    pub memory_limit: usize,
    /// Run every task even where its inputs did not change.
    pub force: bool,
    /// The demo's run: the generator's `expected.json` (in the raw folder) must match
    /// the ingest's counts, and the quality stage watches the quarantine's share and
    /// writes its alerts to `<data>/monitoring/alerts.jsonl` ([`demo_quality`]); the
    /// configuration file is not read.
    pub demo: bool,
}

impl PipelineSettings {
    /// Settings for `data` as of `as_of`, everything else by default.
    pub fn new(data: PathBuf, as_of: NaiveDate) -> PipelineSettings {
        PipelineSettings {
            config_file: None,
            raw: None,
            data,
            as_of,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            force: false,
            demo: false,
        }
    }

    /// The configuration of the run: the demo's ([`demo_quality`]), the file's, or the
    /// defaults.
    pub fn config(&self) -> Result<PipelineConfig> {
        if self.demo {
            let layout = DataLayout::new(&self.data);
            return Ok(PipelineConfig {
                quality: demo_quality(&layout),
                ..PipelineConfig::default()
            });
        }
        Ok(match &self.config_file {
            Some(path) => PipelineConfig::from_file(path)?,
            None => PipelineConfig::default(),
        })
    }

    /// The settings as a run's parameters (strings), to store with the run; paths are
    /// made absolute, so that a retry from another folder finds them.
    pub fn parameters(&self) -> BTreeMap<String, String> {
        let absolute = |path: &PathBuf| {
            std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string()
        };
        let mut parameters = BTreeMap::from([
            ("business_date".to_owned(), self.as_of.to_string()),
            ("data".to_owned(), absolute(&self.data)),
            ("memory_limit".to_owned(), self.memory_limit.to_string()),
        ]);
        let paths = [("config", &self.config_file), ("raw", &self.raw)];
        for (name, path) in paths {
            if let Some(path) = path {
                parameters.insert(name.to_owned(), absolute(path));
            }
        }
        for (name, on) in [("force", self.force), ("demo", self.demo)] {
            if on {
                parameters.insert(name.to_owned(), "true".to_owned());
            }
        }
        parameters
    }

    /// The settings that [`parameters`](Self::parameters) stored; `None` when they do
    /// not describe a pipeline run (no data folder, no business date).
    pub fn from_parameters(parameters: &BTreeMap<String, String>) -> Option<PipelineSettings> {
        let path = |name: &str| parameters.get(name).map(PathBuf::from);
        Some(PipelineSettings {
            config_file: path("config"),
            raw: path("raw"),
            data: path("data")?,
            as_of: parameters.get("business_date")?.parse().ok()?,
            memory_limit: parameters
                .get("memory_limit")
                .and_then(|m| m.parse().ok())
                .unwrap_or(DEFAULT_MEMORY_LIMIT),
            force: parameters.get("force").is_some_and(|f| f == "true"),
            demo: parameters.get("demo").is_some_and(|f| f == "true"),
        })
    }
}

/// Everything the tasks share: the settings, the configuration read from its file
/// (or given), where the stages report, and the transform of the current run.
struct Shared {
    settings: PipelineSettings,
    config: PipelineConfig,
    raw: PathBuf,
    layout: DataLayout,
    console: Console,
    transform: Mutex<Option<(FlowRunId, Arc<Transform>)>>,
}

impl Shared {
    /// The transform of `task`'s run, made by the run's first task that needs it.
    fn transform(&self, task: &TaskContext) -> Result<Arc<Transform>> {
        let mut current = self
            .transform
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((run, transform)) = current.as_ref()
            && *run == task.run_id()
        {
            return Ok(Arc::clone(transform));
        }
        let options = TransformOptions {
            memory_limit: self.settings.memory_limit,
            ..TransformOptions::new(
                &self.layout,
                &lake_run_id(task),
                self.settings.as_of,
                self.config.model.clone(),
            )?
        };
        let transform = Arc::new(Transform::new(options, TRANSFORM_LANES));
        *current = Some((task.run_id(), Arc::clone(&transform)));
        Ok(transform)
    }
}

/// The pipeline's flow for `settings` (its configuration read now), the stages'
/// reports going to `console` as well as to each task run's logs.
pub fn daily_flow(settings: PipelineSettings, console: Console) -> Result<Flow> {
    let config = settings.config()?;
    let layout = DataLayout::new(&settings.data);
    let raw = settings
        .raw
        .clone()
        .or_else(|| config.ingest.raw.clone())
        .unwrap_or_else(|| layout.raw());
    let publish = config.postgres.enabled;
    let shared = Arc::new(Shared {
        settings,
        config,
        raw,
        layout,
        console,
        transform: Mutex::new(None),
    });
    let mut flow = Flow::builder(DAILY_FLOW)
        .exclusive()
        .task(ingest_task(&shared));
    for table in &TABLES {
        flow = flow.task(table_task(&shared, table));
    }
    let facts = RECONCILED.map(|(table, _)| table_task_name(table));
    let tables = TABLES.iter().map(|t| table_task_name(t.name));
    flow = flow
        .task(task(&shared, RECONCILE_TASK, reconcile).after(facts))
        .task(
            task(&shared, HEADLINE_TASK, headline)
                .after(tables)
                .after([RECONCILE_TASK]),
        )
        .task(task(&shared, "quality", quality).after([HEADLINE_TASK]));
    if publish {
        let retried = TaskPolicy {
            retries: 2,
            backoff: Backoff {
                base: Duration::from_secs(5),
                max: Duration::from_secs(60),
                jitter: 0.2,
            },
            timeout: None,
        };
        flow = flow.task(
            task(&shared, "publish_postgres", publish_postgres)
                .after(["quality"])
                .with_policy(retried),
        );
    }
    Ok(flow.build()?)
}

/// The run id stamped on the lake's commits, metrics and reports: `run-<flow run id>`.
pub fn lake_run_id(task: &TaskContext) -> String {
    format!("run-{}", task.run_id().0)
}

type StageFuture = futures::future::BoxFuture<'static, Result<TaskOutput>>;

/// A task named `name` whose body runs `stage` with the shared state and the task's
/// context, its errors sorted into fatal and retryable.
fn task(
    shared: &Arc<Shared>,
    name: &str,
    stage: impl Fn(Arc<Shared>, TaskContext) -> StageFuture + Send + Sync + 'static,
) -> Task {
    let shared = Arc::clone(shared);
    Task::new(name, move |ctx| {
        let run = stage(Arc::clone(&shared), ctx);
        async move { run.await.map_err(task_error) }
    })
}

/// Whether another attempt may succeed: not for bad data, configuration or checks.
fn task_error(error: PipelineError) -> TaskError {
    let retryable = match &error {
        PipelineError::Io { .. } => true,
        // The server unreachable or gone during the load (no SQLSTATE: not a refusal).
        PipelineError::Postgres(PostgresError::Connect {
            failure: ConnectFailure::Unreachable,
            ..
        }) => true,
        PipelineError::Postgres(e @ PostgresError::Query { .. }) => e.sqlstate().is_none(),
        PipelineError::Storage(StorageError::ConcurrentCommit { .. }) => true,
        _ => false,
    };
    let error = TaskError::from(error);
    if retryable {
        error
    } else {
        TaskError::fatal(error.message())
    }
}

fn ingest_task(shared: &Arc<Shared>) -> Task {
    let inputs = Arc::clone(shared);
    let outputs = Arc::clone(shared);
    let cached = !shared.settings.force;
    task(shared, "ingest", ingest)
        .with_input_fingerprint(move |_| {
            cached.then_some(())?;
            Fingerprint::new()
                .text("mapping", &format!("{:?}", inputs.config.ingest))
                .text("demo", &inputs.settings.demo.to_string())
                .path(&inputs.raw)
                .ok()
                .map(|f| f.finish())
        })
        .with_output_fingerprint(move |_| {
            let layout = &outputs.layout;
            Fingerprint::new()
                .path(&layout.root().join("processed"))
                .and_then(|f| f.path(&layout.root().join("quarantine")))
                .ok()
                .map(|f| f.finish())
        })
}

/// The task of `table`: after `ingest` and the tasks of the tables it reads; cached on
/// the model's settings, the business date, the processed entities and warehouse
/// tables it reads, and the table itself.
fn table_task(shared: &Arc<Shared>, table: &'static Table) -> Task {
    let inputs = Arc::clone(shared);
    let outputs = Arc::clone(shared);
    let cached = !shared.settings.force;
    let upstream = table.reads.tables.iter().map(|t| table_task_name(t));
    task(shared, &table_task_name(table.name), move |shared, task| {
        build(shared, task, table)
    })
    .after(["ingest".to_owned()].into_iter().chain(upstream))
    .with_input_fingerprint(move |_| {
        cached.then_some(())?;
        let layout = &inputs.layout;
        let processed = table.inputs().into_iter().map(|e| layout.processed(e));
        let warehouse = table.reads.tables.iter().map(|t| layout.transformed(t));
        processed
            .chain(warehouse)
            .try_fold(
                Fingerprint::new()
                    .text("model", &format!("{:?}", inputs.config.model))
                    .text("as_of", &inputs.settings.as_of.to_string()),
                |fingerprint, path| fingerprint.path(&path),
            )
            .ok()
            .map(|f| f.finish())
    })
    .with_output_fingerprint(move |_| {
        Fingerprint::new()
            .path(&outputs.layout.transformed(table.name))
            .ok()
            .map(|f| f.finish())
    })
}

fn ingest(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let console = shared.console.with_task(task.clone());
        let expected = shared
            .settings
            .demo
            .then(|| shared.raw.join("_generator").join("expected.json"));
        let summaries = run_ingest(
            &console,
            shared.config.ingest.clone(),
            shared.raw.clone(),
            &shared.layout,
            &lake_run_id(&task),
            expected.as_deref(),
        )
        .await?;
        let quarantined: u64 = summaries.iter().map(|s| s.quarantined_total()).sum();
        Ok(TaskOutput {
            rows_in: Some(summaries.iter().map(|s| s.raw_rows).sum()),
            rows_out: Some(summaries.iter().map(|s| s.accepted).sum()),
            bytes: None,
            note: Some(format!(
                "{} entities, {quarantined} rows quarantined",
                summaries.len()
            )),
        })
    })
}

fn build(shared: Arc<Shared>, task: TaskContext, table: &'static Table) -> StageFuture {
    Box::pin(async move {
        let transform = shared.transform(&task)?;
        // Its line goes to the task's log; the terminal gets the whole table at the end.
        let console = Console::task_log(task);
        let summary = build_table(&console, &transform, table).await?;
        Ok(TaskOutput {
            rows_out: Some(summary.rows),
            note: Some(format!("{} rows", summary.rows)),
            ..TaskOutput::default()
        })
    })
}

fn reconcile(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let console = shared.console.with_task(task);
        let facts = run_reconcile(&console, &shared.layout).await?;
        let rows = facts.iter().map(|f| f.rows).sum();
        Ok(TaskOutput {
            rows_in: Some(rows),
            rows_out: Some(rows),
            note: Some(format!("{} facts reconciled", facts.len())),
            ..TaskOutput::default()
        })
    })
}

fn headline(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let transform = shared.transform(&task)?;
        let console = shared.console.with_task(task);
        let rows = tell_warehouse(&console, &transform, &shared.raw).await?;
        Ok(TaskOutput {
            rows_out: Some(rows),
            note: Some(format!("{} tables, {rows} rows", TABLES.len())),
            ..TaskOutput::default()
        })
    })
}

fn quality(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let console = shared.console.with_task(task.clone());
        let report = run_quality(
            &console,
            &shared.layout,
            &lake_run_id(&task),
            shared.settings.as_of,
            shared.config.quality.clone(),
        )
        .await?;
        let failed = report
            .verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Fail)
            .count();
        Ok(TaskOutput {
            note: Some(format!(
                "{} checks, {failed} failed; report {}",
                report.verdicts.len(),
                report.html_path.display()
            )),
            ..TaskOutput::default()
        })
    })
}

fn publish_postgres(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let console = shared.console.with_task(task);
        let url = shared
            .config
            .postgres
            .url()
            .ok_or(PipelineError::NoDatabaseUrl)?;
        // The load's future is Send, but rustc cannot prove it through the
        // higher-ranked lifetimes of its borrows (rust-lang/rust#110338), so it runs on
        // a blocking thread of the same runtime, which needs no Send.
        let runtime = tokio::runtime::Handle::current();
        let report = crate::runtime::spawn_blocking(move || {
            let sink = &shared.config.postgres;
            runtime.block_on(publish_to(&console, &shared.layout, &url, &sink.schema))
        })
        .await??;
        Ok(TaskOutput {
            rows_out: Some(report.tables.iter().map(|t| t.rows).sum()),
            note: Some(format!(
                "{} tables into schema {}",
                report.tables.len(),
                report.schema
            )),
            ..TaskOutput::default()
        })
    })
}

/// The demo's quality checks: each entity's quarantined share at most 0.5 % (a
/// warning), alerts of warnings and worse to `<data>/monitoring/alerts.jsonl`.
pub fn demo_quality(layout: &DataLayout) -> QualityConfig {
    QualityConfig {
        checks: quarantine_share_checks(0.005),
        alerts: AlertConfig {
            channels: vec![ChannelConfig {
                min_severity: Severity::Warn,
                channel: Channel::JsonLines {
                    path: layout.monitoring().join("alerts.jsonl"),
                },
            }],
            ..AlertConfig::default()
        },
        ..QualityConfig::default()
    }
}
