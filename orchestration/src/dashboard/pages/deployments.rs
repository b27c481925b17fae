//! Deployments `/deployments`: each deployment's schedule in words and as cron, its
//! time zone and next 5 runs, and its buttons: pause or resume, and run now (which
//! posts, then goes to the new run's page).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::{Html, Redirect};

use super::{PageFailure, PageResult, url_part};
use crate::dashboard::html::{Nav, escape, layout, when};
use crate::dashboard::state::DashboardState;

/// How many next runs a deployment shows.
const NEXT: usize = 5;

/// `GET /deployments`.
pub(crate) async fn page(State(state): State<DashboardState>) -> PageResult {
    let deployments = state.launcher().deployments();
    let mut body = String::from("<section class=\"panel\">");
    if deployments.is_empty() {
        body.push_str("<p class=\"muted\">No deployment is declared.</p>");
    } else {
        body.push_str(
            "<table id=\"deployments\"><tr><th>deployment</th><th>schedule</th>\
             <th>time zone</th><th>next runs (UTC)</th><th>status</th><th></th></tr>",
        );
        for d in &deployments {
            let name = escape(&d.name);
            let path = url_part(&d.name);
            let next: String = if d.paused {
                "<li class=\"muted\">paused</li>".to_owned()
            } else {
                d.next_runs
                    .iter()
                    .take(NEXT)
                    .map(|at| format!("<li>{}</li>", when(*at)))
                    .collect()
            };
            let (status, toggle, toggle_label) = if d.paused {
                (
                    "<span class=\"state s-cancelled\">paused</span>",
                    "resume",
                    "Resume",
                )
            } else {
                (
                    "<span class=\"state s-completed\">active</span>",
                    "pause",
                    "Pause",
                )
            };
            let _ = write!(
                body,
                "<tr data-deployment=\"{name}\"><td><b>{name}</b><br>\
                 <span class=\"muted\">flow <a href=\"/runs?flow={flow_link}\">{flow}</a></span></td>\
                 <td>{words}<br><code>{cron}</code></td><td>{zone}</td>\
                 <td><ul class=\"plain\">{next}</ul></td><td>{status}</td>\
                 <td><div class=\"actions\">\
                 <form class=\"inline\" method=\"post\" action=\"/deployments/{path}/run\" \
                 data-action=\"run\" data-deployment=\"{name}\">\
                 <button class=\"primary\" type=\"submit\">Run now</button></form>\
                 <form class=\"inline\" method=\"post\" action=\"/deployments/{path}/{toggle}\" \
                 data-action=\"{toggle}\" data-deployment=\"{name}\">\
                 <button type=\"submit\">{toggle_label}</button></form></div></td></tr>",
                flow = escape(&d.flow),
                flow_link = url_part(&d.flow),
                words = escape(&d.schedule_words),
                cron = escape(&d.cron),
                zone = escape(&d.timezone),
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    Ok(Html(layout("Deployments", Some(Nav::Deployments), &body)))
}

/// `POST /deployments/{name}/run`: starts a run, then goes to its page.
pub(crate) async fn run_now(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
) -> Result<Redirect, PageFailure> {
    let run = state.trigger(&name, BTreeMap::new()).await?;
    Ok(Redirect::to(&format!("/runs/{run}")))
}

/// `POST /deployments/{name}/pause`.
pub(crate) async fn pause(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
) -> Result<Redirect, PageFailure> {
    state.set_paused(&name, true).await?;
    Ok(Redirect::to("/deployments"))
}

/// `POST /deployments/{name}/resume`.
pub(crate) async fn resume(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
) -> Result<Redirect, PageFailure> {
    state.set_paused(&name, false).await?;
    Ok(Redirect::to("/deployments"))
}
