//! The schedules' errors: deployments that do not hold together (every problem at
//! once, each naming its deployment and field), a deployment not declared, a backfill
//! range refused, and the run store.

use std::fmt;

use chrono::NaiveDate;

use crate::runtime::RuntimeError;

/// One problem of one deployment of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The deployment (its name, or `#N` when it has none: its place, from 1).
    pub deployment: String,
    /// The field at fault (`name`, `cron`, `timezone`, …).
    pub field: &'static str,
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deployment `{}`, field `{}`: {}",
            self.deployment, self.field, self.message
        )
    }
}

/// Why a schedule could not be loaded, changed or expanded.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The `[[deployments]]` of the configuration have problems (all of them listed).
    #[error(
        "invalid [[deployments]] in the configuration:\n{}",
        .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Invalid(Vec<Problem>),
    /// No deployment has this name.
    #[error("no deployment named `{name}` in the configuration (deployments: {known})")]
    UnknownDeployment {
        /// The name asked for.
        name: String,
        /// The declared names, comma-separated (`none` if there are none).
        known: String,
    },
    /// A backfill range that ends before it starts.
    #[error("backfill from {from} to {to}: the start is after the end; swap them")]
    ReversedRange {
        /// The first business date asked for.
        from: NaiveDate,
        /// The last business date asked for.
        to: NaiveDate,
    },
    /// A backfill range longer than allowed.
    #[error(
        "backfill from {from} to {to} is {days} business dates, more than the {max} allowed \
         at once; split the range, or raise the limit"
    )]
    RangeTooLong {
        /// The first business date asked for.
        from: NaiveDate,
        /// The last business date asked for.
        to: NaiveDate,
        /// The dates in the range.
        days: u64,
        /// The most allowed.
        max: u32,
    },
    /// The run store failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The result type of the schedules.
pub type Result<T, E = ScheduleError> = std::result::Result<T, E>;
