//! The figures that a page and its API share: runs per day and the dashboard's
//! figures, and each flow with its latest run and its deployments.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::state::{DashboardState, DeploymentView};
use crate::runtime::{FlowRunRecord, RunState, RunStore, RuntimeError};

/// The days the dashboard looks back over (today included).
pub(crate) const DAYS: u32 = 14;

/// How many recent failures the dashboard shows.
const FAILURES: usize = 8;

/// The runs of the last days.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Each day (UTC), oldest first, with its runs by state (created that day).
    pub(crate) days: Vec<(NaiveDate, BTreeMap<RunState, u64>)>,
    /// The mean duration of the completed runs of those days.
    pub(crate) mean_duration: Option<Duration>,
    /// The latest failed or crashed runs, newest first (of any day).
    pub(crate) failures: Vec<FlowRunRecord>,
}

impl Stats {
    /// The last `days` days (today included) of `store`'s runs.
    pub(crate) async fn load(
        store: &RunStore,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<Self, RuntimeError> {
        let today = now.date_naive();
        let first = today
            .checked_sub_days(Days::new(u64::from(days.max(1) - 1)))
            .unwrap_or(today);
        let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let mut by_day: BTreeMap<NaiveDate, BTreeMap<RunState, u64>> = first
            .iter_days()
            .take_while(|day| *day <= today)
            .map(|day| (day, BTreeMap::new()))
            .collect();
        for count in store.runs_per_day(since).await? {
            *by_day
                .entry(count.day)
                .or_default()
                .entry(count.state)
                .or_default() += count.runs;
        }
        Ok(Stats {
            days: by_day.into_iter().collect(),
            mean_duration: store.mean_duration(since).await?,
            failures: store.recent_failures(FAILURES).await?,
        })
    }

    /// The runs in `states`, over the days.
    fn count(&self, states: &[RunState]) -> u64 {
        self.days
            .iter()
            .flat_map(|(_, counts)| counts.iter())
            .filter(|(state, _)| states.contains(state))
            .map(|(_, runs)| runs)
            .sum()
    }

    /// Every run of the days.
    pub(crate) fn runs(&self) -> u64 {
        self.count(&RunState::ALL)
    }

    /// The runs of the days still going (pending, running, retrying).
    pub(crate) fn active(&self) -> u64 {
        self.count(&[RunState::Pending, RunState::Running, RunState::Retrying])
    }

    /// The share of the ended runs (completed, failed, crashed, cancelled) that
    /// completed, from 0 to 1 (`None` before any ended).
    pub(crate) fn success_rate(&self) -> Option<f64> {
        let completed = self.count(&[RunState::Completed]);
        let ended = self.count(&[
            RunState::Completed,
            RunState::Failed,
            RunState::Crashed,
            RunState::Cancelled,
        ]);
        (ended > 0).then(|| completed as f64 / ended as f64)
    }
}

/// A flow: known from its runs, from its deployments, or both.
#[derive(Debug, Clone)]
pub(crate) struct FlowOverview {
    /// Its name.
    pub(crate) name: String,
    /// Its latest run.
    pub(crate) last_run: Option<FlowRunRecord>,
    /// The deployments that run it.
    pub(crate) deployments: Vec<DeploymentView>,
}

impl FlowOverview {
    /// The next `n` scheduled runs of its deployments that are not paused, soonest
    /// first.
    pub(crate) fn next_runs(&self, n: usize) -> Vec<DateTime<Utc>> {
        let mut next: Vec<DateTime<Utc>> = self
            .deployments
            .iter()
            .filter(|deployment| !deployment.paused)
            .flat_map(|deployment| deployment.next_runs.iter().copied())
            .collect();
        next.sort();
        next.truncate(n);
        next
    }
}

/// Every flow, by name: those with runs and those of the deployments.
pub(crate) async fn flows(state: &DashboardState) -> Result<Vec<FlowOverview>, RuntimeError> {
    let mut flows: BTreeMap<String, FlowOverview> = BTreeMap::new();
    for run in state.store().latest_run_per_flow().await? {
        flows.insert(
            run.flow.clone(),
            FlowOverview {
                name: run.flow.clone(),
                last_run: Some(run),
                deployments: Vec::new(),
            },
        );
    }
    for deployment in state.launcher().deployments() {
        flows
            .entry(deployment.flow.clone())
            .or_insert_with(|| FlowOverview {
                name: deployment.flow.clone(),
                last_run: None,
                deployments: Vec::new(),
            })
            .deployments
            .push(deployment);
    }
    Ok(flows.into_values().collect())
}
