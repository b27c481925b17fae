//! The quality stage: profile every table of the lake, keep the figures as history,
//! judge the checks, and write the run's report.

use std::path::PathBuf;

use chrono::{NaiveDate, Utc};
use contract::Entity;
use monitoring::checks::{self, Evidence, QualityConfig, Verdict};
use monitoring::metrics::{self, History};
use monitoring::profile::{TableProfile, profile};
use serde::Serialize;
use storage::delta::{self, TableLocation};

use crate::error::Result;
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
    /// Every table's rows, as measured.
    pub tables: Vec<(String, u64)>,
    /// Where the report was written (JSON).
    #[serde(skip)]
    pub path: PathBuf,
}

impl QualityReport {
    /// The failed error-level checks: the reasons not to publish the warehouse.
    pub fn blocking(&self) -> Vec<&Verdict> {
        self.verdicts.iter().filter(|v| v.blocks()).collect()
    }
}

/// The tables measured: every processed entity and every warehouse table and mart
/// present in the lake, by the name checks use (`transactions`, `fact_transactions`).
fn tables(layout: &DataLayout) -> Vec<(String, PathBuf)> {
    let processed = Entity::ALL
        .iter()
        .map(|e| (e.name().to_owned(), layout.processed(*e)));
    let transformed = std::fs::read_dir(layout.transformed(""))
        .into_iter()
        .flatten()
        .chain(
            std::fs::read_dir(layout.transformed("mart_"))
                .into_iter()
                .flatten(),
        )
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name.starts_with("fact_") || name.starts_with("dim_") || name.starts_with("mart_"))
                .then(|| (name.clone(), layout.transformed(&name)))
        });
    let mut tables: Vec<(String, PathBuf)> = processed
        .chain(transformed)
        .filter(|(_, path)| path.join("_delta_log").is_dir())
        .collect();
    tables.sort();
    tables
}

/// Profiles the lake, stores the figures with the run id, judges the checks and
/// writes the report to `<data>/monitoring/reports/<run_id>.json`.
pub async fn quality(options: &QualityOptions) -> Result<QualityReport> {
    let ctx = delta::session();
    let mut profiles: Vec<TableProfile> = Vec::new();
    for (name, path) in tables(&options.layout) {
        let location = TableLocation::local(&path)?;
        if delta::register(&ctx, &name, &location).await? {
            profiles.push(profile(&ctx, &name).await?);
        }
    }
    let metrics_location = TableLocation::local(&options.layout.monitoring().join("metrics"))?;
    let history = History::load(&metrics_location, Some(&options.run_id)).await?;
    let mut all_checks = options.config.checks.clone();
    if options.config.watch_history {
        all_checks.extend(checks::default_checks(&profiles, options.config.band));
    }
    let evidence = Evidence {
        profiles: &profiles,
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
    for check in &all_checks {
        verdicts.push(checks::judge(check, &evidence).await);
    }
    let measured: Vec<metrics::Metric> = profiles.iter().flat_map(metrics::metrics_of).collect();
    metrics::record(&metrics_location, &options.run_id, Utc::now(), &measured).await?;

    let reports = options.layout.monitoring().join("reports");
    let path = reports.join(format!("{}.json", options.run_id));
    let report = QualityReport {
        run_id: options.run_id.clone(),
        as_of: options.as_of,
        verdicts,
        tables: profiles.iter().map(|p| (p.table.clone(), p.rows)).collect(),
        path: path.clone(),
    };
    let write =
        |text: String| std::fs::create_dir_all(&reports).and_then(|()| std::fs::write(&path, text));
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    write(json).map_err(|source| crate::error::PipelineError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(report)
}
