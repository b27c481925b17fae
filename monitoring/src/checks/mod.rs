//! Data-quality checks: declared in configuration, judged on a run's profiles, its
//! metrics history and, for SQL checks, the tables themselves.
//!
//! ```toml
//! [[quality.checks]]
//! id = "transactions_arrive"
//! table = "fact_transactions"
//! severity = "error"                 # info | warn | error
//! owner = "data-team@bank.example"
//! volume = { min = 1000 }
//!
//! [[quality.checks]]
//! id = "amount_complete"
//! table = "transactions"
//! severity = "error"
//! completeness = { column = "amount", max_null_rate = 0.0 }
//!
//! [[quality.checks]]
//! id = "bookings_fresh"
//! table = "transactions"
//! severity = "warn"
//! freshness = { column = "booked_at", max_age_hours = 48 }
//!
//! [[quality.checks]]
//! id = "volume_usual"
//! table = "fact_transactions"
//! severity = "warn"
//! anomaly = { metric = "rows", k = 4.0, min_history = 5 }
//!
//! [[quality.checks]]
//! id = "amounts_stable"
//! table = "fact_transactions"
//! severity = "error"                 # a significant drift; a moderate one warns
//! drift = { column = "amount_eur", warn_psi = 0.1, max_psi = 0.25, reference = "pooled" }
//!
//! [[quality.checks]]
//! id = "revenue_usual"
//! table = "fact_revenue"
//! severity = "warn"
//! total = { column = "amount_eur", by = "revenue_type", k = 4.0 }
//!
//! [[quality.checks]]
//! id = "fraud_alert_rate_usual"
//! table = "fact_fraudes"
//! severity = "warn"
//! rate = { per = "fact_transactions" }   # fact_fraudes rows per fact_transactions row
//!
//! [[quality.checks]]
//! id = "no_negative_balances"
//! table = "fact_loans"
//! severity = "error"
//! sql = { query = "SELECT loan_id FROM fact_loans WHERE outstanding_principal < 0" }
//! ```
//!
//! `anomaly`, `total` and `rate` judge a figure against the robust band of its
//! trailing runs ([`BandRule`]: `window`, `min_history`, `k`, `min_relative_width`,
//! `min_absolute_width`); `drift` compares a column's distribution with earlier runs'
//! by the PSI ([`DriftRule`]: `window`, `min_history`, `reference`, `warn_psi`,
//! `max_psi`). None of them judges before `min_history` earlier runs.
//!
//! Besides the declared checks, [`default_checks`] watch every measured table's volume
//! and every column's null rate against their history (warnings; they judge nothing
//! before the history is long enough).

mod drift;
mod jumps;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use transformation::sql::quote_ident;
use transformation::validation::{Check as ValidationCheck, CheckSpec};

use crate::anomaly::{BandRule, Judgement};
use crate::drift::DriftRule;
use crate::measure::Measure;
use crate::metrics::{History, Metric};
use crate::personal::{MASK, is_personal};
use crate::profile::TableProfile;

pub use drift::drift_of;

/// How bad a failed check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Someone should look.
    Warn,
    /// The data is not fit to publish.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
        })
    }
}

/// What a check looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// The row count lies within bounds.
    Volume {
        /// The fewest rows accepted.
        min: Option<u64>,
        /// The most rows accepted.
        max: Option<u64>,
    },
    /// A column's share of missing values is at most `max_null_rate`.
    Completeness {
        /// The column.
        column: String,
        /// The highest share of nulls accepted (0–1).
        max_null_rate: f64,
    },
    /// A time column's newest value is at most `max_age_hours` older than the end of
    /// the run's business day.
    Freshness {
        /// The date or timestamp column.
        column: String,
        /// The oldest age accepted, in hours.
        max_age_hours: f64,
    },
    /// A metric lies within the robust band of its history.
    Anomaly {
        /// The metric (`rows`, `null_rate`, `distinct`, `min`, `max`, `mean`).
        metric: String,
        /// The column, for a column's metric.
        column: Option<String>,
        /// How the history is judged.
        band: BandRule,
    },
    /// A column's distribution stays close to earlier runs' (PSI, see
    /// [`crate::drift`]): a moderate drift fails as a warning, a significant one at the
    /// check's severity.
    Drift {
        /// The column (numbers are binned on the log scale, anything else by code).
        column: String,
        /// How the drift is judged.
        rule: DriftRule,
    },
    /// A column's sum, and its sum per value of `by`, lie within the robust band of
    /// their history: a jump fails.
    Total {
        /// The column summed.
        column: String,
        /// The column whose values split the sum (a code column).
        by: Option<String>,
        /// How the history is judged.
        band: BandRule,
    },
    /// The table's rows per row of table `per` (e.g. fraud alerts per transaction) lie
    /// within the robust band of their history.
    Rate {
        /// The table divided by.
        per: String,
        /// How the history is judged.
        band: BandRule,
    },
    /// A query over the warehouse's tables returns at most `max_rows` rows (the rows
    /// that break an expectation).
    Sql {
        /// The query.
        query: String,
        /// The most rows accepted (0 by default).
        max_rows: u64,
    },
}

/// One declared check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "CheckToml")]
pub struct Check {
    /// A stable id.
    pub id: String,
    /// The table checked (a processed entity, a star table or a mart).
    pub table: String,
    /// How bad a failure is.
    pub severity: Severity,
    /// Who is told (a team or an address).
    pub owner: Option<String>,
    /// What is checked.
    pub kind: CheckKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckToml {
    id: String,
    table: String,
    severity: Severity,
    owner: Option<String>,
    volume: Option<VolumeToml>,
    completeness: Option<CompletenessToml>,
    freshness: Option<FreshnessToml>,
    anomaly: Option<AnomalyToml>,
    drift: Option<DriftToml>,
    total: Option<TotalToml>,
    rate: Option<RateToml>,
    sql: Option<SqlToml>,
    rule: Option<CheckSpec>,
    references: Option<ReferencesToml>,
}

/// Referential integrity: every non-null `column` of the check's table is a `key` of
/// `table`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferencesToml {
    column: String,
    table: String,
    key: String,
}

impl ReferencesToml {
    /// The rows of `table` whose reference finds no row.
    fn orphans_sql(&self, table: &str) -> String {
        format!(
            "SELECT f.* FROM {} f WHERE f.{column} IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM {} p WHERE p.{} = f.{column})",
            quote_ident(table),
            quote_ident(&self.table),
            quote_ident(&self.key),
            column = quote_ident(&self.column),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeToml {
    min: Option<u64>,
    max: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletenessToml {
    column: String,
    max_null_rate: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreshnessToml {
    column: String,
    max_age_hours: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnomalyToml {
    metric: String,
    column: Option<String>,
    #[serde(flatten)]
    band: BandRule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriftToml {
    column: String,
    #[serde(flatten)]
    rule: DriftRule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TotalToml {
    column: String,
    by: Option<String>,
    #[serde(flatten)]
    band: BandRule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateToml {
    per: String,
    #[serde(flatten)]
    band: BandRule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlToml {
    query: String,
    #[serde(default)]
    max_rows: u64,
}

impl TryFrom<CheckToml> for Check {
    type Error = String;

    fn try_from(raw: CheckToml) -> Result<Check, String> {
        let mut kinds = Vec::new();
        if let Some(VolumeToml { min, max }) = raw.volume {
            kinds.push(CheckKind::Volume { min, max });
        }
        if let Some(CompletenessToml {
            column,
            max_null_rate,
        }) = raw.completeness
        {
            kinds.push(CheckKind::Completeness {
                column,
                max_null_rate,
            });
        }
        if let Some(FreshnessToml {
            column,
            max_age_hours,
        }) = raw.freshness
        {
            kinds.push(CheckKind::Freshness {
                column,
                max_age_hours,
            });
        }
        if let Some(AnomalyToml {
            metric,
            column,
            band,
        }) = raw.anomaly
        {
            kinds.push(CheckKind::Anomaly {
                metric,
                column,
                band,
            });
        }
        if let Some(DriftToml { column, rule }) = raw.drift {
            kinds.push(CheckKind::Drift { column, rule });
        }
        if let Some(TotalToml { column, by, band }) = raw.total {
            kinds.push(CheckKind::Total { column, by, band });
        }
        if let Some(RateToml { per, band }) = raw.rate {
            kinds.push(CheckKind::Rate { per, band });
        }
        if let Some(SqlToml { query, max_rows }) = raw.sql {
            kinds.push(CheckKind::Sql { query, max_rows });
        }
        // Validation's rules, judged on the whole table: its breaking rows, none allowed.
        if let Some(spec) = raw.rule {
            let rule = ValidationCheck::try_from(spec)
                .map_err(|message| format!("check `{}`: rule {message}", raw.id))?;
            kinds.push(CheckKind::Sql {
                query: rule.failing_rows_sql(&raw.table),
                max_rows: 0,
            });
        }
        if let Some(references) = raw.references {
            kinds.push(CheckKind::Sql {
                query: references.orphans_sql(&raw.table),
                max_rows: 0,
            });
        }
        if kinds.len() != 1 {
            return Err(format!(
                "check `{}` needs exactly one of volume, completeness, freshness, anomaly, drift, total, rate, sql, rule, references (it has {})",
                raw.id,
                kinds.len()
            ));
        }
        let kind = kinds.remove(0);
        validate(&kind).map_err(|message| format!("check `{}`: {message}", raw.id))?;
        Ok(Check {
            id: raw.id,
            table: raw.table,
            severity: raw.severity,
            owner: raw.owner,
            kind,
        })
    }
}

/// Why a check of that kind cannot be judged, if it cannot.
fn validate(kind: &CheckKind) -> Result<(), String> {
    let named = |what: &str, name: &str| {
        if name.trim().is_empty() {
            Err(format!("{what} is empty"))
        } else {
            Ok(())
        }
    };
    match kind {
        CheckKind::Anomaly { band, .. } => band.validate().map_err(|e| format!("anomaly {e}")),
        CheckKind::Drift { column, rule } => {
            named("drift.column", column)?;
            if is_personal(column) {
                return Err(format!(
                    "drift.column `{column}` is personal data: its values are never counted"
                ));
            }
            rule.validate().map_err(|e| format!("drift {e}"))
        }
        CheckKind::Total { column, by, band } => {
            named("total.column", column)?;
            if let Some(by) = by {
                named("total.by", by)?;
                if is_personal(by) {
                    return Err(format!(
                        "total.by `{by}` is personal data: its values are never shown"
                    ));
                }
            }
            band.validate().map_err(|e| format!("total {e}"))
        }
        CheckKind::Rate { per, band } => {
            named("rate.per", per)?;
            band.validate().map_err(|e| format!("rate {e}"))
        }
        CheckKind::Volume { .. }
        | CheckKind::Completeness { .. }
        | CheckKind::Freshness { .. }
        | CheckKind::Sql { .. } => Ok(()),
    }
}

impl Check {
    /// The figure this check needs measured beyond the profile, if any (see
    /// [`crate::measure`]).
    pub fn measure(&self) -> Option<Measure> {
        match &self.kind {
            CheckKind::Drift { column, .. } => Some(Measure::Distribution {
                table: self.table.clone(),
                column: column.clone(),
            }),
            CheckKind::Total { column, by, .. } => Some(Measure::Total {
                table: self.table.clone(),
                column: column.clone(),
                by: by.clone(),
            }),
            _ => None,
        }
    }
}

/// The `[quality]` settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// The declared checks.
    pub checks: Vec<Check>,
    /// Whether every table's volume and every column's null rate are watched against
    /// their history too (see [`default_checks`]).
    pub watch_history: bool,
    /// How the default watches judge history.
    pub band: BandRule,
    /// Who is told of failures, and how.
    pub alerts: crate::alerts::AlertConfig,
    /// What a failed error-level check does to the run.
    pub on_error: OnError,
}

/// What a failed error-level check does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// The run fails before anything else uses its data (the PostgreSQL sink).
    #[default]
    Block,
    /// The run goes on; the failure is reported and alerted like any other.
    Warn,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            checks: Vec::new(),
            watch_history: true,
            band: BandRule::default(),
            alerts: crate::alerts::AlertConfig::default(),
            on_error: OnError::Block,
        }
    }
}

/// The watches of every measured table: its volume, and each column's null rate
/// (within a percentage point at least), against their history.
pub fn default_checks(profiles: &[TableProfile], band: BandRule) -> Vec<Check> {
    let mut checks = Vec::new();
    for profile in profiles {
        checks.push(Check {
            id: format!("{}.rows_usual", profile.table),
            table: profile.table.clone(),
            severity: Severity::Warn,
            owner: None,
            kind: CheckKind::Anomaly {
                metric: "rows".into(),
                column: None,
                band,
            },
        });
        for column in &profile.columns {
            checks.push(Check {
                id: format!("{}.{}.null_rate_usual", profile.table, column.column),
                table: profile.table.clone(),
                severity: Severity::Warn,
                owner: None,
                kind: CheckKind::Anomaly {
                    metric: "null_rate".into(),
                    column: Some(column.column.clone()),
                    band: BandRule {
                        min_absolute_width: band.min_absolute_width.max(0.01),
                        ..band
                    },
                },
            });
        }
    }
    checks
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It holds.
    Pass,
    /// It does not.
    Fail,
    /// It could not be judged yet (too little history).
    NotJudged,
}

/// The verdict of one check on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The check's id.
    pub check: String,
    /// The table checked.
    pub table: String,
    /// How bad a failure is.
    pub severity: Severity,
    /// Who is told.
    pub owner: Option<String>,
    /// How it came out.
    pub outcome: Outcome,
    /// What was seen, in words.
    pub observed: String,
    /// What was expected, in words.
    pub expected: String,
}

impl Verdict {
    /// Whether this verdict should stop the warehouse from being published.
    pub fn blocks(&self) -> bool {
        self.outcome == Outcome::Fail && self.severity == Severity::Error
    }
}

/// What the checks of a run are judged on.
#[derive(Clone, Copy)]
pub struct Evidence<'a> {
    /// This run's profiles.
    pub profiles: &'a [TableProfile],
    /// This run's figures beyond the profiles (see [`crate::measure`]).
    pub measured: &'a [Metric],
    /// Earlier runs' metrics.
    pub history: &'a History,
    /// A session where the tables are registered under their names (SQL checks).
    pub ctx: &'a SessionContext,
    /// The end of the run's business day: freshness is measured from it.
    pub business_day_end: DateTime<Utc>,
}

/// Judges `check` on `evidence`. A table or column that was not measured fails the
/// check (a check that cannot look is not a check that passes).
pub async fn judge(check: &Check, evidence: &Evidence<'_>) -> Verdict {
    let verdict = |outcome, observed, expected| Verdict::of(check, outcome, observed, expected);
    let pass_if = |ok: bool| if ok { Outcome::Pass } else { Outcome::Fail };
    if let CheckKind::Sql { query, max_rows } = &check.kind {
        let expected = format!("at most {max_rows} rows");
        return match run_query(evidence.ctx, query).await {
            Ok((rows, first)) => {
                let observed = match first {
                    Some(first) if rows > 0 => format!("{rows} rows, first: {first}"),
                    _ => format!("{rows} rows"),
                };
                verdict(pass_if(rows <= *max_rows), observed, expected)
            }
            Err(error) => verdict(Outcome::Fail, format!("query failed: {error}"), expected),
        };
    }
    let Some(profile) = evidence.profiles.iter().find(|p| p.table == check.table) else {
        return verdict(
            Outcome::Fail,
            "table not measured in this run".into(),
            "the table to exist".into(),
        );
    };
    let missing_column = |column: &str| {
        verdict(
            Outcome::Fail,
            format!("no column {column}"),
            format!("a column {column}"),
        )
    };
    match &check.kind {
        CheckKind::Volume { min, max } => {
            let ok = min.is_none_or(|m| profile.rows >= m) && max.is_none_or(|m| profile.rows <= m);
            let expected = match (min, max) {
                (Some(min), Some(max)) => format!("{min}–{max} rows"),
                (Some(min), None) => format!("at least {min} rows"),
                (None, Some(max)) => format!("at most {max} rows"),
                (None, None) => "any number of rows".into(),
            };
            verdict(pass_if(ok), format!("{} rows", profile.rows), expected)
        }
        CheckKind::Completeness {
            column,
            max_null_rate,
        } => match profile.null_rate(column) {
            Some(rate) => verdict(
                pass_if(rate <= *max_null_rate),
                format!("{:.2} % null", rate * 100.0),
                format!("at most {:.2} % null", max_null_rate * 100.0),
            ),
            None => missing_column(column),
        },
        CheckKind::Freshness {
            column,
            max_age_hours,
        } => {
            let Some(profile) = profile.column(column) else {
                return missing_column(column);
            };
            let expected = format!("newest value at most {max_age_hours} h old");
            match profile.max {
                Some(newest) => {
                    let end = evidence.business_day_end.timestamp() as f64;
                    let age_hours = (end - newest) / 3600.0;
                    verdict(
                        pass_if(age_hours <= *max_age_hours),
                        format!("newest value {age_hours:.1} h old"),
                        expected,
                    )
                }
                None => verdict(Outcome::Fail, "no value at all".into(), expected),
            }
        }
        CheckKind::Anomaly {
            metric,
            column,
            band,
        } => {
            let value = crate::metrics::metrics_of(profile)
                .into_iter()
                .find(|m| m.column == *column && m.metric == *metric)
                .map(|m| m.value);
            let Some(value) = value else {
                let what = column
                    .as_deref()
                    .map_or(metric.clone(), |c| format!("{c} {metric}"));
                return verdict(
                    Outcome::Fail,
                    format!("{what} not measured"),
                    "a measured metric".into(),
                );
            };
            let history = evidence
                .history
                .values(&check.table, column.as_deref(), metric);
            let (outcome, expected) = band_outcome(band.judge(value, &history));
            verdict(outcome, format!("{metric} {}", number(value)), expected)
        }
        CheckKind::Drift { column, rule } => match profile.column(column) {
            Some(_) => drift::judge(check, column, rule, evidence),
            None => missing_column(column),
        },
        CheckKind::Total { column, by, band } => match profile.column(column) {
            Some(_) => jumps::judge_total(check, column, by.as_deref(), band, evidence),
            None => missing_column(column),
        },
        CheckKind::Rate { per, band } => jumps::judge_rate(check, profile, per, band, evidence),
        CheckKind::Sql { .. } => verdict(Outcome::NotJudged, String::new(), String::new()),
    }
}

/// A band's judgement as an outcome and what was expected, in words.
fn band_outcome(judgement: Judgement) -> (Outcome, String) {
    match judgement {
        Judgement::NotEnoughHistory { have, need } => (
            Outcome::NotJudged,
            format!("{need} earlier runs to judge by ({have} so far)"),
        ),
        Judgement::Usual(band) => (Outcome::Pass, band_text(band)),
        Judgement::Unusual(band) => (Outcome::Fail, band_text(band)),
    }
}

/// A band in words.
fn band_text(band: crate::anomaly::Band) -> String {
    format!(
        "{}–{} (median {} of the last runs)",
        number(band.low),
        number(band.high),
        number(band.median)
    )
}

impl Verdict {
    /// The verdict of `check` with its severity, owner and table.
    fn of(check: &Check, outcome: Outcome, observed: String, expected: String) -> Verdict {
        Verdict {
            check: check.id.clone(),
            table: check.table.clone(),
            severity: check.severity,
            owner: check.owner.clone(),
            outcome,
            observed,
            expected,
        }
    }
}

/// Runs an SQL check's query: its row count and its first row as `column=value`
/// pairs, with the contract's personal columns masked (the sample goes to reports and
/// alerts).
async fn run_query(
    ctx: &SessionContext,
    query: &str,
) -> datafusion::error::Result<(u64, Option<String>)> {
    let batches = ctx.sql(query).await?.collect().await?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let first = batches.iter().find(|b| b.num_rows() > 0).map(|batch| {
        let formatter = arrow::util::display::ArrayFormatter::try_new;
        let options = arrow::util::display::FormatOptions::default().with_null("null");
        batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .take(8)
            .map(|(field, column)| {
                let value = if is_personal(field.name()) {
                    MASK.to_owned()
                } else {
                    formatter(column.as_ref(), &options)
                        .map(|f| f.value(0).to_string())
                        .unwrap_or_default()
                };
                format!("{}={value}", field.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    Ok((rows, first))
}

/// A number as a person reads it: whole when it is, else with up to 4 decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.4}")
    }
}

/// The verdicts as a table: the counts, then each failure, errors first; passes and
/// checks not judged yet are counted, not listed.
pub fn render(verdicts: &[Verdict]) -> String {
    let mut failed: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .collect();
    failed.sort_by_key(|v| std::cmp::Reverse(v.severity));
    let count = |outcome| verdicts.iter().filter(|v| v.outcome == outcome).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} checks: {} passed, {} failed, {} not judged yet (too little history)",
        verdicts.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::NotJudged)
    );
    for v in failed {
        let _ = writeln!(
            out,
            "  FAILED {:<5} {:<40} {} (expected {})",
            v.severity.to_string(),
            v.check,
            v.observed,
            v.expected
        );
    }
    out
}
