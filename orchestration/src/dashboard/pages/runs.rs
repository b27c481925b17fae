//! Runs `/runs`: every flow run, newest first, filtered by flow, state and backfill
//! (each run's backfill a badge that links to that filter), a page at a time.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::Utc;
use serde::Deserialize;

use super::{PageFailure, PageResult, backfill_link, run_link, url_part};
use crate::dashboard::failure::Failure;
use crate::dashboard::html::{Nav, badge, duration_opt, escape, layout, run_duration, when};
use crate::dashboard::state::DashboardState;
use crate::dashboard::summary::flows;
use crate::runtime::{BACKFILL_PARAMETER, BackfillSummary, RunFilter, RunState};

/// Runs per page.
const PAGE: usize = 25;

/// The backfills the filter offers (the latest; the one chosen is offered too).
const BACKFILL_CHOICES: usize = 50;

/// The page's query: `?flow=…&state=…&backfill=…&page=…` (empty values mean all).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunsQuery {
    flow: Option<String>,
    state: Option<String>,
    backfill: Option<String>,
    page: Option<usize>,
}

/// A filter's value: `None` when absent or empty.
pub(crate) fn chosen(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The state a filter names, if any (400 when it names none).
pub(crate) fn state_filter(value: Option<&str>) -> Result<Option<RunState>, Failure> {
    chosen(value)
        .map(|name| {
            name.parse::<RunState>()
                .map_err(|error| Failure::bad_request(error.to_string()))
        })
        .transpose()
}

/// `GET /runs`.
pub(crate) async fn page(
    State(state): State<DashboardState>,
    Query(query): Query<RunsQuery>,
) -> PageResult {
    let flow = chosen(query.flow.as_deref()).map(str::to_owned);
    let run_state = state_filter(query.state.as_deref()).map_err(PageFailure::from)?;
    let backfill = chosen(query.backfill.as_deref()).map(str::to_owned);
    let number = query.page.unwrap_or(1).max(1);
    let (runs, total) = state
        .store()
        .runs_page(
            RunFilter {
                flow: flow.clone(),
                state: run_state,
                backfill: backfill.clone(),
                limit: Some(PAGE),
            },
            (number - 1) * PAGE,
        )
        .await?;
    let now = Utc::now();
    let mut body = String::from(
        "<section class=\"panel\"><form class=\"filters\" method=\"get\" action=\"/runs\">\
         <label>flow<select name=\"flow\">",
    );
    option(&mut body, "", "all flows", flow.is_none());
    for name in flows(&state).await?.into_iter().map(|f| f.name) {
        option(
            &mut body,
            &name,
            &name,
            flow.as_deref() == Some(name.as_str()),
        );
    }
    body.push_str("</select></label><label>state<select name=\"state\">");
    option(&mut body, "", "all states", run_state.is_none());
    for s in RunState::ALL {
        option(&mut body, s.as_str(), s.as_str(), run_state == Some(s));
    }
    body.push_str("</select></label><label>backfill<select name=\"backfill\">");
    option(&mut body, "", "any run", backfill.is_none());
    let mut backfills = state.store().backfills(BACKFILL_CHOICES).await?;
    let chosen_backfill = match &backfill {
        Some(id) => state.store().backfill(id).await?,
        None => None,
    };
    if let Some(summary) = chosen_backfill
        .as_ref()
        .filter(|chosen| !backfills.iter().any(|b| b.id == chosen.id))
    {
        backfills.push(summary.clone());
    }
    for summary in &backfills {
        let label = format!("{} ({} runs)", summary.id, summary.runs());
        option(
            &mut body,
            &summary.id,
            &label,
            backfill.as_ref() == Some(&summary.id),
        );
    }
    body.push_str("</select></label><button type=\"submit\">Filter</button></form>");
    if let Some(summary) = &chosen_backfill {
        backfill_summary(&mut body, summary);
    }
    if runs.is_empty() {
        body.push_str("<p class=\"muted\">No run matches.</p>");
    } else {
        body.push_str(
            "<table id=\"runs\"><tr><th>run</th><th>flow</th><th>deployment</th><th>state</th>\
             <th>backfill</th><th>created (UTC)</th><th>duration</th><th>parameters</th></tr>",
        );
        for run in &runs {
            let parameters: Vec<String> = run
                .parameters
                .iter()
                .filter(|(name, _)| name.as_str() != BACKFILL_PARAMETER)
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect();
            let _ = write!(
                body,
                "<tr data-run=\"{id}\"><td>{link}</td><td>{flow}</td><td>{deployment}</td>\
                 <td>{state}</td><td>{group}</td><td>{created}</td><td class=\"num\">{took}</td>\
                 <td><code>{parameters}</code></td></tr>",
                id = run.id,
                link = run_link(run.id),
                flow = escape(&run.flow),
                deployment = escape(run.deployment.as_deref().unwrap_or("")),
                state = badge(run.state),
                group = run.backfill().map(backfill_link).unwrap_or_default(),
                created = when(run.created_at),
                took = duration_opt(run_duration(run, now)),
                parameters = parameters.join(" "),
            );
        }
        body.push_str("</table>");
    }
    let pages = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .div_ceil(PAGE)
        .max(1);
    let link = |to: usize, label: &str| {
        let mut href = format!("/runs?page={to}");
        if let Some(flow) = &flow {
            let _ = write!(href, "&amp;flow={}", url_part(flow));
        }
        if let Some(s) = run_state {
            let _ = write!(href, "&amp;state={s}");
        }
        if let Some(backfill) = &backfill {
            let _ = write!(href, "&amp;backfill={}", url_part(backfill));
        }
        format!("<a href=\"{href}\" rel=\"{label}\">{label}</a>")
    };
    let _ = write!(
        body,
        "<div class=\"pager\">{prev}<span>page {number} of {pages} · {total} runs</span>{next}</div></section>",
        prev = if number > 1 {
            link(number - 1, "prev")
        } else {
            String::new()
        },
        next = if number < pages {
            link(number + 1, "next")
        } else {
            String::new()
        },
    );
    Ok(Html(layout("Runs", Some(Nav::Runs), &body)))
}

/// An `<option>` of a filter.
fn option(body: &mut String, value: &str, label: &str, selected: bool) {
    let selected = if selected { " selected" } else { "" };
    let _ = write!(
        body,
        "<option value=\"{}\"{selected}>{}</option>",
        escape(value),
        escape(label)
    );
}

/// What the runs of the backfill the page is filtered on are: its id, deployment and
/// runs by state.
fn backfill_summary(body: &mut String, backfill: &BackfillSummary) {
    let _ = write!(
        body,
        "<p id=\"backfill-summary\">Backfill {id}{deployment}, started {started}: {runs} runs",
        id = backfill_link(&backfill.id),
        deployment = backfill
            .deployment
            .as_deref()
            .map(|d| format!(" of deployment <b>{}</b>", escape(d)))
            .unwrap_or_default(),
        started = when(backfill.created_at),
        runs = backfill.runs(),
    );
    for (state, runs) in &backfill.states {
        let _ = write!(body, " {} {runs}", badge(*state));
    }
    body.push_str("</p>");
}
