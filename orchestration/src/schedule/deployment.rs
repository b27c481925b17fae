//! Deployments as declared in the configuration file's `[[deployments]]`, and their
//! validation.
//!
//! ```toml
//! [[deployments]]
//! name = "bank-daily"
//! cron = "0 8 * * *"                 # 08:00 every day …
//! timezone = "Europe/Paris"          # … in Paris (the default)
//! catch_up = "latest"                # after a downtime, run the latest missed once
//! parameters = { business_date = "yesterday", sinks = "delta,postgres" }
//! description = "The daily load of yesterday's extracts"
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::cron::Schedule;
use super::error::{Problem, Result, ScheduleError};
use crate::runtime::store::DeploymentState;

/// A flow run on a schedule, with its parameters: one `[[deployments]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Its name, unique among the deployments: letters, digits, `-`, `_` and `.`
    /// (it appears in commands, URLs and the run store).
    pub name: String,
    /// The flow it runs (default `daily`).
    #[serde(default = "default_flow")]
    pub flow: String,
    /// When it runs: a 5-field cron expression (minute hour day-of-month month
    /// day-of-week), read in [`timezone`](Self::timezone); e.g. `0 8 * * *`.
    pub cron: String,
    /// The IANA time zone the cron expression is read in (default `Europe/Paris`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The parameters of each flow run it starts (business date, sinks, …).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// What to do with the occurrences missed while no scheduler ran (default `skip`).
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Whether it starts paused. Once paused or resumed from the dashboard or the
    /// command, the run store's state wins over this value.
    #[serde(default)]
    pub paused: bool,
    /// What it is for, shown on the dashboard.
    #[serde(default)]
    pub description: Option<String>,
}

/// What the scheduler does with occurrences it missed (more than its grace period
/// late: the process was down, or busy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Launches none of them: the next run is the next occurrence.
    #[default]
    Skip,
    /// Launches the most recent of them, once.
    Latest,
    /// Launches every one, oldest first, up to the scheduler's
    /// [`max_catch_up`](super::SchedulerOptions::max_catch_up) most recent.
    All,
}

fn default_flow() -> String {
    "daily".to_owned()
}

fn default_timezone() -> String {
    "Europe/Paris".to_owned()
}

impl Deployment {
    /// Its schedule, or its problems (cron, time zone) if they do not parse.
    pub fn schedule(&self) -> Result<Schedule> {
        self.parse_schedule().map_err(ScheduleError::Invalid)
    }

    fn parse_schedule(&self) -> Result<Schedule, Vec<Problem>> {
        Schedule::parse(&self.cron, &self.timezone).map_err(|problems| {
            problems
                .into_iter()
                .map(|(field, message)| self.problem(field, message))
                .collect()
        })
    }

    /// Whether it is paused, given its stored state (if any): a stored pause or
    /// resume wins over the configuration's [`paused`](Self::paused).
    pub fn is_paused(&self, state: Option<&DeploymentState>) -> bool {
        state.and_then(|state| state.paused).unwrap_or(self.paused)
    }

    fn problem(&self, field: &'static str, message: String) -> Problem {
        Problem {
            deployment: self.name.clone(),
            field,
            message,
        }
    }
}

/// Checks the deployments together and returns their schedules, in the same order;
/// or every problem found (each naming its deployment and field): a name that is
/// empty, has other characters than letters, digits, `-`, `_`, `.`, or is used twice;
/// an empty flow; a cron expression that does not parse or matches no date; an unknown
/// time zone.
pub fn validate(deployments: &[Deployment]) -> Result<Vec<Schedule>> {
    let mut problems = Vec::new();
    let mut schedules = Vec::with_capacity(deployments.len());
    let mut seen = BTreeSet::new();
    for (position, deployment) in deployments.iter().enumerate() {
        let mut named = deployment.clone();
        if named.name.is_empty() {
            named.name = format!("#{}", position + 1);
            problems.push(named.problem("name", "is empty; give the deployment a name".into()));
        } else if !named
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(named.problem(
                "name",
                "may only hold letters, digits, `-`, `_` and `.`".into(),
            ));
        } else if !seen.insert(deployment.name.as_str()) {
            problems.push(named.problem(
                "name",
                "is used by an earlier deployment; give each deployment its own name".into(),
            ));
        }
        if named.flow.trim().is_empty() {
            problems.push(named.problem("flow", "is empty; name the flow to run".into()));
        }
        match named.parse_schedule() {
            Ok(schedule) => schedules.push(schedule),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(schedules)
    } else {
        Err(ScheduleError::Invalid(problems))
    }
}
