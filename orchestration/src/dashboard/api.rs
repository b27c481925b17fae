//! The JSON API under `/api/`, behind every page: runs (filtered, paged), a run with
//! its tasks, its log lines after an id (to tail), backfills, runs per day and the
//! dashboard's figures, flows, deployments, the latest quality report; and the POSTs
//! that trigger, pause and resume a deployment. `API.md` beside this file documents it.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;

use super::failure::Failure;
use super::json::{
    BackfillJson, DeploymentJson, FlowJson, LogsJson, QualityJson, RunDetailJson, RunJson,
    RunsPageJson, StatsJson,
};
use super::pages::{chosen, state_filter};
use super::reports::{self, blocking};
use super::state::DashboardState;
use super::summary::{self, DAYS, Stats};
use crate::runtime::{FlowRunId, LogScope, RunFilter, RuntimeError, TaskRunId};

/// Every API route.
pub(crate) fn routes() -> Router<DashboardState> {
    Router::new()
        .route("/api/runs", get(runs))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/logs", get(logs))
        .route("/api/backfills", get(backfills))
        .route("/api/stats", get(stats))
        .route("/api/flows", get(flows))
        .route("/api/deployments", get(deployments))
        .route("/api/deployments/{name}/runs", post(trigger))
        .route("/api/deployments/{name}/pause", post(pause))
        .route("/api/deployments/{name}/resume", post(resume))
        .route("/api/quality", get(quality))
}

/// An API answer, or `{"error": …}` with the failure's status.
type ApiResult<T> = Result<Json<T>, ApiFailure>;

/// A failure as JSON.
#[derive(Debug)]
pub(crate) struct ApiFailure(Failure);

impl From<Failure> for ApiFailure {
    fn from(failure: Failure) -> Self {
        ApiFailure(failure)
    }
}

impl From<RuntimeError> for ApiFailure {
    fn from(error: RuntimeError) -> Self {
        ApiFailure(error.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (
            self.0.status,
            Json(serde_json::json!({ "error": self.0.message })),
        )
            .into_response()
    }
}

/// The most runs or log lines one answer holds.
const MAX_LIMIT: usize = 5_000;

/// `?flow=…&state=…&backfill=…&limit=…&offset=…`.
#[derive(Debug, Deserialize)]
struct RunsQuery {
    flow: Option<String>,
    state: Option<String>,
    backfill: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/runs`.
async fn runs(
    State(state): State<DashboardState>,
    Query(query): Query<RunsQuery>,
) -> ApiResult<RunsPageJson> {
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let offset = query.offset.unwrap_or(0);
    let filter = RunFilter {
        flow: chosen(query.flow.as_deref()).map(str::to_owned),
        state: state_filter(query.state.as_deref())?,
        backfill: chosen(query.backfill.as_deref()).map(str::to_owned),
        limit: Some(limit),
    };
    let (runs, total) = state.store().runs_page(filter, offset).await?;
    let now = Utc::now();
    Ok(Json(RunsPageJson {
        total,
        offset,
        limit,
        runs: runs.iter().map(|run| RunJson::new(run, now)).collect(),
    }))
}

/// `GET /api/runs/{id}`.
async fn run(State(state): State<DashboardState>, Path(id): Path<i64>) -> ApiResult<RunDetailJson> {
    let detail = state.store().get_run(FlowRunId(id)).await?;
    Ok(Json(RunDetailJson::new(&detail, Utc::now())))
}

/// `?limit=…`.
#[derive(Debug, Deserialize)]
struct BackfillsQuery {
    limit: Option<usize>,
}

/// `GET /api/backfills`.
async fn backfills(
    State(state): State<DashboardState>,
    Query(query): Query<BackfillsQuery>,
) -> ApiResult<Vec<BackfillJson>> {
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let backfills = state.store().backfills(limit).await?;
    Ok(Json(backfills.iter().map(BackfillJson::new).collect()))
}

/// `?after=…&task=…&limit=…`.
#[derive(Debug, Deserialize)]
struct LogsQuery {
    after: Option<i64>,
    task: Option<i64>,
    limit: Option<usize>,
}

/// `GET /api/runs/{id}/logs`.
async fn logs(
    State(state): State<DashboardState>,
    Path(id): Path<i64>,
    Query(query): Query<LogsQuery>,
) -> ApiResult<LogsJson> {
    let run = FlowRunId(id);
    let detail = state.store().get_run(run).await?;
    let scope = match query.task {
        None => LogScope::FlowRun(run),
        Some(task) if detail.tasks.iter().any(|t| t.id.0 == task) => {
            LogScope::TaskRun(TaskRunId(task))
        }
        Some(task) => {
            return Err(Failure::not_found(format!("run #{run} has no task run #{task}")).into());
        }
    };
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(1_000).clamp(1, MAX_LIMIT);
    let lines = state.store().logs(scope, after, limit).await?;
    Ok(Json(LogsJson::new(&lines, after)))
}

/// `?days=…`.
#[derive(Debug, Deserialize)]
struct StatsQuery {
    days: Option<u32>,
}

/// `GET /api/stats`.
async fn stats(
    State(state): State<DashboardState>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<StatsJson> {
    let now = Utc::now();
    let days = query.days.unwrap_or(DAYS).clamp(1, 366);
    let stats = Stats::load(state.store(), days, now).await?;
    Ok(Json(StatsJson::new(&stats, now)))
}

/// `GET /api/flows`.
async fn flows(State(state): State<DashboardState>) -> ApiResult<Vec<FlowJson>> {
    let now = Utc::now();
    let flows = summary::flows(&state).await?;
    Ok(Json(flows.iter().map(|f| FlowJson::new(f, now)).collect()))
}

/// `GET /api/deployments`.
async fn deployments(State(state): State<DashboardState>) -> ApiResult<Vec<DeploymentJson>> {
    Ok(Json(
        state
            .launcher()
            .deployments()
            .iter()
            .map(DeploymentJson::new)
            .collect(),
    ))
}

/// The body of a trigger: parameters over the deployment's (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

/// `POST /api/deployments/{name}/runs`: 201 with the new run.
async fn trigger(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<RunJson>), ApiFailure> {
    let body: TriggerBody = if body.iter().all(u8::is_ascii_whitespace) {
        TriggerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            Failure::bad_request(format!(
                "the body must be {{\"parameters\": {{\"name\": \"value\", …}}}}: {error}"
            ))
        })?
    };
    let id = state.trigger(&name, body.parameters).await?;
    let run = state.store().get_run(id).await?;
    Ok((
        StatusCode::CREATED,
        Json(RunJson::new(&run.run, Utc::now())),
    ))
}

/// `POST /api/deployments/{name}/pause`.
async fn pause(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
) -> ApiResult<DeploymentJson> {
    let deployment = state.set_paused(&name, true).await?;
    Ok(Json(DeploymentJson::new(&deployment)))
}

/// `POST /api/deployments/{name}/resume`.
async fn resume(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
) -> ApiResult<DeploymentJson> {
    let deployment = state.set_paused(&name, false).await?;
    Ok(Json(DeploymentJson::new(&deployment)))
}

/// `GET /api/quality`: the latest report, or `null`.
async fn quality(State(state): State<DashboardState>) -> ApiResult<Option<QualityJson>> {
    let data = state.data().to_owned();
    let latest = blocking(move || reports::latest(&data)).await?;
    Ok(Json(latest.as_ref().map(QualityJson::new)))
}
