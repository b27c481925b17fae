//! A run `/runs/{id}`: its parameters and state, the runs of its backfill if it
//! belongs to one, a Gantt timeline of its task runs, each task's attempts, rows,
//! duration, error and logs. While the run is going, the page's script keeps it up to
//! date (see `assets/app.js`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

use super::{PageFailure, PageResult, backfill_link, backfill_url, run_link, url_part};
use crate::dashboard::html::{
    Nav, badge, count, duration_opt, escape, layout, run_duration, task_duration, when, when_opt,
};
use crate::dashboard::state::DashboardState;
use crate::dashboard::svg::timeline as gantt;
use crate::runtime::store::LogRecord;
use crate::runtime::{FlowRunId, FlowRunRecord, LogScope, RunFilter, TaskRunId};

/// The most log lines the page shows (the API has them all).
const LOG_LINES: usize = 5_000;

/// The most runs of its backfill the page lists (the latest).
const SIBLINGS: usize = 400;

/// `GET /runs/{id}`.
pub(crate) async fn page(State(state): State<DashboardState>, Path(id): Path<i64>) -> PageResult {
    let run = FlowRunId(id);
    let detail = state.store().get_run(run).await?;
    let lines = state
        .store()
        .logs(LogScope::FlowRun(run), 0, LOG_LINES)
        .await?;
    let now = Utc::now();
    let record = &detail.run;
    let active = !record.state.is_final();
    let last_log = lines.last().map_or(0, |line| line.id);
    let mut body = format!(
        "<section class=\"panel\" data-live-run=\"{id}\" data-active=\"{active}\" data-last-log=\"{last_log}\">\
         <dl class=\"facts\">\
         <div><dt>state</dt><dd><span id=\"run-state\" class=\"state s-{state}\">{state}</span>\
         <span id=\"live\" class=\"live\"></span></dd></div>\
         <div><dt>flow</dt><dd><a href=\"/runs?flow={flow_link}\">{flow}</a></dd></div>\
         <div><dt>deployment</dt><dd>{deployment}</dd></div>\
         <div><dt>created (UTC)</dt><dd>{created}</dd></div>\
         <div><dt>started (UTC)</dt><dd id=\"run-started\">{started}</dd></div>\
         <div><dt>ended (UTC)</dt><dd id=\"run-ended\">{ended}</dd></div>\
         <div><dt>duration</dt><dd id=\"run-duration\">{took}</dd></div>\
         <div><dt>retry of</dt><dd>{retry_of}</dd></div>\
         <div><dt>backfill</dt><dd id=\"run-backfill\">{backfill}</dd></div></dl>\
         <p id=\"run-error\" class=\"error\">{error}</p>",
        state = record.state,
        flow = escape(&record.flow),
        flow_link = url_part(&record.flow),
        deployment = escape(record.deployment.as_deref().unwrap_or("—")),
        created = when_opt(Some(record.created_at)),
        started = when_opt(record.started_at),
        ended = when_opt(record.ended_at),
        took = duration_opt(run_duration(record, now)),
        retry_of = record.retry_of.map_or_else(|| "—".to_owned(), run_link),
        backfill = record
            .backfill()
            .map_or_else(|| "—".to_owned(), backfill_link),
        error = escape(record.error.as_deref().unwrap_or("")),
    );
    body.push_str("<h2>Parameters</h2>");
    if record.parameters.is_empty() {
        body.push_str("<p class=\"muted\">none</p>");
    } else {
        body.push_str("<table id=\"parameters\" class=\"kv\">");
        for (name, value) in &record.parameters {
            let _ = write!(
                body,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape(name),
                escape(value)
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    if let Some(backfill) = record.backfill() {
        let (runs, total) = state
            .store()
            .runs_page(
                RunFilter {
                    backfill: Some(backfill.to_owned()),
                    limit: Some(SIBLINGS),
                    ..RunFilter::default()
                },
                0,
            )
            .await?;
        siblings(&mut body, backfill, record.id, &runs, total);
    }
    let _ = write!(
        body,
        "<section class=\"panel\"><h2>Timeline</h2><div id=\"timeline\">{}</div></section>",
        gantt(&detail, now)
    );
    body.push_str(
        "<section class=\"panel\"><h2>Tasks</h2><table id=\"tasks\"><tr><th>task</th><th>state</th>\
         <th>attempts</th><th>rows in</th><th>rows out</th><th>duration</th><th>error or note</th></tr>",
    );
    for task in &detail.tasks {
        let (said, class) = match (&task.error, &task.output.note) {
            (Some(error), _) => (error.as_str(), "error"),
            (None, Some(note)) => (note.as_str(), "muted"),
            (None, None) => ("", "muted"),
        };
        let _ = write!(
            body,
            "<tr data-task-run=\"{id}\"><td>{name}</td><td class=\"t-state\">{state}</td>\
             <td class=\"num t-attempts\">{attempts}</td><td class=\"num t-rows-in\">{rows_in}</td>\
             <td class=\"num t-rows-out\">{rows_out}</td><td class=\"num t-duration\">{took}</td>\
             <td class=\"t-said {class}\">{said}</td></tr>",
            id = task.id,
            name = escape(&task.task),
            state = badge(task.state),
            attempts = task.attempt,
            rows_in = count(task.output.rows_in),
            rows_out = count(task.output.rows_out),
            took = duration_opt(task_duration(task, now)),
            said = escape(said),
        );
    }
    body.push_str("</table></section><section class=\"panel\" id=\"logs\"><h2>Logs</h2>");
    let mut by_task: BTreeMap<Option<TaskRunId>, Vec<&LogRecord>> = BTreeMap::new();
    for line in &lines {
        by_task.entry(line.task_run_id).or_default().push(line);
    }
    log_block(&mut body, "run", "the run", by_task.get(&None));
    for task in &detail.tasks {
        log_block(
            &mut body,
            &task.id.to_string(),
            &task.task,
            by_task.get(&Some(task.id)),
        );
    }
    if lines.len() == LOG_LINES {
        let _ = write!(
            body,
            "<p class=\"muted\">The first {LOG_LINES} lines; the rest through \
             <a href=\"/api/runs/{id}/logs?after={last_log}\">the API</a>.</p>"
        );
    }
    body.push_str("</section>");
    let title = format!("Run #{id} · {}", record.flow);
    Ok(Html(layout(&title, Some(Nav::Runs), &body)))
}

/// The runs of the run's backfill, oldest first (`runs`, the latest of `total`), the
/// run itself marked, each with the parameters that tell them apart.
fn siblings(body: &mut String, backfill: &str, run: FlowRunId, runs: &[FlowRunRecord], total: u64) {
    let varying = varying_parameters(runs);
    let _ = write!(
        body,
        "<section class=\"panel\" id=\"backfill\"><h2>Backfill {}</h2><div class=\"scroll\">\
         <table id=\"backfill-runs\"><tr><th>run</th><th>state</th><th>parameters</th>\
         <th>created (UTC)</th></tr>",
        backfill_link(backfill)
    );
    for sibling in runs.iter().rev() {
        let current = if sibling.id == run {
            " class=\"current\" aria-current=\"true\""
        } else {
            ""
        };
        let parameters: Vec<String> = sibling
            .parameters
            .iter()
            .filter(|(name, _)| varying.contains(name.as_str()))
            .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
            .collect();
        let _ = write!(
            body,
            "<tr data-run=\"{id}\"{current}><td>{link}</td><td>{state}</td>\
             <td><code>{parameters}</code></td><td>{created}</td></tr>",
            id = sibling.id,
            link = run_link(sibling.id),
            state = badge(sibling.state),
            parameters = parameters.join(" "),
            created = when(sibling.created_at),
        );
    }
    body.push_str("</table></div>");
    if total > runs.len() as u64 {
        let _ = write!(
            body,
            "<p class=\"muted\">The latest {} of its {total} runs: \
             <a href=\"{}\">all of them</a>.</p>",
            runs.len(),
            backfill_url(backfill)
        );
    }
    body.push_str("</section>");
}

/// The parameters whose values are not the same in every run of `runs`: what tells
/// the runs of a backfill apart (their business date, …).
fn varying_parameters(runs: &[FlowRunRecord]) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    let Some(first) = runs.first() else {
        return names;
    };
    for run in runs {
        for name in first.parameters.keys().chain(run.parameters.keys()) {
            if first.parameters.get(name) != run.parameters.get(name) {
                names.insert(name.as_str());
            }
        }
    }
    names
}

/// One task's (or the run's own) log lines, in a block the script appends to.
fn log_block(body: &mut String, key: &str, title: &str, lines: Option<&Vec<&LogRecord>>) {
    let lines = lines.map_or(&[][..], Vec::as_slice);
    let _ = write!(
        body,
        "<details class=\"log\" open><summary>{}</summary><pre class=\"log\" data-logs=\"{key}\">",
        escape(title)
    );
    for line in lines {
        let _ = writeln!(
            body,
            "<span class=\"l-{level}\"><time>{at}</time> <b>{level}</b> {message}</span>",
            level = line.level,
            at = line.at.format("%H:%M:%S%.3f"),
            message = escape(&line.message),
        );
    }
    body.push_str("</pre></details>");
}

/// `GET /runs/{id}/timeline.svg`: the timeline alone, for the live page to redraw.
pub(crate) async fn timeline(
    State(state): State<DashboardState>,
    Path(id): Path<i64>,
) -> Result<Response, PageFailure> {
    let detail = state.store().get_run(FlowRunId(id)).await?;
    let mut response = gantt(&detail, Utc::now()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(response)
}
