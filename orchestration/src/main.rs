//! `bankpipe`: a bank's daily extracts in, an analytics warehouse out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use monitoring::alerts::AlertConfig;
use monitoring::checks;
use orchestration::config::{PipelineConfig, RunsConfig};
use orchestration::generate::{GenerateOptions, generate};
use orchestration::ingest::new_run_id;
use orchestration::pipeline::{PipelineSettings, daily_flow};
use orchestration::run_alerts::alert_run;
use orchestration::runtime::{
    Executor, FlowRunDetail, FlowRunId, RunState, RunStore, StoreOptions, TaskLogLayer,
};
use orchestration::schedule::Deployment;
use orchestration::serve::{PipelineLauncher, deployment_settings, run_request};
use orchestration::stages::{Console, publish_to, run_ingest, run_quality};
use orchestration::transform::DEFAULT_MEMORY_LIMIT;
use orchestration::{DataLayout, PipelineError};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    /// Runs the pipeline's flow: ingest, build the star schema, judge the quality,
    /// and load PostgreSQL when the `[postgres]` sink is on; recorded in the run
    /// store, and skipping the stages whose inputs did not change.
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
        /// Run every task, even those whose inputs did not change since they last
        /// completed.
        #[arg(long)]
        force: bool,
        /// Run as this deployment of the configuration (its parameters; recorded
        /// with the run), as cron does with `schedule --crontab`'s lines.
        #[arg(long)]
        deployment: Option<String>,
    },
    /// Runs a deployment once per business date, oldest first (each date's run
    /// replaces that date's results).
    Backfill {
        #[command(flatten)]
        paths: Paths,
        /// The deployment of the configuration.
        #[arg(long)]
        deployment: String,
        /// The first business date.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// The last business date (included).
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Serves the dashboard and runs the deployments' schedules until interrupted.
    Serve {
        #[command(flatten)]
        paths: Paths,
        /// Where the dashboard listens.
        #[arg(long, default_value_t = orchestration::dashboard::DEFAULT_ADDR)]
        addr: std::net::SocketAddr,
        /// A bearer token every page and API call must bring (default:
        /// $BANKPIPE_TOKEN); required to listen elsewhere than on localhost.
        #[arg(long)]
        token: Option<String>,
    },
    /// Prints the deployments of the configuration as crontab lines.
    Schedule {
        /// The configuration that declares the deployments.
        #[arg(long)]
        config: PathBuf,
        /// The data folder the runs use.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Print crontab lines (the only output for now).
        #[arg(long)]
        crontab: bool,
    },
    /// Reruns a failed run from its failed tasks, reusing those that completed.
    Retry {
        /// The flow run's id (as `run` printed it).
        run: i64,
        /// The data folder whose run store holds the run.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// The configuration, when its `[runs]` puts the run store elsewhere than the
        /// data folder (PostgreSQL).
        #[arg(long)]
        config: Option<PathBuf>,
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
        /// The configuration, when its `[lake]` puts the Delta tables elsewhere.
        #[arg(long)]
        config: Option<PathBuf>,
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
    /// The configuration, whose `[runs]` and `[lake]` say where the run store and the
    /// Delta tables are (default: the data folder).
    #[arg(long)]
    config: Option<PathBuf>,
}

impl PostgresTarget {
    /// `--database-url`, else `DATABASE_URL`.
    fn url(&self) -> Option<String> {
        orchestration::config::url_or_environment(self.database_url.as_ref())
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
    /// The pipeline's settings for these paths, as of `as_of`.
    fn settings(&self, as_of: chrono::NaiveDate) -> PipelineSettings {
        PipelineSettings {
            config_file: self.config.clone(),
            raw: self.raw.clone(),
            ..PipelineSettings::new(self.data.clone(), as_of)
        }
    }

    /// The configuration, the raw folder and the layout these options name.
    fn resolve(&self) -> Result<(PipelineConfig, PathBuf, DataLayout), PipelineError> {
        let config = PipelineConfig::read(self.config.as_deref())?;
        let layout = config.layout(&self.data)?;
        let raw = self
            .raw
            .clone()
            .or_else(|| config.ingest.raw.clone())
            .unwrap_or_else(|| layout.raw());
        Ok((config, raw, layout))
    }
}

fn main() -> ExitCode {
    // One filter for the console and the task runs' stored logs (TaskLogLayer: the
    // events inside a task run join its logs).
    tracing_subscriber::registry()
        .with(
            // delta-rs's kernel logs an error when it looks for a table that is not
            // created yet, which every first write does: not the user's concern.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,buoyant_kernel::snapshot::builder=off".into()),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(TaskLogLayer)
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
            let console = Console::terminal();
            run_ingest(&console, config.ingest, raw, &layout, &new_run_id(), None)
                .await
                .map(drop)
        }
        Command::Run {
            paths,
            as_of,
            memory_limit_mib,
            force,
            deployment,
        } => {
            let base = PipelineSettings {
                memory_limit: memory_limit_mib << 20,
                force,
                ..paths.settings(as_of.unwrap_or_else(yesterday))
            };
            match deployment {
                None => run_flow(base, None, None).await,
                Some(name) => {
                    let deployment = configured_deployment(&paths, &name)?;
                    let extra = as_of
                        .map(|day| BTreeMap::from([("business_date".into(), day.to_string())]))
                        .unwrap_or_default();
                    let settings =
                        deployment_settings(&base, &deployment, chrono::Utc::now(), &extra)
                            .map_err(PipelineError::Config)?;
                    run_flow(settings, Some(name), None).await
                }
            }
        }
        Command::Backfill {
            paths,
            deployment,
            from,
            to,
        } => backfill(&paths, &deployment, from, to).await,
        Command::Serve { paths, addr, token } => serve(paths, addr, token).await,
        Command::Schedule {
            config,
            data,
            crontab,
        } => {
            let deployments = PipelineConfig::from_file(&config)?.deployments;
            if !crontab {
                for deployment in &deployments {
                    let words = deployment.schedule().map(|s| s.describe());
                    println!("{:<20} {}", deployment.name, words.unwrap_or_default());
                }
                return Ok(());
            }
            let binary = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("bankpipe"));
            let absolute = |path: PathBuf| std::path::absolute(&path).unwrap_or(path);
            print!(
                "{}",
                orchestration::schedule::crontab(
                    &deployments,
                    &binary,
                    &absolute(config),
                    &absolute(data)
                )
            );
            Ok(())
        }
        Command::Retry { run, data, config } => retry(data, config, run).await,
        Command::Quality { paths, as_of, run } => {
            let (config, _, layout) = paths.resolve()?;
            match run {
                Some(run_id) => print_report(&layout, &run_id),
                None => {
                    let as_of = as_of.unwrap_or_else(yesterday);
                    let console = Console::terminal();
                    run_quality(&console, &layout, &new_run_id(), as_of, config.quality)
                        .await
                        .map(drop)
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
            config,
            retention_hours,
            dry_run,
        } => run_maintain(data, config, retention_hours, dry_run).await,
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

/// `demo`: generates a small bank into `<data>/raw`, then runs the pipeline's flow on
/// it with the demo's checks ([`PipelineSettings::demo`]).
async fn demo(data: PathBuf, scale: f64, defects: f64) -> Result<(), PipelineError> {
    let layout = DataLayout::new(&data);
    let raw = layout.raw();
    let end_date = yesterday();
    println!(
        "demo: generating synthetic extracts (scale {scale}, defects {defects}) into {}",
        raw.display()
    );
    generate(&GenerateOptions {
        out: raw,
        scale,
        seed: 42,
        defects,
        end_date,
    })?;
    let settings = PipelineSettings {
        demo: true,
        ..PipelineSettings::new(data, end_date)
    };
    run_flow(settings, None, None).await?;
    let alerts = layout.monitoring().join("alerts.jsonl");
    if alerts.is_file() {
        println!("alerts written to {}", alerts.display());
    }
    Ok(())
}

/// Runs the pipeline's flow for `settings` (as `deployment`, in backfill `backfill`,
/// if given) through the runtime, recorded in the data folder's run store, then
/// prints the run's tasks; fails unless it completed.
async fn run_flow(
    settings: PipelineSettings,
    deployment: Option<String>,
    backfill: Option<&str>,
) -> Result<(), PipelineError> {
    let config = settings.config()?;
    let store = open_store(&config.runs, &settings.data).await?;
    let request = run_request(&settings, deployment, backfill);
    let layout = DataLayout::new(&settings.data);
    let flow = daily_flow(settings, Console::terminal())?;
    let detail = Executor::new(store.clone()).run(&flow, request).await?;
    tell_failures(&detail, &config.quality.alerts, &layout).await;
    let pruned = store.prune(config.runs.retention()).await?;
    if pruned.flow_runs > 0 {
        println!(
            "run store: {} runs older than {} days pruned",
            pruned.flow_runs, config.runs.retention_days
        );
    }
    finish_run(&detail)
}

/// Alerts on the run's failed tasks ([`alert_run`]) and prints the deliveries.
async fn tell_failures(detail: &FlowRunDetail, alerting: &AlertConfig, layout: &DataLayout) {
    match alert_run(detail, alerting, layout).await {
        Ok(deliveries) => {
            for delivery in deliveries {
                match &delivery.error {
                    None => println!(
                        "  sent {} task alert(s) to {}",
                        delivery.alerts, delivery.channel
                    ),
                    Some(error) => println!(
                        "  task alerts NOT DELIVERED to {} after {} attempts: {error}",
                        delivery.channel, delivery.attempts
                    ),
                }
            }
        }
        Err(error) => eprintln!("error: the run's task alerts: {error}"),
    }
}

/// The deployment `name` of the configuration `paths` names.
fn configured_deployment(paths: &Paths, name: &str) -> Result<Deployment, PipelineError> {
    let (config, ..) = paths.resolve()?;
    let known: Vec<String> = config.deployments.iter().map(|d| d.name.clone()).collect();
    config
        .deployments
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| {
            PipelineError::Config(format!(
                "no deployment {name} in the configuration (known: {})",
                if known.is_empty() {
                    "none; pass --config".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// `backfill`: one run of the deployment per business date, oldest first, one after
/// the other (runs of one data folder never overlap), grouped by a new backfill id
/// (the dashboard shows them together); every date is tried, and the command fails if
/// one failed.
async fn backfill(
    paths: &Paths,
    name: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<(), PipelineError> {
    use orchestration::schedule::{DEFAULT_MAX_BACKFILL_DAYS, business_dates, new_backfill_id};
    let deployment = configured_deployment(paths, name)?;
    let dates = business_dates(from, to, DEFAULT_MAX_BACKFILL_DAYS)
        .map_err(|e| PipelineError::Config(e.to_string()))?;
    let group = new_backfill_id(from, to);
    let mut failed = Vec::new();
    for (index, day) in dates.iter().enumerate() {
        println!(
            "
backfill {group}: {day} ({} of {})",
            index + 1,
            dates.len()
        );
        let extra = BTreeMap::from([("business_date".to_owned(), day.to_string())]);
        let base = paths.settings(*day);
        let settings = deployment_settings(&base, &deployment, chrono::Utc::now(), &extra)
            .map_err(PipelineError::Config)?;
        if let Err(error) = run_flow(settings, Some(name.to_owned()), Some(&group)).await {
            eprintln!("error: {day}: {error}");
            failed.push(day.to_string());
        }
    }
    if failed.is_empty() {
        println!(
            "
backfill {group}: {} runs completed",
            dates.len()
        );
        return Ok(());
    }
    Err(PipelineError::Config(format!(
        "backfill {group}: the runs of {} failed (see above); `bankpipe retry RUN_ID` \
         resumes one",
        failed.join(", ")
    )))
}

/// `serve`: the dashboard and the deployments' schedules, until Ctrl-C.
async fn serve(
    paths: Paths,
    addr: std::net::SocketAddr,
    token: Option<String>,
) -> Result<(), PipelineError> {
    let (config, ..) = paths.resolve()?;
    let token = token
        .or_else(|| std::env::var("BANKPIPE_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let store = open_store(&config.runs, &paths.data).await?;
    let base = paths.settings(yesterday());
    let deployments = config.deployments.len();
    let retention = config.runs.retention();
    let launcher = PipelineLauncher::new(base, config.deployments, store.clone()).await?;
    // The run store's retention, daily while serving.
    let pruning = store.clone();
    tokio::spawn(async move {
        let mut daily = tokio::time::interval(Duration::from_secs(86_400));
        loop {
            daily.tick().await;
            if let Err(error) = pruning.prune(retention).await {
                eprintln!("error: pruning the run store: {error}");
            }
        }
    });
    println!(
        "bankpipe serve: dashboard on http://{addr}/ ({}), {deployments} deployment(s) \
         scheduled, runs in {}; Ctrl-C stops",
        if token.is_some() {
            "token required"
        } else {
            "local only"
        },
        store.location()
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    orchestration::serve::serve(Arc::new(launcher), store, addr, token, stop).await
}

/// The run store that `runs` configures for data folder `data`.
async fn open_store(runs: &RunsConfig, data: &Path) -> Result<RunStore, PipelineError> {
    let location = runs.location(data).map_err(PipelineError::Config)?;
    Ok(RunStore::open_at(location, StoreOptions::default()).await?)
}

/// `retry RUN_ID`: reruns a failed pipeline run from its failed tasks.
async fn retry(data: PathBuf, config: Option<PathBuf>, run: i64) -> Result<(), PipelineError> {
    let store = open_store(&PipelineConfig::read(config.as_deref())?.runs, &data).await?;
    let previous = store.get_run(FlowRunId(run)).await?;
    let settings = PipelineSettings::from_parameters(&previous.run.parameters)
        .ok_or(PipelineError::NotRetriable(run))?;
    let alerting = settings.config()?.quality.alerts;
    let layout = DataLayout::new(&settings.data);
    let flow = daily_flow(settings, Console::terminal())?;
    let detail = Executor::new(store).retry(&flow, FlowRunId(run)).await?;
    tell_failures(&detail, &alerting, &layout).await;
    finish_run(&detail)
}

/// Prints a flow run's tasks (state, attempts, time, what each did); an error unless
/// the run completed.
fn finish_run(detail: &FlowRunDetail) -> Result<(), PipelineError> {
    let run = &detail.run;
    println!("\nflow run #{} {} ({}):", run.id.0, run.flow, run.state);
    let width = detail.tasks.iter().map(|t| t.task.len()).max().unwrap_or(0);
    for task in &detail.tasks {
        let seconds = match (task.started_at, task.ended_at) {
            (Some(start), Some(end)) => format!("{:.1} s", (end - start).as_seconds_f64()),
            _ => String::new(),
        };
        let said = task
            .error
            .as_deref()
            .or(task.output.note.as_deref())
            .unwrap_or_default();
        println!(
            "  {:<width$} {:<10} attempt {:<2} {seconds:>8}  {said}",
            task.task,
            task.state.to_string(),
            task.attempt
        );
    }
    if run.state == RunState::Completed {
        return Ok(());
    }
    let failed: Vec<String> = detail
        .tasks
        .iter()
        .filter(|t| t.state == RunState::Failed)
        .map(|t| format!("{} failed: {}", t.task, t.error.as_deref().unwrap_or("")))
        .collect();
    Err(PipelineError::RunFailed {
        run: run.id.0,
        state: run.state,
        reason: if failed.is_empty() {
            run.error.clone().unwrap_or_default()
        } else {
            failed.join("; ")
        },
    })
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
    config: Option<PathBuf>,
    retention_hours: u64,
    dry_run: bool,
) -> Result<(), PipelineError> {
    use orchestration::maintain::{MaintainOptions, maintain, render};
    let options = MaintainOptions {
        layout: PipelineConfig::read(config.as_deref())?.layout(&data)?,
        retention: Duration::from_secs(retention_hours.saturating_mul(3600)),
        dry_run,
        run_id: new_run_id(),
    };
    let tables = maintain(&options).await?;
    if tables.is_empty() {
        println!("no Delta table in the lake ({})", options.layout.lake()?);
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
    let layout = PipelineConfig::read(target.config.as_deref())?.layout(&target.data)?;
    publish_to(&Console::terminal(), &layout, &url, &target.schema)
        .await
        .map(drop)
}

/// `check-connections`: the table of checks; an error (non-zero exit) if one failed.
async fn check_connections(target: &PostgresTarget) -> Result<(), PipelineError> {
    use orchestration::check::{CheckOptions, check_connections, render};
    let config = PipelineConfig::read(target.config.as_deref())?;
    let options = CheckOptions {
        layout: config.layout(&target.data)?,
        database_url: target.url(),
        schema: target.schema.clone(),
        run_store: Some(
            config
                .runs
                .location(&target.data)
                .map_err(PipelineError::Config)?,
        ),
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
