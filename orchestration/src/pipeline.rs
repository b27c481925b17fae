//! The bankpipe pipeline as a flow of the [`runtime`](crate::runtime), run by `bankpipe
//! run`, `demo`, `retry`, the scheduler and the dashboard alike:
//!
//! - one task per entity of the contract, `ingest.<entity>` (`ingest.clients`,
//!   `ingest.transactions`, …), each after the tasks of the entities it refers to
//!   (its rows' references are checked against their accepted keys); an entity
//!   without a source in the run completes at once, its tables left as they are;
//! - `ingest.summary`, after every entity: tells the ingest's summary table (and, in
//!   the demo, checks the counts against the generator's);
//! - one task per warehouse table, `transform.<table>` (`transform.dim_clients`,
//!   `transform.fact_transactions`, `transform.mart_client_monthly`, …), each after
//!   the tasks of the entities it reads and of the tables it reads (see the
//!   [catalogue](crate::transform::catalog)): tables that do not read each other build
//!   at the same time, and a table starts as soon as its entities are in;
//! - `transform.reconcile`, after the facts it reconciles with their processed rows
//!   (the run fails unless they do) and the ingest's summary;
//! - `transform.headline`, after every table and the reconciliation: tells the
//!   warehouse's tables, the headline figures and the fraud rules' scores;
//! - `quality`, then `publish_postgres` (when the `[postgres]` sink is on).
//!
//! A run's [`PipelineSettings`] are its parameters, stored with the run
//! ([`PipelineSettings::parameters`]), so a failed run can be retried later from the
//! run store alone ([`PipelineSettings::from_parameters`]).
//!
//! - The entity and table tasks are cached: each fingerprints its inputs (for an
//!   entity, its files, its mapping and its parents' processed tables; for a table,
//!   the processed entities and the warehouse tables it reads, the model's settings
//!   and the business date) and its outputs (the entity's processed and quarantine
//!   tables; the table), and is skipped when neither changed since it last completed
//!   — so a rerun after a failure resumes at the entity or the table that failed.
//!   `force` turns caching off.
//! - The entity tasks of a run share an [`IngestRun`]: a parent's accepted keys go
//!   to its children's tasks in memory, and are read back from the parent's processed
//!   table only when its task did not run in this process (cached, or reused by a
//!   retry); the summaries wait there for `ingest.summary`, which counts the entities
//!   not ingested in this process from their tables.
//! - The table tasks of a run share one [`Transform`]: the report window and daily FX
//!   rates are computed once, and at most [`TRANSFORM_LANES`] tables build at once,
//!   each in a DataFusion session holding at most `memory_limit / TRANSFORM_LANES`
//!   bytes before spilling, so that together they stay within the run's
//!   `memory_limit` whatever the executor's concurrency.
//! - `ingest.summary`, `transform.reconcile`, `transform.headline` and `quality`
//!   always run: they check and tell the lake as it is; `quality` records the run's
//!   metrics and judges them.
//! - `publish_postgres` is retried on failure (a server restarting, a lost
//!   connection), three attempts with backoff.
//!
//! Errors in the data or the configuration fail their task at once; only failures
//! that may pass (I/O, connections, a concurrent Delta commit) are retried.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::NaiveDate;
use contract::Entity;
use ingestion::Ingestor;
use monitoring::alerts::{AlertConfig, Channel, ChannelConfig};
use monitoring::checks::{Outcome, QualityConfig, Severity};
use storage::StorageError;
use storage::postgres::{ConnectFailure, PostgresError};

use crate::config::PipelineConfig;
use crate::error::{PipelineError, Result};
use crate::ingest::IngestOptions;
use crate::layout::DataLayout;
use crate::quality::quarantine_share_checks;
use crate::runtime::{
    Backoff, Fingerprint, Flow, FlowRunId, Task, TaskContext, TaskError, TaskOutput, TaskPolicy,
};
use crate::stages::{
    Console, IngestRun, build_table, ingest_one, publish_to, run_quality, run_reconcile,
    tell_ingest_run, tell_warehouse,
};
use crate::transform::catalog::{TABLES, Table};
use crate::transform::{DEFAULT_MEMORY_LIMIT, RECONCILED, Transform, TransformOptions};

/// The name of the pipeline's flow.
pub const DAILY_FLOW: &str = "daily";

/// The task that tells the ingest's summary, after every entity's task.
pub const INGEST_SUMMARY_TASK: &str = "ingest.summary";

/// The task that reconciles the facts with their processed rows.
pub const RECONCILE_TASK: &str = "transform.reconcile";

/// The task that tells the warehouse and its headline figures.
pub const HEADLINE_TASK: &str = "transform.headline";

/// How many warehouse tables build at once, each with this share of the run's
/// `memory_limit`: two, one per core of the machines bankpipe is measured on, since
/// each session already uses every core and two overlap one's single-threaded
/// stretches (the fraud rules' pass, Delta commits) with the other's work.
pub const TRANSFORM_LANES: usize = 2;

/// The task that ingests `entity`: `ingest.<entity>`.
pub fn ingest_task_name(entity: Entity) -> String {
    format!("ingest.{entity}")
}

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
        Ok(PipelineConfig::read(self.config_file.as_deref())?)
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
/// (or given), where the stages report, and the ingest and the transform of the
/// current run.
struct Shared {
    settings: PipelineSettings,
    config: PipelineConfig,
    raw: PathBuf,
    layout: DataLayout,
    console: Console,
    ingest: PerRun<IngestRun>,
    transform: PerRun<Transform>,
}

impl Shared {
    /// The ingest of `task`'s run, made by the run's first task that needs it.
    fn ingest(&self, task: &TaskContext) -> Result<Arc<IngestRun>> {
        self.ingest.get(task, || {
            Ok(IngestRun::new(IngestOptions {
                config: self.config.ingest.clone(),
                raw: self.raw.clone(),
                layout: self.layout.clone(),
                run_id: lake_run_id(task),
            }))
        })
    }

    /// The transform of `task`'s run, made by the run's first task that needs it.
    fn transform(&self, task: &TaskContext) -> Result<Arc<Transform>> {
        self.transform.get(task, || {
            let options = TransformOptions {
                memory_limit: self.settings.memory_limit,
                ..TransformOptions::new(
                    &self.layout,
                    &lake_run_id(task),
                    self.settings.as_of,
                    self.config.model.clone(),
                )?
            };
            Ok(Transform::new(options, TRANSFORM_LANES))
        })
    }
}

/// A value that the tasks of one flow run share, made by the first that needs it
/// (and replaced when a task of another run asks).
struct PerRun<T>(Mutex<Option<(FlowRunId, Arc<T>)>>);

impl<T> PerRun<T> {
    fn new() -> PerRun<T> {
        PerRun(Mutex::new(None))
    }

    /// The value of `task`'s run, made by `make` if that run has none yet.
    fn get(&self, task: &TaskContext, make: impl FnOnce() -> Result<T>) -> Result<Arc<T>> {
        let mut current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((run, value)) = current.as_ref()
            && *run == task.run_id()
        {
            return Ok(Arc::clone(value));
        }
        let value = Arc::new(make()?);
        *current = Some((task.run_id(), Arc::clone(&value)));
        Ok(value)
    }
}

/// The pipeline's flow for `settings` (its configuration read now), the stages'
/// reports going to `console` as well as to each task run's logs.
pub fn daily_flow(settings: PipelineSettings, console: Console) -> Result<Flow> {
    let config = settings.config()?;
    let layout = config.layout(&settings.data)?;
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
        ingest: PerRun::new(),
        transform: PerRun::new(),
    });
    let mut flow = Flow::builder(DAILY_FLOW).exclusive();
    for entity in Entity::ALL {
        flow = flow.task(entity_task(&shared, entity));
    }
    flow = flow.task(
        task(&shared, INGEST_SUMMARY_TASK, ingest_summary).after(Entity::ALL.map(ingest_task_name)),
    );
    for table in &TABLES {
        flow = flow.task(table_task(&shared, table));
    }
    let facts = RECONCILED.map(|(table, _)| table_task_name(table));
    let tables = TABLES.iter().map(|t| table_task_name(t.name));
    flow = flow
        .task(
            task(&shared, RECONCILE_TASK, reconcile)
                .after(facts)
                .after([INGEST_SUMMARY_TASK]),
        )
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

/// The task of `entity`: after the tasks of its parents; cached on its files, its
/// mapping and its parents' processed tables, and its own two tables.
fn entity_task(shared: &Arc<Shared>, entity: Entity) -> Task {
    let inputs = Arc::clone(shared);
    let outputs = Arc::clone(shared);
    let cached = !shared.settings.force;
    let parents = entity.parents();
    let upstream: Vec<String> = parents.iter().map(|p| ingest_task_name(*p)).collect();
    task(shared, &ingest_task_name(entity), move |shared, task| {
        ingest(shared, task, entity)
    })
    .after(upstream)
    .with_input_fingerprint(move |_| {
        cached.then_some(())?;
        let config = &inputs.config.ingest;
        let mapping = config.entities.get(entity.name());
        // A query reads named sources: their settings are its mapping too.
        let sources = mapping
            .and_then(|m| m.query.as_ref())
            .map(|_| &config.sources);
        let files = Ingestor::new(config.clone(), &inputs.raw, "")
            .inputs(entity)
            .ok()?;
        // A lake elsewhere than the data folder is not fingerprinted: never cached.
        let parents = parents
            .iter()
            .map(|p| inputs.layout.processed(*p).folder().map(Path::to_owned))
            .collect::<Option<Vec<_>>>()?;
        files
            .iter()
            .flatten()
            .cloned()
            .chain(parents)
            .try_fold(
                Fingerprint::new()
                    .text("mapping", &format!("{mapping:?} {sources:?}"))
                    .text("source", &files.is_some().to_string()),
                |fingerprint, path| fingerprint.path(&path),
            )
            .ok()
            .map(|f| f.finish())
    })
    .with_output_fingerprint(move |_| {
        let layout = &outputs.layout;
        let (processed, quarantine) = (layout.processed(entity), layout.quarantine(entity));
        let (processed, quarantine) = (processed.folder()?, quarantine.folder()?);
        Fingerprint::new()
            .path(processed)
            .and_then(|f| f.path(quarantine))
            .ok()
            .map(|f| f.finish())
    })
}

/// The task of `table`: after the tasks of the entities and tables it reads; cached
/// on the model's settings, the business date, the processed entities and warehouse
/// tables it reads, and the table itself.
fn table_task(shared: &Arc<Shared>, table: &'static Table) -> Task {
    let inputs = Arc::clone(shared);
    let outputs = Arc::clone(shared);
    let cached = !shared.settings.force;
    let entities = table.inputs().into_iter().map(ingest_task_name);
    let upstream = table.reads.tables.iter().map(|t| table_task_name(t));
    task(shared, &table_task_name(table.name), move |shared, task| {
        build(shared, task, table)
    })
    .after(entities.chain(upstream))
    .with_input_fingerprint(move |_| {
        cached.then_some(())?;
        let layout = &inputs.layout;
        let processed = table.inputs().into_iter().map(|e| layout.processed(e));
        let warehouse = table.reads.tables.iter().map(|t| layout.transformed(t));
        let folders = processed
            .chain(warehouse)
            .map(|place| place.folder().map(Path::to_owned))
            .collect::<Option<Vec<_>>>()?;
        folders
            .into_iter()
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
            .path(outputs.layout.transformed(table.name).folder()?)
            .ok()
            .map(|f| f.finish())
    })
}

fn ingest(shared: Arc<Shared>, task: TaskContext, entity: Entity) -> StageFuture {
    Box::pin(async move {
        let run = shared.ingest(&task)?;
        let console = shared.console.with_task(task);
        let Some(summary) = ingest_one(&console, &run, entity).await? else {
            return Ok(TaskOutput {
                note: Some("no source in this run: its tables left as they are".to_owned()),
                ..TaskOutput::default()
            });
        };
        Ok(TaskOutput {
            rows_in: Some(summary.raw_rows),
            rows_out: Some(summary.accepted),
            bytes: None,
            note: Some(format!("{} rows quarantined", summary.quarantined_total())),
        })
    })
}

fn ingest_summary(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let run = shared.ingest(&task)?;
        let console = shared.console.with_task(task);
        let expected = shared
            .settings
            .demo
            .then(|| shared.raw.join("_generator").join("expected.json"));
        let summaries = tell_ingest_run(&console, &run, expected.as_deref()).await?;
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
