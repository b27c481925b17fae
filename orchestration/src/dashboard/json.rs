//! What the JSON API answers: the store's records and the dashboard's summaries as
//! plain JSON objects (times as RFC 3339 text in UTC, durations in seconds). `API.md`
//! beside this file documents each.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use monitoring::checks::Verdict;
use serde::Serialize;

use super::html::{run_duration, task_duration};
use super::pages::backfill_url;
use super::reports::QualitySummary;
use super::state::DeploymentView;
use super::summary::{FlowOverview, Stats};
use crate::runtime::store::LogRecord;
use crate::runtime::{BackfillSummary, FlowRunDetail, FlowRunRecord, TaskRunRecord};

/// A time as the API writes it.
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A flow run.
#[derive(Debug, Serialize)]
pub(crate) struct RunJson {
    id: i64,
    flow: String,
    deployment: Option<String>,
    backfill: Option<String>,
    parameters: BTreeMap<String, String>,
    state: &'static str,
    active: bool,
    retry_of: Option<i64>,
    created_at: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    duration_seconds: Option<f64>,
    error: Option<String>,
    url: String,
}

impl RunJson {
    pub(crate) fn new(run: &FlowRunRecord, now: DateTime<Utc>) -> Self {
        RunJson {
            id: run.id.0,
            flow: run.flow.clone(),
            deployment: run.deployment.clone(),
            backfill: run.backfill().map(str::to_owned),
            parameters: run.parameters.clone(),
            state: run.state.as_str(),
            active: !run.state.is_final(),
            retry_of: run.retry_of.map(|id| id.0),
            created_at: time(run.created_at),
            started_at: run.started_at.map(time),
            ended_at: run.ended_at.map(time),
            duration_seconds: run_duration(run, now).map(|d| d.as_secs_f64()),
            error: run.error.clone(),
            url: format!("/runs/{}", run.id),
        }
    }
}

/// A task run.
#[derive(Debug, Serialize)]
pub(crate) struct TaskJson {
    id: i64,
    task: String,
    state: &'static str,
    attempts: u32,
    started_at: Option<String>,
    ended_at: Option<String>,
    duration_seconds: Option<f64>,
    rows_in: Option<u64>,
    rows_out: Option<u64>,
    bytes: Option<u64>,
    note: Option<String>,
    error: Option<String>,
}

impl TaskJson {
    fn new(task: &TaskRunRecord, now: DateTime<Utc>) -> Self {
        TaskJson {
            id: task.id.0,
            task: task.task.clone(),
            state: task.state.as_str(),
            attempts: task.attempt,
            started_at: task.started_at.map(time),
            ended_at: task.ended_at.map(time),
            duration_seconds: task_duration(task, now).map(|d| d.as_secs_f64()),
            rows_in: task.output.rows_in,
            rows_out: task.output.rows_out,
            bytes: task.output.bytes,
            note: task.output.note.clone(),
            error: task.error.clone(),
        }
    }
}

/// A flow run with its task runs.
#[derive(Debug, Serialize)]
pub(crate) struct RunDetailJson {
    run: RunJson,
    tasks: Vec<TaskJson>,
}

impl RunDetailJson {
    pub(crate) fn new(detail: &FlowRunDetail, now: DateTime<Utc>) -> Self {
        RunDetailJson {
            run: RunJson::new(&detail.run, now),
            tasks: detail
                .tasks
                .iter()
                .map(|task| TaskJson::new(task, now))
                .collect(),
        }
    }
}

/// A page of runs.
#[derive(Debug, Serialize)]
pub(crate) struct RunsPageJson {
    pub(crate) total: u64,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    pub(crate) runs: Vec<RunJson>,
}

/// A backfill: the runs that share its id.
#[derive(Debug, Serialize)]
pub(crate) struct BackfillJson {
    id: String,
    deployment: Option<String>,
    runs: u64,
    states: BTreeMap<&'static str, u64>,
    active: bool,
    created_at: String,
    latest_run_id: i64,
    url: String,
}

impl BackfillJson {
    pub(crate) fn new(backfill: &BackfillSummary) -> Self {
        BackfillJson {
            id: backfill.id.clone(),
            deployment: backfill.deployment.clone(),
            runs: backfill.runs(),
            states: backfill
                .states
                .iter()
                .map(|(state, runs)| (state.as_str(), *runs))
                .collect(),
            active: !backfill.has_ended(),
            created_at: time(backfill.created_at),
            latest_run_id: backfill.latest_run.0,
            url: backfill_url(&backfill.id),
        }
    }
}

/// A log line.
#[derive(Debug, Serialize)]
pub(crate) struct LogJson {
    id: i64,
    task_run_id: Option<i64>,
    at: String,
    level: &'static str,
    message: String,
}

/// Log lines, and the id to ask after next.
#[derive(Debug, Serialize)]
pub(crate) struct LogsJson {
    logs: Vec<LogJson>,
    last_id: i64,
}

impl LogsJson {
    /// The lines read after line `after`.
    pub(crate) fn new(lines: &[LogRecord], after: i64) -> Self {
        LogsJson {
            last_id: lines.last().map_or(after, |line| line.id),
            logs: lines
                .iter()
                .map(|line| LogJson {
                    id: line.id,
                    task_run_id: line.task_run_id.map(|id| id.0),
                    at: time(line.at),
                    level: line.level.as_str(),
                    message: line.message.clone(),
                })
                .collect(),
        }
    }
}

/// A deployment.
#[derive(Debug, Serialize)]
pub(crate) struct DeploymentJson {
    name: String,
    flow: String,
    schedule_words: String,
    cron: String,
    timezone: String,
    paused: bool,
    next_runs: Vec<String>,
}

impl DeploymentJson {
    pub(crate) fn new(deployment: &DeploymentView) -> Self {
        DeploymentJson {
            name: deployment.name.clone(),
            flow: deployment.flow.clone(),
            schedule_words: deployment.schedule_words.clone(),
            cron: deployment.cron.clone(),
            timezone: deployment.timezone.clone(),
            paused: deployment.paused,
            next_runs: deployment.next_runs.iter().copied().map(time).collect(),
        }
    }
}

/// A flow: its latest run, its deployments and its next scheduled runs.
#[derive(Debug, Serialize)]
pub(crate) struct FlowJson {
    name: String,
    last_run: Option<RunJson>,
    deployments: Vec<String>,
    next_runs: Vec<String>,
}

impl FlowJson {
    pub(crate) fn new(flow: &FlowOverview, now: DateTime<Utc>) -> Self {
        FlowJson {
            name: flow.name.clone(),
            last_run: flow.last_run.as_ref().map(|run| RunJson::new(run, now)),
            deployments: flow.deployments.iter().map(|d| d.name.clone()).collect(),
            next_runs: flow.next_runs(5).into_iter().map(time).collect(),
        }
    }
}

/// The runs of a day, by state.
#[derive(Debug, Serialize)]
struct DayJson {
    day: String,
    total: u64,
    states: BTreeMap<&'static str, u64>,
}

/// The dashboard's figures.
#[derive(Debug, Serialize)]
pub(crate) struct StatsJson {
    days: Vec<DayJson>,
    runs: u64,
    success_rate: Option<f64>,
    mean_duration_seconds: Option<f64>,
    active: u64,
    recent_failures: Vec<RunJson>,
}

impl StatsJson {
    pub(crate) fn new(stats: &Stats, now: DateTime<Utc>) -> Self {
        StatsJson {
            days: stats
                .days
                .iter()
                .map(|(day, states)| DayJson {
                    day: day.to_string(),
                    total: states.values().sum(),
                    states: states.iter().map(|(s, n)| (s.as_str(), *n)).collect(),
                })
                .collect(),
            runs: stats.runs(),
            success_rate: stats.success_rate(),
            mean_duration_seconds: stats.mean_duration.map(|d| d.as_secs_f64()),
            active: stats.active(),
            recent_failures: stats
                .failures
                .iter()
                .map(|run| RunJson::new(run, now))
                .collect(),
        }
    }
}

/// The latest quality report.
#[derive(Debug, Serialize)]
pub(crate) struct QualityJson {
    run_id: String,
    as_of: String,
    passed: usize,
    failed: usize,
    not_judged: usize,
    failed_checks: Vec<Verdict>,
    report_url: Option<String>,
}

impl QualityJson {
    pub(crate) fn new(summary: &QualitySummary) -> Self {
        QualityJson {
            run_id: summary.run_id.clone(),
            as_of: summary.as_of.clone(),
            passed: summary.passed,
            failed: summary.failed,
            not_judged: summary.not_judged,
            failed_checks: summary.failed_checks.clone(),
            report_url: summary.report_url(),
        }
    }
}
