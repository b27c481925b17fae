//! The stylesheet and the script, compiled into the binary: the dashboard fetches
//! nothing from anywhere else.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::html::state_css;
use super::state::DashboardState;

/// The layout's styles, then the state colours of [`state_css`].
static STYLE: LazyLock<String> =
    LazyLock::new(|| format!("{}{}", include_str!("assets/style.css"), state_css()));

/// The run page's live updates.
const SCRIPT: &str = include_str!("assets/app.js");

/// `/assets/style.css` and `/assets/app.js`.
pub(crate) fn routes() -> Router<DashboardState> {
    Router::new()
        .route(
            "/assets/style.css",
            get(|| async { asset("text/css; charset=utf-8", &STYLE) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
}

fn asset(content_type: &'static str, body: &str) -> Response {
    let mut response = body.to_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}
