//! What the dashboard works with: the run store it reads, the launcher of the
//! deployments it shows and triggers, the optional token, and the data folder.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::failure::Failure;
use crate::runtime::{FlowRunId, RunStore};

/// A deployment as the dashboard shows it: a flow on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    /// Its name (`bank-daily`).
    pub name: String,
    /// The flow it runs.
    pub flow: String,
    /// Its schedule in words (`every day at 08:00`).
    pub schedule_words: String,
    /// Its schedule as a cron expression (`0 8 * * *`).
    pub cron: String,
    /// The time zone of the schedule (`Europe/Paris`).
    pub timezone: String,
    /// Whether its schedule is paused (it can still be run by hand).
    pub paused: bool,
    /// Its next scheduled runs, soonest first (empty when paused).
    pub next_runs: Vec<DateTime<Utc>>,
}

/// Lists, triggers, pauses and resumes the deployments: the scheduler behind the
/// dashboard. Errors are messages to show as they are.
pub trait Launcher: Send + Sync {
    /// Every deployment, by name.
    fn deployments(&self) -> Vec<DeploymentView>;

    /// Starts a run of deployment `deployment` with `parameters` over its own, and
    /// returns the run's id as soon as the run is in the store (it goes on in the
    /// background).
    fn trigger(
        &self,
        deployment: &str,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'static, Result<FlowRunId, String>>;

    /// Pauses deployment `deployment`'s schedule.
    fn pause(&self, deployment: &str) -> BoxFuture<'static, Result<(), String>>;

    /// Resumes deployment `deployment`'s schedule.
    fn resume(&self, deployment: &str) -> BoxFuture<'static, Result<(), String>>;
}

/// Everything the dashboard's routes share. Cheap to clone.
#[derive(Clone)]
pub struct DashboardState {
    store: RunStore,
    launcher: Arc<dyn Launcher>,
    token: Option<Arc<str>>,
    data: Arc<Path>,
}

impl DashboardState {
    /// The dashboard of `store`'s runs and `launcher`'s deployments, over the data
    /// folder `data` (where the quality reports are), open to whoever reaches it.
    pub fn new(store: RunStore, launcher: Arc<dyn Launcher>, data: impl Into<PathBuf>) -> Self {
        DashboardState {
            store,
            launcher,
            token: None,
            data: Arc::from(data.into()),
        }
    }

    /// Requires `token` on every page and API route (an empty token requires none).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then(|| Arc::from(token));
        self
    }

    /// The run store.
    pub fn store(&self) -> &RunStore {
        &self.store
    }

    /// The launcher.
    pub fn launcher(&self) -> &dyn Launcher {
        self.launcher.as_ref()
    }

    /// The token every request needs, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The data folder.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The deployment named `name` (404 when the launcher has none).
    fn deployment(&self, name: &str) -> Result<DeploymentView, Failure> {
        self.launcher
            .deployments()
            .into_iter()
            .find(|deployment| deployment.name == name)
            .ok_or_else(|| Failure::no_deployment(name))
    }

    /// Starts a run of deployment `name` and returns its id (409 when the launcher
    /// refuses).
    pub(crate) async fn trigger(
        &self,
        name: &str,
        parameters: BTreeMap<String, String>,
    ) -> Result<FlowRunId, Failure> {
        self.deployment(name)?;
        self.launcher
            .trigger(name, parameters)
            .await
            .map_err(|message| Failure::launcher(name, message))
    }

    /// Pauses or resumes deployment `name`'s schedule and returns the deployment as
    /// it is then.
    pub(crate) async fn set_paused(
        &self,
        name: &str,
        paused: bool,
    ) -> Result<DeploymentView, Failure> {
        self.deployment(name)?;
        let change = if paused {
            self.launcher.pause(name)
        } else {
            self.launcher.resume(name)
        };
        change
            .await
            .map_err(|message| Failure::launcher(name, message))?;
        self.deployment(name)
    }
}

impl fmt::Debug for DashboardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardState")
            .field("store", self.store.location())
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}
