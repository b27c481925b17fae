//! The pages: server-rendered HTML in the shared [layout](super::html::page), one
//! module per page.

mod deployments;
mod flows;
mod home;
mod quality;
mod run;
mod runs;

pub(crate) use runs::{chosen, state_filter};

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::failure::Failure;
use super::html::{escape, layout};
use super::reports;
use super::state::DashboardState;
use crate::runtime::RuntimeError;

/// Every page's route, and the forms they post to.
pub(crate) fn routes() -> Router<DashboardState> {
    Router::new()
        .route("/", get(home::page))
        .route("/flows", get(flows::page))
        .route("/deployments", get(deployments::page))
        .route("/deployments/{name}/run", post(deployments::run_now))
        .route("/deployments/{name}/pause", post(deployments::pause))
        .route("/deployments/{name}/resume", post(deployments::resume))
        .route("/runs", get(runs::page))
        .route("/runs/{id}", get(run::page))
        .route("/runs/{id}/timeline.svg", get(run::timeline))
        .route("/quality", get(quality::page))
        .route("/reports/{file}", get(reports::serve))
}

/// A page, or the page that says why not.
pub(crate) type PageResult = Result<Html<String>, PageFailure>;

/// A failure shown as a page.
#[derive(Debug)]
pub(crate) struct PageFailure(Failure);

impl From<Failure> for PageFailure {
    fn from(failure: Failure) -> Self {
        PageFailure(failure)
    }
}

impl From<RuntimeError> for PageFailure {
    fn from(error: RuntimeError) -> Self {
        PageFailure(error.into())
    }
}

impl IntoResponse for PageFailure {
    fn into_response(self) -> Response {
        let Failure { status, message } = self.0;
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<section class=\"panel\"><p class=\"error\">{}</p><p><a href=\"/\">Back to the dashboard</a></p></section>",
            escape(&message)
        );
        (status, Html(layout(title, None, &body))).into_response()
    }
}

/// Text made safe for a URL's path segment or query value: every byte but the
/// unreserved ones (`A-Z a-z 0-9 - . _ ~`) percent-encoded.
pub(crate) fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The Runs page filtered on backfill `id`: its runs.
pub(crate) fn backfill_url(id: &str) -> String {
    format!("/runs?backfill={}", url_part(id))
}

/// Backfill `id` as a badge linking to its runs.
pub(crate) fn backfill_link(id: &str) -> String {
    format!(
        "<a class=\"group\" href=\"{}\" title=\"every run of this backfill\">{}</a>",
        backfill_url(id),
        escape(id)
    )
}

/// A link to a flow run.
pub(crate) fn run_link(id: crate::runtime::FlowRunId) -> String {
    format!("<a href=\"/runs/{id}\">#{id}</a>")
}

/// The legend of the state colours, for the states given.
pub(crate) fn legend(states: impl IntoIterator<Item = crate::runtime::RunState>) -> String {
    let mut out = String::from("<div class=\"legend\">");
    for state in states {
        out.push_str(&format!("<span><i class=\"sw-{state}\"></i>{state}</span>"));
    }
    out.push_str("</div>");
    out
}
