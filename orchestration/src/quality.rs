//! The quality stage: profile every table of the lake, keep the figures as history,
//! judge the checks, and write the run's report.

use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use contract::Entity;
use futures::{StreamExt, TryStreamExt};
use monitoring::alerts::{self, Alert, AlertConfig, AlertState, Delivery};
use monitoring::anomaly::BandRule;
use monitoring::checks::{self, Check, CheckKind, Evidence, QualityConfig, Severity, Verdict};
use monitoring::drift::{DriftJudgement, DriftRule};
use monitoring::measure::{Measure, measure};
use monitoring::metrics::{self, History};
use monitoring::profile::{Depth, TableProfile, profile};
use monitoring::report::{self, DriftPanel, ReportData, Series};
use serde::Serialize;
use storage::delta::{self, TableLocation};

use crate::error::Result;
use crate::ingest::recount::rule_counts;
use crate::layout::DataLayout;

/// What the quality stage judges, and where it writes.
#[derive(Debug, Clone)]
pub struct QualityOptions {
    /// The lake.
    pub layout: DataLayout,
    /// The run whose data is judged (its metrics are stored under this id).
    pub run_id: String,
    /// The run's business date: freshness is measured from the end of that day.
    pub as_of: NaiveDate,
    /// The checks.
    pub config: QualityConfig,
}

/// What the quality stage found.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    /// The run judged.
    pub run_id: String,
    /// Its business date.
    pub as_of: NaiveDate,
    /// Every check's verdict.
    pub verdicts: Vec<Verdict>,
    /// Every table's profile (rows, and per column nulls, distinct values, ranges,
    /// quantiles and frequent codes).
    pub profiles: Vec<TableProfile>,
    /// Where the report was written (JSON).
    #[serde(skip)]
    pub path: PathBuf,
    /// The same report as a page to open in a browser.
    #[serde(skip)]
    pub html_path: PathBuf,
    /// The alerts this run sent (failures new, changed or repeating, recoveries).
    pub alerts: Vec<Alert>,
    /// What became of them, per channel.
    pub deliveries: Vec<Delivery>,
}

impl QualityReport {
    /// The failed error-level checks: the reasons not to publish the warehouse.
    pub fn blocking(&self) -> Vec<&Verdict> {
        self.verdicts.iter().filter(|v| v.blocks()).collect()
    }
}

/// The tables measured: every processed entity, its quarantine, and every warehouse
/// table and mart present in the lake, by the name checks use (`transactions`,
/// `quarantine_transactions`, `fact_transactions`), sorted by it.
async fn tables(layout: &DataLayout) -> Result<Vec<(String, TableLocation)>> {
    let mut tables: Vec<(String, TableLocation)> = delta::find_tables(&layout.lake()?, 3)
        .await?
        .into_iter()
        .filter_map(|(relative, location)| Some((check_name(&relative)?, location)))
        .collect();
    tables.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(tables)
}

/// The name checks use for the table at `relative` in the lake, if it is measured.
fn check_name(relative: &str) -> Option<String> {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        ["processed", entity] => Some((*entity).to_owned()),
        ["quarantine", entity] => Some(format!("quarantine_{entity}")),
        ["transformed", table] | ["transformed", "marts", table]
            if ["fact_", "dim_", "mart_"]
                .iter()
                .any(|p| table.starts_with(p)) =>
        {
            Some((*table).to_owned())
        }
        _ => None,
    }
}

/// Checks that at most `max_share` of each entity's rows went to quarantine (one
/// `warn` check per entity, `<entity>.quarantine_share`): a sudden flood of bad rows is
/// worth a look even when every one of them was caught.
pub fn quarantine_share_checks(max_share: f64) -> Vec<Check> {
    Entity::ALL
        .iter()
        .map(|entity| Check {
            id: format!("{entity}.quarantine_share"),
            table: format!("quarantine_{entity}"),
            severity: Severity::Warn,
            owner: None,
            kind: CheckKind::Sql {
                query: format!(
                    "SELECT q.n AS quarantined, p.n AS accepted \
                     FROM (SELECT count(*) AS n FROM quarantine_{entity}) q, \
                          (SELECT count(*) AS n FROM {entity}) p \
                     WHERE q.n > {max_share} * (q.n + p.n)"
                ),
                max_rows: 0,
            },
        })
        .collect()
}

/// The bank's watches over the warehouse, beside each table's volume and null rates
/// (see [`checks::default_checks`]), for the tables in `profiles`:
/// - `fact_transactions.amount_eur.drift`: the amounts' distribution (PSI);
/// - `fact_transactions.channel.drift`: the channel mix (PSI);
/// - `fact_revenue.amount_eur.total_usual`: the revenue total, and per revenue type;
/// - `fact_fraudes.alert_rate_usual`: fraud alerts per transaction.
///
/// Every watch warns (a drift, moderate or significant; a jump): a distribution may
/// move for good reasons, so stopping the publication on one is a decision for a
/// declared error-level check. None judges before `band.min_history` earlier runs,
/// so first runs stay quiet.
pub fn model_watches(profiles: &[TableProfile], band: BandRule) -> Vec<Check> {
    let drift = DriftRule {
        window: band.window,
        min_history: band.min_history,
        ..DriftRule::default()
    };
    let watch = |id: &str, table: &str, severity, kind| Check {
        id: id.to_owned(),
        table: table.to_owned(),
        severity,
        owner: None,
        kind,
    };
    let watches = [
        watch(
            "fact_transactions.amount_eur.drift",
            "fact_transactions",
            Severity::Warn,
            CheckKind::Drift {
                column: "amount_eur".into(),
                rule: drift,
            },
        ),
        watch(
            "fact_transactions.channel.drift",
            "fact_transactions",
            Severity::Warn,
            CheckKind::Drift {
                column: "channel".into(),
                rule: drift,
            },
        ),
        watch(
            "fact_revenue.amount_eur.total_usual",
            "fact_revenue",
            Severity::Warn,
            CheckKind::Total {
                column: "amount_eur".into(),
                by: Some("revenue_type".into()),
                band,
            },
        ),
        watch(
            "fact_fraudes.alert_rate_usual",
            "fact_fraudes",
            Severity::Warn,
            CheckKind::Rate {
                per: "fact_transactions".into(),
                band,
            },
        ),
    ];
    watches
        .into_iter()
        .filter(|check| profiles.iter().any(|p| p.table == check.table))
        .collect()
}

/// How many tables are profiled at once.
const PROFILES_AT_ONCE: usize = 4;

/// Profiles the lake, stores the figures with the run id, judges the checks and
/// writes the report to `<data>/monitoring/reports/<run_id>.json` and `.html`.
pub async fn quality(options: &QualityOptions) -> Result<QualityReport> {
    let ctx = delta::session();
    let mut registered = Vec::new();
    for (name, location) in tables(&options.layout).await? {
        if delta::register(&ctx, &name, &location).await? {
            registered.push(name);
        }
    }
    // Several tables at once: most are small, and one query's planning and commit
    // reading then overlap with another's scan.
    let mut work = Vec::with_capacity(registered.len());
    for name in &registered {
        // The warehouse derives from the processed layer, measured in full: its
        // tables are counted (rows, nulls), which costs a fraction.
        let derived = ["fact_", "dim_", "mart_"]
            .iter()
            .any(|p| name.starts_with(p));
        let depth = if derived { Depth::Counts } else { Depth::Full };
        work.push(profile(&ctx, name, depth));
    }
    let profiles: Vec<TableProfile> = futures::stream::iter(work)
        .buffered(PROFILES_AT_ONCE)
        .try_collect()
        .await?;
    let metrics_location = options.layout.metrics().location()?;
    let history = History::load(&metrics_location, Some(&options.run_id)).await?;
    let mut all_checks = options.config.checks.clone();
    if options.config.watch_history {
        all_checks.extend(checks::default_checks(&profiles, options.config.band));
        all_checks.extend(model_watches(&profiles, options.config.band));
    }
    let mut measures: Vec<Measure> = all_checks.iter().filter_map(Check::measure).collect();
    measures.sort();
    measures.dedup();
    let measured = measure(&ctx, &measures).await?;
    let evidence = Evidence {
        profiles: &profiles,
        measured: &measured,
        history: &history,
        ctx: &ctx,
        business_day_end: options
            .as_of
            .succ_opt()
            .unwrap_or(options.as_of)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc(),
    };
    let mut verdicts = Vec::with_capacity(all_checks.len());
    let mut drifts = Vec::new();
    for check in &all_checks {
        verdicts.push(checks::judge(check, &evidence).await);
        if let (Some(DriftJudgement::Judged(drift)), CheckKind::Drift { column, .. }) =
            (checks::drift_of(check, &evidence), &check.kind)
        {
            drifts.push(DriftPanel {
                check: check.id.clone(),
                table: check.table.clone(),
                column: column.clone(),
                drift,
            });
        }
    }
    let figures: Vec<metrics::Metric> = profiles
        .iter()
        .flat_map(metrics::metrics_of)
        .chain(measured)
        .collect();
    metrics::record(&metrics_location, &options.run_id, Utc::now(), &figures).await?;

    let reports = options.layout.monitoring().join("reports");
    let html_path = reports.join(format!("{}.html", options.run_id));
    let (alerts, deliveries) = alert(options, &verdicts, &html_path).await?;
    let report = QualityReport {
        run_id: options.run_id.clone(),
        as_of: options.as_of,
        verdicts,
        profiles,
        path: reports.join(format!("{}.json", options.run_id)),
        html_path,
        alerts,
        deliveries,
    };
    let data = ReportData {
        run_id: report.run_id.clone(),
        as_of: report.as_of.to_string(),
        verdicts: report.verdicts.clone(),
        series: report
            .profiles
            .iter()
            .map(|p| {
                let history = history.values(&p.table, None, "rows");
                Series {
                    title: format!("{} rows", p.table),
                    band: options.config.band.band(&history),
                    history,
                    current: p.rows as f64,
                }
            })
            .collect(),
        quarantine: quarantine_breakdown(&options.layout).await?,
        deliveries: report.deliveries.clone(),
        profiles: report.profiles.clone(),
    };
    let page = report::html_with_drift(&data, &drifts);
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    for (path, text) in [(&report.path, json), (&report.html_path, page)] {
        std::fs::create_dir_all(&reports)
            .and_then(|()| std::fs::write(path, text))
            .map_err(|source| crate::error::PipelineError::Io {
                path: path.clone(),
                source,
            })?;
    }
    Ok(report)
}

/// Decides which alerts the verdicts call for (remembering open problems in
/// `<data>/monitoring/alert_state.json`) and delivers them.
async fn alert(
    options: &QualityOptions,
    verdicts: &[Verdict],
    report: &std::path::Path,
) -> Result<(Vec<Alert>, Vec<Delivery>)> {
    let absolute = std::path::absolute(report).unwrap_or_else(|_| report.to_owned());
    send_alerts(
        verdicts,
        &options.config.alerts,
        &options.layout,
        &options.run_id,
        &format!("file://{}", absolute.display()),
    )
    .await
}

/// The alerts `verdicts` call for, given what was told before (the state in
/// `<data>/monitoring/alert_state.json`, shared by every check and task), delivered to
/// `config`'s channels; `run` and `link` are what each alert names.
pub async fn send_alerts(
    verdicts: &[Verdict],
    config: &AlertConfig,
    layout: &DataLayout,
    run: &str,
    link: &str,
) -> Result<(Vec<Alert>, Vec<Delivery>)> {
    let path = layout.monitoring().join("alert_state.json");
    let io = |source| crate::error::PipelineError::Io {
        path: path.clone(),
        source,
    };
    let mut state = AlertState::load(&path).map_err(io)?;
    let alerts = alerts::decide(verdicts, &mut state, config, Utc::now(), run, link);
    let deliveries = alerts::deliver(&alerts, &config.channels).await;
    std::fs::create_dir_all(layout.monitoring()).map_err(io)?;
    state.save(&path).map_err(io)?;
    Ok((alerts, deliveries))
}

/// Quarantined rows by entity and rule, most first within each entity.
async fn quarantine_breakdown(layout: &DataLayout) -> Result<Vec<(String, String, u64)>> {
    let mut rows = Vec::new();
    for entity in Entity::ALL {
        let location = layout.quarantine(entity).location()?;
        for (rule, n) in rule_counts(&location).await? {
            rows.push((entity.name().to_owned(), rule, n));
        }
    }
    Ok(rows)
}
