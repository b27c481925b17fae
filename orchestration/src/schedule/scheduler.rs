//! The scheduler: which occurrences are due (pure, given the stored state), claiming
//! each in the run store before launching it, and the loop that does so on time.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;

use super::clock::Clock;
use super::cron::Schedule;
use super::deployment::{CatchUp, Deployment, validate};
use super::error::{Result, ScheduleError};
use crate::runtime::store::DeploymentState;
use crate::runtime::{FlowRunId, RunStore, RuntimeError};

/// Starts the flow run of a deployment's occurrence: what `bankpipe serve` gives the
/// scheduler. It should return once the run is created (with its id), not wait for it
/// to end: the scheduler launches one occurrence after the other.
pub trait Launcher: Send + Sync {
    /// Starts a run of `deployment` for its occurrence `scheduled_for`.
    fn launch<'a>(
        &'a self,
        deployment: &'a Deployment,
        scheduled_for: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<FlowRunId, RuntimeError>>;
}

/// An occurrence of a deployment to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    /// The deployment's name.
    pub deployment: String,
    /// The occurrence: when the schedule said it should run.
    pub scheduled_for: DateTime<Utc>,
}

/// How the scheduler treats late occurrences and how often it looks at the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerOptions {
    /// An occurrence at most this late is on time and always launched; a later one is
    /// *missed*, and its deployment's [`CatchUp`] policy decides. Default 5 minutes.
    pub grace: Duration,
    /// The longest the loop sleeps before it looks at the store again (to see a pause
    /// or a resume). Default 30 seconds.
    pub poll_interval: Duration,
    /// The most occurrences of one deployment launched at once (by
    /// [`CatchUp::All`]): the most recent are kept. Default 31.
    pub max_catch_up: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            grace: Duration::from_secs(300),
            poll_interval: Duration::from_secs(30),
            max_catch_up: 31,
        }
    }
}

/// The deployments' scheduler, over a run store.
#[derive(Debug, Clone)]
pub struct Scheduler {
    entries: Vec<(Deployment, Schedule)>,
    store: RunStore,
    options: SchedulerOptions,
}

impl Scheduler {
    /// A scheduler of `deployments` (checked with [`validate`]) that keeps their state
    /// in `store`, with the default [`SchedulerOptions`].
    pub fn new(deployments: Vec<Deployment>, store: RunStore) -> Result<Self> {
        let schedules = validate(&deployments)?;
        Ok(Scheduler {
            entries: deployments.into_iter().zip(schedules).collect(),
            store,
            options: SchedulerOptions::default(),
        })
    }

    /// The same scheduler with `options`.
    pub fn with_options(self, options: SchedulerOptions) -> Self {
        Scheduler { options, ..self }
    }

    /// The deployments with their schedules, in the configuration's order.
    pub fn deployments(&self) -> impl Iterator<Item = (&Deployment, &Schedule)> {
        self.entries
            .iter()
            .map(|(deployment, schedule)| (deployment, schedule))
    }

    /// The deployment named `name`, with its schedule.
    pub fn deployment(&self, name: &str) -> Result<(&Deployment, &Schedule)> {
        self.deployments()
            .find(|(deployment, _)| deployment.name == name)
            .ok_or_else(|| ScheduleError::UnknownDeployment {
                name: name.to_owned(),
                known: match self.entries.is_empty() {
                    true => "none".to_owned(),
                    false => self
                        .deployments()
                        .map(|(d, _)| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            })
    }

    /// Pauses deployment `name` in the run store (see
    /// [`RunStore::pause_deployment`]).
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.deployment(name)?;
        Ok(self.store.pause_deployment(name).await?)
    }

    /// Resumes deployment `name` in the run store. The occurrences it missed while
    /// paused are not caught up (the loop skips them as they pass).
    pub async fn resume(&self, name: &str) -> Result<()> {
        self.deployment(name)?;
        Ok(self.store.resume_deployment(name).await?)
    }

    /// The occurrences due at `now` given the deployments' stored `states`, oldest
    /// first: for each deployment not paused, its occurrences after its watermark
    /// (or, never seen, after `now` less the grace period) and at or before `now`,
    /// those on time always, the missed ones as its [`CatchUp`] says, at most
    /// [`max_catch_up`](SchedulerOptions::max_catch_up) of them (the latest).
    pub fn due(&self, states: &[DeploymentState], now: DateTime<Utc>) -> Vec<DueRun> {
        let grace = TimeDelta::from_std(self.options.grace).unwrap_or(TimeDelta::MAX);
        let on_time_since = now
            .checked_sub_signed(grace)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut due = Vec::new();
        for (deployment, schedule) in &self.entries {
            let state = states.iter().find(|state| state.name == deployment.name);
            if deployment.is_paused(state) {
                continue;
            }
            let after = state
                .and_then(|state| state.checked_until)
                .unwrap_or(on_time_since);
            let mut runs = Vec::new();
            let mut cursor = schedule.previous(now, true);
            while let Some(at) = cursor {
                if at <= after || runs.len() >= self.options.max_catch_up {
                    break;
                }
                if at < on_time_since {
                    match deployment.catch_up {
                        CatchUp::Skip => break,
                        CatchUp::Latest => {
                            if runs.is_empty() {
                                runs.push(at);
                            }
                            break;
                        }
                        CatchUp::All => {}
                    }
                }
                runs.push(at);
                cursor = schedule.previous(at, false);
            }
            due.extend(runs.into_iter().rev().map(|scheduled_for| DueRun {
                deployment: deployment.name.clone(),
                scheduled_for,
            }));
        }
        due.sort_by(|a, b| (a.scheduled_for, &a.deployment).cmp(&(b.scheduled_for, &b.deployment)));
        due
    }

    /// One pass at `now`: reads the stored states, claims each due occurrence in the
    /// store and then launches it (an occurrence already claimed, by this scheduler
    /// before a restart or by another one, is not launched again), then moves every
    /// deployment's watermark to `now`, so that the occurrences not launched (missed
    /// and skipped, or passed while paused) are skipped for good. Returns the
    /// occurrences launched with their runs; a launch that fails is logged and left.
    pub async fn tick(
        &self,
        now: DateTime<Utc>,
        launcher: &dyn Launcher,
    ) -> Result<Vec<(DueRun, FlowRunId)>> {
        let states = self.store.deployment_states().await?;
        let mut launched = Vec::new();
        for run in self.due(&states, now) {
            let (deployment, _) = self.deployment(&run.deployment)?;
            let claimed = self
                .store
                .claim_occurrence(&deployment.name, run.scheduled_for, deployment.paused)
                .await?;
            if !claimed {
                tracing::info!(
                    "deployment `{}`: the run scheduled for {} was already launched or \
                     skipped, or the deployment was just paused",
                    run.deployment,
                    run.scheduled_for
                );
                continue;
            }
            match launcher.launch(deployment, run.scheduled_for).await {
                Ok(flow_run) => {
                    tracing::info!(
                        "deployment `{}`: launched run #{flow_run} scheduled for {}",
                        run.deployment,
                        run.scheduled_for
                    );
                    launched.push((run, flow_run));
                }
                Err(error) => tracing::error!(
                    "deployment `{}`: the run scheduled for {} could not be launched \
                     (it is not retried): {error}",
                    run.deployment,
                    run.scheduled_for
                ),
            }
        }
        for (deployment, schedule) in &self.entries {
            let state = states.iter().find(|state| state.name == deployment.name);
            let checked = state.and_then(|state| state.checked_until);
            let passed = |since| schedule.next_after(since).is_some_and(|next| next <= now);
            if checked.is_none_or(passed) {
                self.store.mark_checked(&deployment.name, now).await?;
            }
        }
        Ok(launched)
    }

    /// Runs the schedule until `shutdown` completes: a [`tick`](Self::tick) at each
    /// due time, sleeping in between (at most
    /// [`poll_interval`](SchedulerOptions::poll_interval), to notice pauses). Errors
    /// of the run store are logged and the pass is tried again after the poll
    /// interval.
    pub async fn run<C: Clock>(
        &self,
        clock: &C,
        launcher: &dyn Launcher,
        shutdown: impl Future<Output = ()>,
    ) {
        let poll = TimeDelta::from_std(self.options.poll_interval).unwrap_or(TimeDelta::MAX);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let now = clock.now();
            if let Err(error) = self.tick(now, launcher).await {
                tracing::error!(
                    "scheduler: {error}; trying again in {:?}",
                    self.options.poll_interval
                );
            }
            let wake = self
                .entries
                .iter()
                .filter_map(|(_, schedule)| schedule.next_after(now))
                .chain(now.checked_add_signed(poll))
                .min()
                .unwrap_or(now);
            tokio::select! {
                () = &mut shutdown => return,
                () = clock.sleep_until(wake) => {}
            }
        }
    }
}
