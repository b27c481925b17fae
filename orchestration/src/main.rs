//! `bankpipe`: a bank's daily extracts in, an analytics warehouse out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Parser, Subcommand};
use contract::Entity;
use indicatif::{ProgressBar, ProgressStyle};
use ingestion::IngestConfig;
use monitoring::alerts::{AlertConfig, Channel, ChannelConfig};
use monitoring::checks::{self, QualityConfig};
use orchestration::config::{ModelConfig, PipelineConfig};
use orchestration::generate::{GenerateOptions, generate};
use orchestration::ingest::{IngestOptions, ingest, new_run_id};
use orchestration::quality::{QualityOptions, quality};
use orchestration::transform::{DEFAULT_MEMORY_LIMIT, TransformOptions, transform};
use orchestration::{DataLayout, PipelineError, expected, headline, summary};

#[derive(Debug, Parser)]
#[command(
    name = "bankpipe",
    version,
    about = "Bank extracts in, an analytics warehouse out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes deterministic synthetic raw extracts that follow the data contract.
    Generate {
        /// The folder to write the extracts into.
        #[arg(long)]
        out: PathBuf,
        /// 1 ≈ one million transactions; fractions allowed (0.01 ≈ ten thousand).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// The random seed: the same seed and scale give the same bytes.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of bad rows to plant (e.g. 0.01), with their expected counts.
        #[arg(long, default_value_t = 0.0)]
        defects: f64,
        /// The last business day of the data (default: yesterday).
        #[arg(long)]
        end_date: Option<chrono::NaiveDate>,
    },
    /// Reads the raw extracts into the processed and quarantine Delta tables.
    Ingest {
        #[command(flatten)]
        paths: Paths,
    },
    /// Ingests the raw extracts, then builds the star schema from them.
    Run {
        #[command(flatten)]
        paths: Paths,
        /// The business date of the run (default: yesterday).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// MiB the transform's sorts, joins and aggregates may hold before spilling
        /// to disk.
        #[arg(long, default_value_t = DEFAULT_MEMORY_LIMIT >> 20)]
        memory_limit_mib: usize,
    },
    /// Generates a small data set and runs every stage on it, on local Delta tables.
    Demo {
        /// The data folder (raw extracts go to `<data>/raw`).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// The demo's scale (0.01 ≈ ten thousand transactions).
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
        /// Share of bad rows to plant.
        #[arg(long, default_value_t = 0.01)]
        defects: f64,
    },
    /// Profiles every table of the lake, judges the quality checks against the
    /// history of earlier runs, and writes the report; fails on an error-level check.
    Quality {
        #[command(flatten)]
        paths: Paths,
        /// The business date judged (default: yesterday).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Print the verdicts of this earlier run instead of judging the lake now.
        #[arg(long)]
        run: Option<String>,
    },
    /// Compacts, vacuums and checkpoints every Delta table under the data folder.
    Maintain {
        /// The data folder that holds the layers.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Vacuum deletes the files removed more than this many hours ago (at least
        /// the tables' minimum, 168 by default).
        #[arg(long, default_value_t = 168)]
        retention_hours: u64,
        /// Change nothing: list what vacuum would delete.
        #[arg(long)]
        dry_run: bool,
    },
    /// Loads the warehouse's Delta tables into PostgreSQL, all in one transaction.
    LoadPostgres {
        #[command(flatten)]
        target: PostgresTarget,
    },
    /// Checks the data folder, every Delta table and PostgreSQL; fails if one fails.
    CheckConnections {
        #[command(flatten)]
        target: PostgresTarget,
    },
}

/// The lake and the PostgreSQL warehouse.
#[derive(Debug, clap::Args)]
struct PostgresTarget {
    /// The data folder that holds the layers.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// postgres://user[:password]@host:port/database (default: $DATABASE_URL).
    #[arg(long)]
    database_url: Option<String>,
    /// The warehouse's PostgreSQL schema.
    #[arg(long, default_value = orchestration::publish::DEFAULT_SCHEMA)]
    schema: String,
}

impl PostgresTarget {
    /// `--database-url`, else `DATABASE_URL`.
    fn url(&self) -> Option<String> {
        self.database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .filter(|url| !url.is_empty())
    }
}

/// Where the inputs and the lake are.
#[derive(Debug, clap::Args)]
struct Paths {
    /// A TOML file that maps other sources onto the contract (none needed for
    /// files that follow it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The raw extracts (default: the configuration's `raw`, else `<data>/raw`).
    #[arg(long)]
    raw: Option<PathBuf>,
    /// The data folder that holds the layers.
    #[arg(long, default_value = "data")]
    data: PathBuf,
}

impl Paths {
    /// The configuration, the raw folder and the layout these options name.
    fn resolve(&self) -> Result<(PipelineConfig, PathBuf, DataLayout), PipelineError> {
        let config = match &self.config {
            Some(path) => PipelineConfig::from_file(path)?,
            None => PipelineConfig::default(),
        };
        let layout = DataLayout::new(&self.data);
        let raw = self
            .raw
            .clone()
            .or_else(|| config.ingest.raw.clone())
            .unwrap_or_else(|| layout.raw());
        Ok((config, raw, layout))
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // delta-rs's kernel logs an error when it looks for a table that is not
            // created yet, which every first write does: not the user's concern.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,buoyant_kernel::snapshot::builder=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), PipelineError> {
    match command {
        Command::Generate {
            out,
            scale,
            seed,
            defects,
            end_date,
        } => {
            let end_date = end_date.unwrap_or_else(yesterday);
            let summary = generate(&GenerateOptions {
                out: out.clone(),
                scale,
                seed,
                defects,
                end_date,
            })?;
            for (entity, rows) in &summary.rows {
                println!("{entity:<14} {rows:>10} rows");
            }
            println!("wrote {} files to {}", summary.files.len(), out.display());
            Ok(())
        }
        Command::Ingest { paths } => {
            let (config, raw, layout) = paths.resolve()?;
            run_ingest(config.ingest, raw, &layout, &new_run_id())
                .await
                .map(drop)
        }
        Command::Run {
            paths,
            as_of,
            memory_limit_mib,
        } => {
            let (config, raw, layout) = paths.resolve()?;
            let run_id = new_run_id();
            run_ingest(config.ingest, raw.clone(), &layout, &run_id).await?;
            let as_of = as_of.unwrap_or_else(yesterday);
            let options = TransformOptions {
                memory_limit: memory_limit_mib << 20,
                ..TransformOptions::new(&layout, &run_id, as_of, config.model)?
            };
            run_transform(&options, &raw).await?;
            run_quality(&layout, &run_id, as_of, config.quality).await?;
            let sink = &config.postgres;
            if sink.enabled {
                let url = sink.url().ok_or(PipelineError::NoDatabaseUrl)?;
                publish_to(&layout, &url, &sink.schema).await?;
            }
            Ok(())
        }
        Command::Quality { paths, as_of, run } => {
            let (config, _, layout) = paths.resolve()?;
            match run {
                Some(run_id) => print_report(&layout, &run_id),
                None => {
                    let as_of = as_of.unwrap_or_else(yesterday);
                    run_quality(&layout, &new_run_id(), as_of, config.quality).await
                }
            }
        }
        Command::Demo {
            data,
            scale,
            defects,
        } => demo(data, scale, defects).await,
        Command::Maintain {
            data,
            retention_hours,
            dry_run,
        } => run_maintain(data, retention_hours, dry_run).await,
        Command::LoadPostgres { target } => load_postgres(&target).await,
        Command::CheckConnections { target } => check_connections(&target).await,
    }
}

fn yesterday() -> chrono::NaiveDate {
    chrono::Utc::now()
        .date_naive()
        .pred_opt()
        .unwrap_or_default()
}

async fn run_ingest(
    config: IngestConfig,
    raw: PathBuf,
    layout: &DataLayout,
    run_id: &str,
) -> Result<Vec<ingestion::EntitySummary>, PipelineError> {
    println!(
        "ingest {} → {} (run {run_id})",
        raw.display(),
        layout.root().display()
    );
    let options = IngestOptions {
        config,
        raw,
        layout: layout.clone(),
        run_id: run_id.to_owned(),
    };
    let bar: Mutex<Option<(Entity, ProgressBar)>> = Mutex::new(None);
    let progress = |entity: Entity, rows: u64| {
        let Ok(mut current) = bar.lock() else { return };
        if current.as_ref().is_none_or(|(e, _)| *e != entity) {
            if let Some((_, old)) = current.take() {
                old.finish_and_clear();
            }
            let spinner = ProgressBar::new_spinner().with_message(entity.name());
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
    };
    let started = std::time::Instant::now();
    let result = ingest(&options, &progress).await;
    if let Ok(Some((_, spinner))) = bar.lock().map(|mut b| b.take()) {
        spinner.finish_and_clear();
    }
    let summaries = result?;
    print!("{}", summary::render(&summaries));
    println!("conservation holds for every entity: read = accepted + quarantined");
    println!("ingested in {:.1} s", started.elapsed().as_secs_f64());
    Ok(summaries)
}

/// Builds the warehouse, then prints its tables, the headline figures, and the fraud
/// rules' scores when `raw` holds a generator's planted frauds.
async fn run_transform(options: &TransformOptions, raw: &Path) -> Result<(), PipelineError> {
    let started = std::time::Instant::now();
    let tables = transform(options).await?;
    let as_of = options.params.as_of;
    println!("\nwarehouse (as of {as_of}):");
    for table in &tables {
        let location = table.location.url();
        let path = location
            .to_file_path()
            .map_or_else(|()| location.to_string(), |p| p.display().to_string());
        let reconciled = match table.source {
            Some((entity, rows)) => format!("  = processed {} {rows}: reconciled", entity.name()),
            None => String::new(),
        };
        println!(
            "  {:<26} {:>10} rows {:>6.2} s  {path}{reconciled}",
            table.table,
            table.rows,
            table.elapsed.as_secs_f64()
        );
    }
    println!("built in {:.1} s", started.elapsed().as_secs_f64());
    let layout = &options.layout;
    print!("{}", headline::headline(layout).await?);
    let planted = raw.join("_generator").join("planted_frauds.csv");
    if planted.is_file() {
        let scores = headline::fraud_scores(layout, &planted).await?;
        println!("\nfraud rules against the generator's planted frauds:");
        print!("{}", headline::render_scores(&scores));
    }
    Ok(())
}

async fn demo(data: PathBuf, scale: f64, defects: f64) -> Result<(), PipelineError> {
    let layout = DataLayout::new(&data);
    let raw = layout.raw();
    let end_date = yesterday();
    println!(
        "demo: generating synthetic extracts (scale {scale}, defects {defects}) into {}",
        raw.display()
    );
    generate(&GenerateOptions {
        out: raw.clone(),
        scale,
        seed: 42,
        defects,
        end_date,
    })?;
    let run_id = new_run_id();
    let summaries = run_ingest(IngestConfig::default(), raw.clone(), &layout, &run_id).await?;

    let expected = expected::read(&raw.join("_generator").join("expected.json"))?;
    let differences = expected::differences(&expected, &summaries);
    if !differences.is_empty() {
        return Err(PipelineError::Expected(differences.join("; ")));
    }
    println!(
        "every planted bad row was quarantined under its rule (matches _generator/expected.json)"
    );
    println!("\ntables (Delta Lake):");
    for summary in &summaries {
        for (layer, path) in [
            ("processed", layout.processed(summary.entity)),
            ("quarantine", layout.quarantine(summary.entity)),
        ] {
            let location = storage::TableLocation::local(&path)?;
            let rows = storage::delta::count_rows(&location).await?;
            println!(
                "  {layer:<10} {:<14} {rows:>8} rows  {}",
                summary.entity.name(),
                path.display()
            );
        }
    }
    let options = TransformOptions::new(&layout, &run_id, end_date, ModelConfig::default())?;
    run_transform(&options, &raw).await?;
    // The demo watches its quarantine and writes its alerts to a JSON-lines file.
    let alerts = layout.monitoring().join("alerts.jsonl");
    let config = QualityConfig {
        checks: orchestration::quality::quarantine_share_checks(0.005),
        alerts: AlertConfig {
            channels: vec![ChannelConfig {
                min_severity: checks::Severity::Warn,
                channel: Channel::JsonLines {
                    path: alerts.clone(),
                },
            }],
            ..AlertConfig::default()
        },
        ..QualityConfig::default()
    };
    run_quality(&layout, &run_id, end_date, config).await?;
    if alerts.is_file() {
        println!("alerts written to {}", alerts.display());
    }
    Ok(())
}

/// Judges the lake's quality for run `run_id`, prints the verdicts and the report's
/// path, and fails when an error-level check failed.
async fn run_quality(
    layout: &DataLayout,
    run_id: &str,
    as_of: chrono::NaiveDate,
    config: QualityConfig,
) -> Result<(), PipelineError> {
    let on_error = config.on_error;
    let report = quality(&QualityOptions {
        layout: layout.clone(),
        run_id: run_id.to_owned(),
        as_of,
        config,
    })
    .await?;
    println!(
        "
data quality:"
    );
    print!("{}", checks::render(&report.verdicts));
    println!(
        "report: {} (and {})",
        report.html_path.display(),
        report.path.display()
    );
    if !report.alerts.is_empty() {
        println!("alerts: {}", report.alerts.len());
    }
    for delivery in &report.deliveries {
        match &delivery.error {
            None => println!("  sent {} to {}", delivery.alerts, delivery.channel),
            Some(error) => println!(
                "  NOT DELIVERED to {} after {} attempts: {error}",
                delivery.channel, delivery.attempts
            ),
        }
    }
    match (report.blocking().len(), on_error) {
        (0, _) => Ok(()),
        (failed, checks::OnError::Warn) => {
            println!(
                "{failed} error-level checks failed; the run goes on ([quality] on_error = \"warn\")"
            );
            Ok(())
        }
        (failed, checks::OnError::Block) => Err(PipelineError::QualityBlocked(failed)),
    }
}

/// `quality --run ID`: the verdicts of an earlier run, from its report.
fn print_report(layout: &DataLayout, run_id: &str) -> Result<(), PipelineError> {
    let path = layout
        .monitoring()
        .join("reports")
        .join(format!("{run_id}.json"));
    let io = |source| PipelineError::Io {
        path: path.clone(),
        source,
    };
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let verdicts: Vec<checks::Verdict> = serde_json::from_value(report["verdicts"].clone())
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    println!("data quality of run {run_id}:");
    print!("{}", checks::render(&verdicts));
    Ok(())
}

/// `maintain`: every Delta table of the lake compacted, vacuumed and checkpointed, then
/// a table of what was done.
async fn run_maintain(
    data: PathBuf,
    retention_hours: u64,
    dry_run: bool,
) -> Result<(), PipelineError> {
    use orchestration::maintain::{MaintainOptions, maintain, render};
    let options = MaintainOptions {
        layout: DataLayout::new(&data),
        retention: Duration::from_secs(retention_hours.saturating_mul(3600)),
        dry_run,
        run_id: new_run_id(),
    };
    let tables = maintain(&options).await?;
    if tables.is_empty() {
        println!("no Delta table under {}", data.display());
        return Ok(());
    }
    print!("{}", render(&tables));
    if dry_run {
        println!("dry run: nothing changed; 'removed by vacuum' counts the files it would delete");
    }
    Ok(())
}

/// `load-postgres`: every warehouse table into PostgreSQL, then a table of rows, seconds
/// and rows per second.
async fn load_postgres(target: &PostgresTarget) -> Result<(), PipelineError> {
    let url = target.url().ok_or(PipelineError::NoDatabaseUrl)?;
    publish_to(&DataLayout::new(&target.data), &url, &target.schema).await
}

/// Loads the warehouse of `layout` into `schema` at `url` and prints the table loads.
async fn publish_to(layout: &DataLayout, url: &str, schema: &str) -> Result<(), PipelineError> {
    println!(
        "\nload {} → PostgreSQL {} schema {schema}",
        layout.root().display(),
        storage::postgres::describe_url(url),
    );
    let mut client = storage::postgres::connect(url, 5, Duration::from_millis(500)).await?;
    let report = orchestration::publish::publish(layout, &mut client, schema).await?;
    print!("{}", orchestration::publish::render(&report));
    println!("published in one transaction: readers saw the previous tables until the commit");
    Ok(())
}

/// `check-connections`: the table of checks; an error (non-zero exit) if one failed.
async fn check_connections(target: &PostgresTarget) -> Result<(), PipelineError> {
    use orchestration::check::{CheckOptions, check_connections, render};
    let options = CheckOptions {
        layout: DataLayout::new(&target.data),
        database_url: target.url(),
        schema: target.schema.clone(),
        attempts: 3,
        first_backoff: Duration::from_millis(250),
    };
    let checks = check_connections(&options).await;
    print!("{}", render(&checks));
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        return Err(PipelineError::ChecksFailed {
            failed,
            checks: checks.len(),
        });
    }
    println!("all {} checks passed", checks.len());
    Ok(())
}
