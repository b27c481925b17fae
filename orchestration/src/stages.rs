//! The pipeline's stages as the command and the flow run them: each does its work
//! and tells what it did, in text, to a [`Console`] — the terminal, the run's stored
//! logs, or both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use contract::Entity;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use ingestion::{EntitySummary, IngestConfig, Ingestor};
use monitoring::checks::{self, QualityConfig};
use storage::delta::{self, TableLocation};

use crate::error::{PipelineError, Result};
use crate::ingest::parent_keys::ParentKeys;
use crate::ingest::recount::recount;
use crate::ingest::{IngestOptions, ingest, ingest_entity};
use crate::layout::DataLayout;
use crate::quality::{QualityOptions, QualityReport, quality};
use crate::runtime::{LogLevel, TaskContext};
use crate::transform::catalog::{TABLES, Table};
use crate::transform::{Reconciliation, TableSummary, Transform, reconcile};
use crate::{expected, headline, publish, summary};

/// Where a stage's report goes: printed on the terminal, stored as the log lines of a
/// task run, or both.
#[derive(Clone, Default)]
pub struct Console {
    print: bool,
    task: Option<TaskContext>,
}

impl Console {
    /// A console that prints on standard output (with a progress spinner while
    /// ingesting).
    pub fn terminal() -> Console {
        Console {
            print: true,
            task: None,
        }
    }

    /// This console, also storing every line as a log line of `task`'s run.
    pub fn with_task(&self, task: TaskContext) -> Console {
        Console {
            print: self.print,
            task: Some(task),
        }
    }

    /// A console that only stores every line as a log line of `task`'s run.
    pub fn task_log(task: TaskContext) -> Console {
        Console {
            print: false,
            task: Some(task),
        }
    }

    /// This console without the terminal: only storing lines in its task run's logs.
    fn log_only(&self) -> Console {
        Console {
            print: false,
            task: self.task.clone(),
        }
    }

    /// Tells `text` (one line or several).
    pub fn say(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if self.print {
            println!("{text}");
        }
        if let Some(task) = &self.task {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                task.log(LogLevel::Info, line);
            }
        }
    }
}

/// Ingests `raw` into the lake for run `run_id`, tells the summary table, and
/// returns the summaries. With `expected` (the generator's `expected.json`), fails
/// unless the counts are the ones the generator planted.
pub async fn run_ingest(
    console: &Console,
    config: IngestConfig,
    raw: PathBuf,
    layout: &DataLayout,
    run_id: &str,
    expected: Option<&Path>,
) -> Result<Vec<EntitySummary>> {
    let options = IngestOptions {
        config,
        raw,
        layout: layout.clone(),
        run_id: run_id.to_owned(),
    };
    console.say(ingest_header(&options));
    let spinner = Spinner::new(console.print.then(MultiProgress::new));
    let started = Instant::now();
    let result = ingest(&options, &|entity, rows| spinner.show(entity, rows)).await;
    spinner.clear();
    let summaries = result?;
    tell_ingested(console, &summaries, &[], Some(started.elapsed()), expected)?;
    Ok(summaries)
}

/// The line that opens an ingest's report.
fn ingest_header(options: &IngestOptions) -> String {
    format!(
        "ingest {} → {} (run {})",
        options.raw.display(),
        options.layout.root().display(),
        options.run_id
    )
}

/// Tells an ingest's summaries (`unchanged`: the entities among them counted from
/// their tables, not ingested now), that conservation held, how long it took
/// (`None`: nothing ingested now) and, with `expected`, fails unless the counts are
/// the generator's.
fn tell_ingested(
    console: &Console,
    summaries: &[EntitySummary],
    unchanged: &[Entity],
    elapsed: Option<Duration>,
    expected: Option<&Path>,
) -> Result<()> {
    console.say(summary::render(summaries).trim_end());
    if !unchanged.is_empty() {
        let names: Vec<&str> = unchanged.iter().map(|e| e.name()).collect();
        console.say(format!(
            "unchanged, counted from their tables: {}",
            names.join(", ")
        ));
    }
    console.say("conservation holds for every entity: read = accepted + quarantined");
    console.say(match elapsed {
        Some(elapsed) => format!("ingested in {:.1} s", elapsed.as_secs_f64()),
        None => "every entity unchanged (none ingested in this run)".to_owned(),
    });
    if let Some(path) = expected {
        let differences = expected::differences(&expected::read(path)?, summaries);
        if !differences.is_empty() {
            return Err(PipelineError::Expected(differences.join("; ")));
        }
        console.say(format!(
            "every planted bad row was quarantined under its rule (matches {})",
            path.display()
        ));
    }
    Ok(())
}

/// What the entity tasks of one flow run share: what to ingest, the parents' keys
/// handed from task to task, the summaries of the entities ingested in this
/// process, when the first began and the last ended, and the terminal's progress
/// bars.
pub struct IngestRun {
    options: IngestOptions,
    keys: ParentKeys,
    summaries: Mutex<BTreeMap<Entity, EntitySummary>>,
    span: Mutex<Option<(Instant, Instant)>>,
    bars: MultiProgress,
}

impl IngestRun {
    /// A run ingesting with `options`.
    pub fn new(options: IngestOptions) -> IngestRun {
        IngestRun {
            options,
            keys: ParentKeys::default(),
            summaries: Mutex::default(),
            span: Mutex::default(),
            bars: MultiProgress::new(),
        }
    }
}

/// Ingests `entity` in `run` (see [`ingest_entity`]): its parents' keys come from
/// their tasks in this process, else from their processed tables; its own keys are
/// kept for its children. Tells its line (and the parents read back) to `console`'s
/// log, with a spinner on the terminal. `None` when it has no source in this run.
pub async fn ingest_one(
    console: &Console,
    run: &IngestRun,
    entity: Entity,
) -> Result<Option<EntitySummary>> {
    let started = Instant::now();
    let log = console.log_only();
    let options = &run.options;
    let mut ingestor = Ingestor::new(options.config.clone(), &options.raw, &options.run_id);
    let read_back = run
        .keys
        .hand_over(&mut ingestor, entity, &options.layout)
        .await?;
    for (parent, keys) in read_back {
        log.say(format!(
            "{keys} keys of {parent} read back from its processed table"
        ));
    }
    let spinner = Spinner::new(console.print.then(|| run.bars.clone()));
    let result = ingest_entity(options, ingestor, entity, &|e, rows| spinner.show(e, rows)).await;
    spinner.clear();
    let (ingestor, summary) = result?;
    let Some(summary) = summary else {
        log.say(format!(
            "{entity}: no source in this run, its tables left as they are"
        ));
        return Ok(None);
    };
    if let Some(keys) = ingestor.accepted_keys(entity) {
        run.keys.give(entity, keys);
    }
    log.say(summary::render(std::slice::from_ref(&summary)).trim_end());
    lock(&run.summaries).insert(entity, summary.clone());
    let mut span = lock(&run.span);
    let (first, _) = span.unwrap_or((started, started));
    *span = Some((first.min(started), Instant::now()));
    Ok(Some(summary))
}

/// Tells the ingest of `run` once its entity tasks are done, as [`run_ingest`] does:
/// every entity with a source, those not ingested in this process (their tasks
/// cached, or reused by a retry) counted from their tables; with `expected`, fails
/// unless the counts are the generator's. Drops the keys no child took. Returns the
/// summaries.
pub async fn tell_ingest_run(
    console: &Console,
    run: &IngestRun,
    expected: Option<&Path>,
) -> Result<Vec<EntitySummary>> {
    run.keys.clear();
    let options = &run.options;
    let ingestor = Ingestor::new(options.config.clone(), &options.raw, &options.run_id);
    let ingested = lock(&run.summaries).clone();
    let mut summaries = Vec::new();
    let mut unchanged = Vec::new();
    for entity in Entity::ALL {
        if let Some(summary) = ingested.get(&entity) {
            summaries.push(summary.clone());
        } else if ingestor.inputs(entity)?.is_some() {
            summaries.push(recount(&options.layout, entity).await?);
            unchanged.push(entity);
        }
    }
    let elapsed = lock(&run.span).map(|(first, last)| last - first);
    console.say(ingest_header(options));
    tell_ingested(console, &summaries, &unchanged, elapsed, expected)?;
    Ok(summaries)
}

/// Locks `mutex`, whatever a panicking holder left in it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The ingest's progress on the terminal: a spinner for the entity under way, among
/// `bars` (those of the entities ingested at the same time); nothing without bars.
struct Spinner {
    bars: Option<MultiProgress>,
    current: Mutex<Option<(Entity, ProgressBar)>>,
}

impl Spinner {
    fn new(bars: Option<MultiProgress>) -> Spinner {
        Spinner {
            bars,
            current: Mutex::new(None),
        }
    }

    fn show(&self, entity: Entity, rows: u64) {
        let Some(bars) = &self.bars else {
            return;
        };
        let mut current = lock(&self.current);
        if current.as_ref().is_none_or(|(e, _)| *e != entity) {
            if let Some((_, old)) = current.take() {
                old.finish_and_clear();
                bars.remove(&old);
            }
            let spinner = bars.add(ProgressBar::new_spinner().with_message(entity.name()));
            let style =
                ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec})");
            if let Ok(style) = style {
                spinner.set_style(style);
            }
            spinner.enable_steady_tick(Duration::from_millis(200));
            *current = Some((entity, spinner));
        }
        if let Some((_, spinner)) = current.as_ref() {
            spinner.set_position(rows);
        }
    }

    fn clear(&self) {
        if let Some((_, spinner)) = lock(&self.current).take() {
            spinner.finish_and_clear();
            if let Some(bars) = &self.bars {
                bars.remove(&spinner);
            }
        }
    }
}

/// Builds the warehouse table `table` with `transform` and tells its rows, build time
/// and location.
pub async fn build_table(
    console: &Console,
    transform: &Transform,
    table: &Table,
) -> Result<TableSummary> {
    let summary = transform.build(table).await?;
    console.say(table_line(
        &summary.table,
        summary.rows,
        Some(summary.elapsed),
        &summary.location,
    ));
    Ok(summary)
}

/// Reconciles the facts derived one-to-one from an entity with its processed rows,
/// and tells each; fails at the first that does not reconcile.
pub async fn run_reconcile(console: &Console, layout: &DataLayout) -> Result<Vec<Reconciliation>> {
    let facts = reconcile(layout).await?;
    let mut text = String::from("\nfacts reconciled with the processed layer:\n");
    for fact in &facts {
        text.push_str(&format!(
            "  {:<26} {:>10} rows = processed {} {}\n",
            fact.table,
            fact.rows,
            fact.entity.name(),
            fact.rows
        ));
    }
    console.say(text.trim_end());
    Ok(facts)
}

/// Tells the warehouse after `transform`: every table with its rows and build time
/// (`unchanged` for those it did not build), how long the build took, the headline
/// figures, and the fraud rules' scores when `raw` holds a generator's planted frauds.
/// Returns the warehouse's rows.
pub async fn tell_warehouse(console: &Console, transform: &Transform, raw: &Path) -> Result<u64> {
    let (built, span) = transform.built();
    let layout = &transform.options().layout;
    let as_of = transform.options().params.as_of;
    let mut text = format!("\nwarehouse (as of {as_of}):\n");
    let mut total = 0;
    for table in &TABLES {
        let (rows, elapsed, location) = match built.iter().find(|s| s.table == table.name) {
            Some(summary) => (
                summary.rows,
                Some(summary.elapsed),
                summary.location.clone(),
            ),
            None => {
                let location = layout.transformed(table.name).location()?;
                (delta::count_rows(&location).await?, None, location)
            }
        };
        total += rows;
        text.push_str(&table_line(table.name, rows, elapsed, &location));
        text.push('\n');
    }
    match span {
        Some(span) => {
            text.push_str(&format!(
                "{} tables built in {:.1} s, at most {} at a time",
                built.len(),
                span.as_secs_f64(),
                transform.lanes()
            ));
            let unchanged = TABLES.len() - built.len();
            if unchanged > 0 {
                text.push_str(&format!("; {unchanged} unchanged"));
            }
            text.push('\n');
        }
        None => text.push_str("every table unchanged (none built in this run)\n"),
    }
    text.push_str(&headline::headline(layout).await?);
    let planted = raw.join("_generator").join("planted_frauds.csv");
    if planted.is_file() {
        let scores = headline::fraud_scores(layout, &planted).await?;
        text.push_str("\nfraud rules against the generator's planted frauds:\n");
        text.push_str(&headline::render_scores(&scores));
    }
    console.say(text.trim_end());
    Ok(total)
}

/// A table's line: name, rows, build time (`unchanged` when not built), location.
fn table_line(
    table: &str,
    rows: u64,
    elapsed: Option<Duration>,
    location: &TableLocation,
) -> String {
    let url = location.url();
    let path = url
        .to_file_path()
        .map_or_else(|()| url.to_string(), |p| p.display().to_string());
    let time = elapsed.map_or_else(
        || "unchanged".to_owned(),
        |t| format!("{:.2} s", t.as_secs_f64()),
    );
    format!("  {table:<26} {rows:>10} rows {time:>10}  {path}")
}

/// Judges the lake's quality for run `run_id`, tells the verdicts and the report's
/// path, and fails when an error-level check failed (unless `[quality] on_error =
/// "warn"`).
pub async fn run_quality(
    console: &Console,
    layout: &DataLayout,
    run_id: &str,
    as_of: chrono::NaiveDate,
    config: QualityConfig,
) -> Result<QualityReport> {
    let on_error = config.on_error;
    let report = quality(&QualityOptions {
        layout: layout.clone(),
        run_id: run_id.to_owned(),
        as_of,
        config,
    })
    .await?;
    let mut text = format!("\ndata quality:\n{}", checks::render(&report.verdicts));
    text.push_str(&format!(
        "report: {} (and {})\n",
        report.html_path.display(),
        report.path.display()
    ));
    if !report.alerts.is_empty() {
        text.push_str(&format!("alerts: {}\n", report.alerts.len()));
    }
    for delivery in &report.deliveries {
        text.push_str(&match &delivery.error {
            None => format!("  sent {} to {}\n", delivery.alerts, delivery.channel),
            Some(error) => format!(
                "  NOT DELIVERED to {} after {} attempts: {error}\n",
                delivery.channel, delivery.attempts
            ),
        });
    }
    console.say(text.trim_end());
    match (report.blocking().len(), on_error) {
        (0, _) => Ok(report),
        (failed, checks::OnError::Warn) => {
            console.say(format!(
                "{failed} error-level checks failed; the run goes on ([quality] on_error = \"warn\")"
            ));
            Ok(report)
        }
        (failed, checks::OnError::Block) => Err(PipelineError::QualityBlocked(failed)),
    }
}

/// Loads the warehouse of `layout` into `schema` at `url` and tells the table loads.
pub async fn publish_to(
    console: &Console,
    layout: &DataLayout,
    url: &str,
    schema: &str,
) -> Result<publish::PublishReport> {
    console.say(format!(
        "\nload {} → PostgreSQL {} schema {schema}",
        layout.root().display(),
        storage::postgres::describe_url(url),
    ));
    let mut client = storage::postgres::connect(url, 5, Duration::from_millis(500)).await?;
    let report = publish::publish(layout, &mut client, schema).await?;
    console.say(publish::render(&report).trim_end());
    console.say("published in one transaction: readers saw the previous tables until the commit");
    Ok(report)
}
