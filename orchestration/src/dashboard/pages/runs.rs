//! Runs `/runs`: every flow run, newest first, filtered by flow and state, a page
//! at a time.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::Utc;
use serde::Deserialize;

use super::{PageFailure, PageResult, run_link, url_part};
use crate::dashboard::failure::Failure;
use crate::dashboard::html::{Nav, badge, duration_opt, escape, layout, run_duration, when};
use crate::dashboard::state::DashboardState;
use crate::dashboard::summary::flows;
use crate::runtime::{RunFilter, RunState};

/// Runs per page.
const PAGE: usize = 25;

/// The page's query: `?flow=…&state=…&page=…` (empty values mean all).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunsQuery {
    flow: Option<String>,
    state: Option<String>,
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
    let number = query.page.unwrap_or(1).max(1);
    let (runs, total) = state
        .store()
        .runs_page(
            RunFilter {
                flow: flow.clone(),
                state: run_state,
                limit: Some(PAGE),
            },
            (number - 1) * PAGE,
        )
        .await?;
    let now = Utc::now();
    let mut body = String::from(
        "<section class=\"panel\"><form class=\"filters\" method=\"get\" action=\"/runs\">\
         <label>flow<select name=\"flow\"><option value=\"\">all flows</option>",
    );
    for name in flows(&state).await?.into_iter().map(|f| f.name) {
        let selected = if flow.as_deref() == Some(name.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{0}\"{selected}>{0}</option>",
            escape(&name)
        );
    }
    body.push_str(
        "</select></label><label>state<select name=\"state\"><option value=\"\">all states</option>",
    );
    for s in RunState::ALL {
        let selected = if run_state == Some(s) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option value=\"{s}\"{selected}>{s}</option>");
    }
    body.push_str("</select></label><button type=\"submit\">Filter</button></form>");
    if runs.is_empty() {
        body.push_str("<p class=\"muted\">No run matches.</p>");
    } else {
        body.push_str(
            "<table id=\"runs\"><tr><th>run</th><th>flow</th><th>deployment</th><th>state</th>\
             <th>created (UTC)</th><th>duration</th><th>parameters</th></tr>",
        );
        for run in &runs {
            let parameters: Vec<String> = run
                .parameters
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect();
            let _ = write!(
                body,
                "<tr data-run=\"{id}\"><td>{link}</td><td>{flow}</td><td>{deployment}</td>\
                 <td>{state}</td><td>{created}</td><td class=\"num\">{took}</td>\
                 <td><code>{parameters}</code></td></tr>",
                id = run.id,
                link = run_link(run.id),
                flow = escape(&run.flow),
                deployment = escape(run.deployment.as_deref().unwrap_or("")),
                state = badge(run.state),
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
