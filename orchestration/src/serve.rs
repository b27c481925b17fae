//! `bankpipe serve`: the scheduler and the dashboard in one process, over one run
//! store, starting the pipeline's flow runs through one [`PipelineLauncher`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Days, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::dashboard::{self, DashboardState, DeploymentView};
use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;
use crate::pipeline::{DAILY_FLOW, PipelineSettings, daily_flow};
use crate::run_alerts::alert_run;
use crate::runtime::{BACKFILL_PARAMETER, Executor, FlowRunId, RunRequest, RunStore, RuntimeError};
use crate::schedule::{self, Deployment, Scheduler, SystemClock};
use crate::stages::Console;

/// How many next runs the dashboard shows per deployment.
const NEXT_RUNS: usize = 5;

/// Starts the pipeline's runs for the scheduler and the dashboard, each with the
/// settings of [`deployment_settings`], returning as soon as the run is in the store.
pub struct PipelineLauncher {
    executor: Executor,
    scheduler: Scheduler,
    base: PipelineSettings,
    /// Deployments paused (true) or resumed (false) since the process started, over
    /// what the store said then: the dashboard's list reads it without a query.
    paused: Mutex<BTreeMap<String, bool>>,
}

impl PipelineLauncher {
    /// A launcher of `deployments` over `base`, recording runs in `store`. Fails when
    /// a deployment names another flow than the pipeline's.
    pub async fn new(
        base: PipelineSettings,
        deployments: Vec<Deployment>,
        store: RunStore,
    ) -> Result<PipelineLauncher> {
        if let Some(other) = deployments.iter().find(|d| d.flow != DAILY_FLOW) {
            return Err(PipelineError::Config(format!(
                "deployment {} runs flow \"{}\", but the only flow is \"{DAILY_FLOW}\"",
                other.name, other.flow
            )));
        }
        let states = store.deployment_states().await?;
        let paused = deployments
            .iter()
            .map(|d| {
                let state = states.iter().find(|s| s.name == d.name);
                (d.name.clone(), d.is_paused(state))
            })
            .collect();
        let scheduler = Scheduler::new(deployments, store.clone())
            .map_err(|e| PipelineError::Config(e.to_string()))?;
        Ok(PipelineLauncher {
            executor: Executor::new(store),
            scheduler,
            base,
            paused: Mutex::new(paused),
        })
    }

    /// The scheduler of the deployments.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Starts `deployment`'s run with `settings`, in backfill `backfill` if given,
    /// returning once it is in the store.
    async fn start(
        &self,
        deployment: &Deployment,
        settings: PipelineSettings,
        backfill: Option<&str>,
    ) -> std::result::Result<FlowRunId, String> {
        let request = run_request(&settings, Some(deployment.name.clone()), backfill);
        let alerting = settings.config().map_err(|e| e.to_string())?.quality.alerts;
        let layout = DataLayout::new(&settings.data);
        let flow = daily_flow(settings, Console::default()).map_err(|e| e.to_string())?;
        let (run, ends) = self
            .executor
            .start(flow, request)
            .await
            .map_err(|e| e.to_string())?;
        // When it ends, its failed tasks are told like failed checks.
        tokio::spawn(async move {
            let told = match ends.await {
                Ok(Ok(detail)) => alert_run(&detail, &alerting, &layout).await,
                Ok(Err(error)) => Err(error.into()),
                Err(error) => Err(error.into()),
            };
            if let Err(error) = told {
                tracing::error!(%run, "the run's task alerts: {error}");
            }
        });
        Ok(run)
    }

    fn set_paused(&self, name: &str, paused: bool) {
        if let Ok(mut states) = self.paused.lock() {
            states.insert(name.to_owned(), paused);
        }
    }
}

impl schedule::Launcher for PipelineLauncher {
    fn launch<'a>(
        &'a self,
        deployment: &'a Deployment,
        scheduled_for: DateTime<Utc>,
    ) -> BoxFuture<'a, std::result::Result<FlowRunId, RuntimeError>> {
        async move {
            let settings =
                deployment_settings(&self.base, deployment, scheduled_for, &BTreeMap::new())
                    .map_err(RuntimeError::Launch)?;
            self.start(deployment, settings, None)
                .await
                .map_err(RuntimeError::Launch)
        }
        .boxed()
    }
}

/// A cheap handle on the launcher, for the dashboard's `'static` futures.
#[derive(Clone)]
pub struct SharedLauncher(pub Arc<PipelineLauncher>);

impl dashboard::Launcher for SharedLauncher {
    fn deployments(&self) -> Vec<DeploymentView> {
        let paused = self.0.paused.lock().map(|p| p.clone()).unwrap_or_default();
        let now = Utc::now();
        self.0
            .scheduler
            .deployments()
            .map(|(deployment, schedule)| {
                let is_paused = paused.get(&deployment.name).copied().unwrap_or(false);
                DeploymentView {
                    name: deployment.name.clone(),
                    flow: deployment.flow.clone(),
                    schedule_words: schedule.describe(),
                    cron: schedule.expression().to_owned(),
                    timezone: schedule.timezone().name().to_owned(),
                    paused: is_paused,
                    next_runs: if is_paused {
                        Vec::new()
                    } else {
                        schedule.next_runs(now, NEXT_RUNS)
                    },
                }
            })
            .collect()
    }

    fn trigger(
        &self,
        deployment: &str,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'static, std::result::Result<FlowRunId, String>> {
        let launcher = Arc::clone(&self.0);
        let name = deployment.to_owned();
        async move {
            let (deployment, _) = launcher
                .scheduler
                .deployment(&name)
                .map_err(|e| e.to_string())?;
            let deployment = deployment.clone();
            let settings =
                deployment_settings(&launcher.base, &deployment, Utc::now(), &parameters)?;
            let backfill = parameters.get(BACKFILL_PARAMETER).map(String::as_str);
            launcher.start(&deployment, settings, backfill).await
        }
        .boxed()
    }

    fn pause(&self, deployment: &str) -> BoxFuture<'static, std::result::Result<(), String>> {
        self.set_schedule(deployment, true)
    }

    fn resume(&self, deployment: &str) -> BoxFuture<'static, std::result::Result<(), String>> {
        self.set_schedule(deployment, false)
    }
}

impl SharedLauncher {
    /// Pauses (or resumes) `deployment`'s schedule in the store, then in the list the
    /// dashboard reads.
    fn set_schedule(
        &self,
        deployment: &str,
        paused: bool,
    ) -> BoxFuture<'static, std::result::Result<(), String>> {
        let launcher = Arc::clone(&self.0);
        let name = deployment.to_owned();
        async move {
            let scheduler = &launcher.scheduler;
            let done = if paused {
                scheduler.pause(&name).await
            } else {
                scheduler.resume(&name).await
            };
            done.map_err(|e| e.to_string())?;
            launcher.set_paused(&name, paused);
            Ok(())
        }
        .boxed()
    }
}

/// The settings of `deployment`'s run for its occurrence `at`: `base` (data folder,
/// configuration file, raw folder), then the deployment's parameters, then `extra`,
/// over it. The business date is the `business_date` parameter when one gives it, else
/// the day before `at` in the deployment's time zone (the 08:00 run of the 25th
/// processes the 24th's extracts).
pub fn deployment_settings(
    base: &PipelineSettings,
    deployment: &Deployment,
    at: DateTime<Utc>,
    extra: &BTreeMap<String, String>,
) -> std::result::Result<PipelineSettings, String> {
    let mut parameters = base.parameters();
    parameters.remove("business_date");
    parameters.extend(deployment.parameters.clone());
    parameters.extend(extra.clone());
    if !parameters.contains_key("business_date") {
        let zone = deployment.schedule().map_err(|e| e.to_string())?.timezone();
        let day = at.with_timezone(&zone).date_naive();
        let before = day.checked_sub_days(Days::new(1)).unwrap_or(day);
        parameters.insert("business_date".to_owned(), before.to_string());
    }
    PipelineSettings::from_parameters(&parameters).ok_or_else(|| {
        format!(
            "deployment {}: business_date must be a date (yyyy-mm-dd)",
            deployment.name
        )
    })
}

/// The request of a pipeline run: `settings` as its parameters, the deployment that
/// starts it, and the backfill it belongs to (its
/// [`BACKFILL_PARAMETER`]), if any.
pub fn run_request(
    settings: &PipelineSettings,
    deployment: Option<String>,
    backfill: Option<&str>,
) -> RunRequest {
    let mut parameters = settings.parameters();
    if let Some(id) = backfill {
        parameters.insert(BACKFILL_PARAMETER.to_owned(), id.to_owned());
    }
    RunRequest {
        parameters,
        deployment,
    }
}

/// Runs the scheduler and the dashboard on `addr` until `shutdown` completes.
///
/// Refuses an address other than a loopback one without a `token`: the dashboard
/// starts runs, so it is never open to the network.
pub async fn serve(
    launcher: Arc<PipelineLauncher>,
    store: RunStore,
    addr: SocketAddr,
    token: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(PipelineError::Config(format!(
            "serving on {addr} needs a token (--token or BANKPIPE_TOKEN): the dashboard \
             starts runs"
        )));
    }
    let data = launcher.base.data.clone();
    let mut state = DashboardState::new(store, Arc::new(SharedLauncher(launcher.clone())), data);
    if let Some(token) = token {
        state = state.with_token(token);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let scheduling = {
        let launcher = Arc::clone(&launcher);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            launcher
                .scheduler
                .run(&SystemClock, launcher.as_ref(), until)
                .await;
        })
    };
    let stop_serving = Arc::clone(&stop);
    let served = dashboard::serve(addr, state, async move {
        shutdown.await;
        let _ = stop_serving.send(true);
    })
    .await;
    // The dashboard ended (shut down, or it could not listen): so does the scheduler.
    let _ = stop.send(true);
    scheduling.await?;
    served.map_err(|source| PipelineError::Io {
        path: addr.to_string().into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfills_run_carries_its_id_beside_the_settings_which_a_retry_reads_back() {
        let as_of = "2026-11-02".parse().expect("a date");
        let settings = PipelineSettings::new("data".into(), as_of);
        let id = "2026-11-01..2026-11-03@20261125T114500Z-3f9a";
        let request = run_request(&settings, Some("bank-daily".into()), Some(id));
        assert_eq!(request.deployment.as_deref(), Some("bank-daily"));
        let mut expected = settings.parameters();
        expected.insert(BACKFILL_PARAMETER.to_owned(), id.to_owned());
        assert_eq!(request.parameters, expected);
        let read = PipelineSettings::from_parameters(&request.parameters).map(|s| s.as_of);
        assert_eq!(read, Some(as_of));
        let alone = run_request(&settings, None, None);
        assert_eq!(
            (alone.deployment, alone.parameters),
            (None, settings.parameters())
        );
    }
}
