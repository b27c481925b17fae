//! Monitoring: what each run's data looks like, kept as history, and judged.
//!
//! - [`profile`]: per table and column, the row count, nulls, distinct values, the
//!   range, mean and quantiles of numbers, dates and flags (one DataFusion aggregate
//!   per table, quantiles by [`quantiles`]) and the frequent values of codes;
//! - [`quantiles`]: an aggregate giving several quantiles of a column from one t-digest;
//! - [`metrics`]: those figures as rows of a Delta table (`data/monitoring/metrics`),
//!   one set per run, so the history accumulates;
//! - [`anomaly`]: robust bands over a metric's history (median ± k·MAD);
//! - [`drift`]: how far a column's distribution moved from earlier runs' (PSI), on
//!   bins stored per run;
//! - [`measure`]: the figures some checks need beyond the profile (distributions,
//!   sums), measured on the tables;
//! - [`personal`]: the contract's personal columns, masked wherever values are shown;
//! - [`checks`]: the checks declared in configuration (volume, completeness,
//!   freshness, anomalies, drift, totals, rates, SQL) and the [`checks::Verdict`]s they give;
//! - [`report`]: the verdicts, charts of the history and the quarantine as one HTML file;
//! - [`alerts`]: failed checks told once (then on change or after a while) to the log, a
//!   JSON-lines file, a webhook or e-mail, with a recovery message.
#![deny(missing_docs)]

pub mod alerts;
pub mod anomaly;
pub mod checks;
pub mod drift;
pub mod error;
pub mod measure;
pub mod metrics;
pub mod personal;
pub mod profile;
pub mod quantiles;
pub mod report;

pub use error::{MonitoringError, Result};
