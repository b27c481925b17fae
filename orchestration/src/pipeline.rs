//! The bankpipe pipeline as a flow of the [`runtime`](crate::runtime): `ingest` →
//! `transform` → `quality` → `publish_postgres` (when the `[postgres]` sink is on),
//! run by `bankpipe run`, `demo`, `retry`, the scheduler and the dashboard alike.
//!
//! A run's [`PipelineSettings`] are its parameters, stored with the run
//! ([`PipelineSettings::parameters`]), so a failed run can be retried later from the
//! run store alone ([`PipelineSettings::from_parameters`]).
//!
//! - `ingest` and `transform` are cached: each fingerprints its inputs (the raw
//!   folder and the ingestion mapping; the processed and quarantine layers, the model's
//!   settings and the business date) and its outputs (the layers it writes), and is
//!   skipped when neither changed since it last completed — so a rerun after a failure
//!   resumes where it stopped. `force` turns caching off.
//! - `quality` always runs: it records the run's metrics and judges them.
//! - `publish_postgres` is retried on failure (a server restarting, a lost
//!   connection), three attempts with backoff.
//!
//! Errors in the data or the configuration fail their task at once; only failures
//! that may pass (I/O, connections, a concurrent Delta commit) are retried.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
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
    Backoff, Fingerprint, Flow, Task, TaskContext, TaskError, TaskOutput, TaskPolicy,
};
use crate::stages::{Console, publish_to, run_ingest, run_quality, run_transform};
use crate::transform::{DEFAULT_MEMORY_LIMIT, TransformOptions};

/// The name of the pipeline's flow.
pub const DAILY_FLOW: &str = "daily";

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
/// (or given), where the stages report.
struct Shared {
    settings: PipelineSettings,
    config: PipelineConfig,
    raw: PathBuf,
    layout: DataLayout,
    console: Console,
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
    });
    let mut flow = Flow::builder(DAILY_FLOW)
        .exclusive()
        .task(ingest_task(&shared))
        .task(transform_task(&shared).after(["ingest"]))
        .task(task(&shared, "quality", quality).after(["transform"]));
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
    stage: fn(Arc<Shared>, TaskContext) -> StageFuture,
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

fn transform_task(shared: &Arc<Shared>) -> Task {
    let inputs = Arc::clone(shared);
    let outputs = Arc::clone(shared);
    let cached = !shared.settings.force;
    task(shared, "transform", transform)
        .with_input_fingerprint(move |_| {
            cached.then_some(())?;
            let layout = &inputs.layout;
            Fingerprint::new()
                .text("model", &format!("{:?}", inputs.config.model))
                .text("as_of", &inputs.settings.as_of.to_string())
                .path(&layout.root().join("processed"))
                .and_then(|f| f.path(&layout.root().join("quarantine")))
                .ok()
                .map(|f| f.finish())
        })
        .with_output_fingerprint(move |_| {
            Fingerprint::new()
                .path(&outputs.layout.root().join("transformed"))
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

fn transform(shared: Arc<Shared>, task: TaskContext) -> StageFuture {
    Box::pin(async move {
        let console = shared.console.with_task(task.clone());
        let options = TransformOptions {
            memory_limit: shared.settings.memory_limit,
            ..TransformOptions::new(
                &shared.layout,
                &lake_run_id(&task),
                shared.settings.as_of,
                shared.config.model.clone(),
            )?
        };
        let tables = run_transform(&console, &options, &shared.raw).await?;
        Ok(TaskOutput {
            rows_out: Some(tables.iter().map(|t| t.rows).sum()),
            note: Some(format!("{} tables", tables.len())),
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
        let report = tokio::task::spawn_blocking(move || {
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
