//! Flows `/flows`: each flow with its latest run (state and time), its deployments
//! and its next scheduled runs.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;

use super::{PageResult, run_link, url_part};
use crate::dashboard::html::{Nav, badge, escape, layout, when};
use crate::dashboard::state::DashboardState;
use crate::dashboard::summary::flows;

/// How many next runs a flow shows.
const NEXT: usize = 3;

/// `GET /flows`.
pub(crate) async fn page(State(state): State<DashboardState>) -> PageResult {
    let flows = flows(&state).await?;
    let mut body = String::from("<section class=\"panel\">");
    if flows.is_empty() {
        body.push_str("<p class=\"muted\">No flow has run yet, and no deployment is declared.</p>");
    } else {
        body.push_str(
            "<table id=\"flows\"><tr><th>flow</th><th>last run</th><th>state</th>\
             <th>last run at (UTC)</th><th>deployments</th><th>next runs (UTC)</th></tr>",
        );
        for flow in &flows {
            let (run, state, at) = match &flow.last_run {
                Some(run) => (run_link(run.id), badge(run.state), when(run.created_at)),
                None => (
                    "<span class=\"muted\">never run</span>".to_owned(),
                    String::new(),
                    String::new(),
                ),
            };
            let deployments: Vec<String> = flow
                .deployments
                .iter()
                .map(|d| {
                    let paused = if d.paused {
                        " <span class=\"muted\">(paused)</span>"
                    } else {
                        ""
                    };
                    format!("{}{paused}", escape(&d.name))
                })
                .collect();
            let next: Vec<String> = flow.next_runs(NEXT).into_iter().map(when).collect();
            let _ = write!(
                body,
                "<tr data-flow=\"{name}\"><td><a href=\"/runs?flow={link}\">{name}</a></td>\
                 <td>{run}</td><td>{state}</td><td>{at}</td><td>{deployments}</td>\
                 <td><ul class=\"plain\">{next}</ul></td></tr>",
                name = escape(&flow.name),
                link = url_part(&flow.name),
                deployments = deployments.join("<br>"),
                next = next
                    .iter()
                    .map(|n| format!("<li>{n}</li>"))
                    .collect::<String>(),
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    Ok(Html(layout("Flows", Some(Nav::Flows), &body)))
}
