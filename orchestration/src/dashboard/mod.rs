//! The web dashboard (`bankpipe serve`): the runs of the [run store](crate::runtime::store)
//! and the deployments of a [`Launcher`] as server-rendered pages, with a JSON API
//! behind every page (see `API.md` beside this file).
//!
//! # The mental model
//! - [`router`] builds the whole site from a [`DashboardState`]: the run store, the
//!   launcher (which lists the deployments, triggers, pauses and resumes them), an
//!   optional bearer token and the data folder. [`serve`] runs it until a shutdown
//!   future completes.
//! - Pages: Dashboard `/`, Flows `/flows`, Deployments `/deployments`, Runs `/runs`
//!   (filtered by flow, state and backfill: the runs of one `bankpipe backfill` are a
//!   group), a run `/runs/{id}` (live while it runs: its script polls the JSON API every
//!   second; with the other runs of its backfill, if any), Data quality `/quality`, and the quality reports under `/reports/`.
//!   Charts are SVG drawn on the server; the CSS and the little script are compiled
//!   into the binary, so the dashboard needs no internet.
//! - The JSON API lives under `/api/`.
//!
//! # Security
//! - It binds [`DEFAULT_ADDR`] (localhost) unless told otherwise.
//! - With a token ([`DashboardState::with_token`]) every route, pages and API alike,
//!   answers 401 unless the request carries `Authorization: Bearer <token>` or the
//!   cookie that visiting any page with `?token=<token>` sets.
//! - A POST whose `Origin` (or `Sec-Fetch-Site`) says it comes from another site is
//!   refused (403), whatever it carries: a page elsewhere cannot make a browser
//!   trigger, pause or resume a deployment.
//! - Every text shown is HTML-escaped; the pages send a Content-Security-Policy that
//!   allows only the dashboard's own script and styles.
//!
//! ```no_run
//! # async fn example(
//! #     store: orchestration::runtime::RunStore,
//! #     launcher: std::sync::Arc<dyn orchestration::dashboard::Launcher>,
//! # ) -> std::io::Result<()> {
//! use orchestration::dashboard::{DEFAULT_ADDR, DashboardState, serve};
//!
//! let state = DashboardState::new(store, launcher, "data").with_token("s3cret");
//! let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! serve(DEFAULT_ADDR, state, async {
//!     let _ = stopped.await;
//! })
//! .await
//! # }
//! ```

mod api;
mod assets;
mod auth;
mod failure;
mod html;
mod json;
mod pages;
mod reports;
mod state;
mod summary;
mod svg;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;

pub use state::{DashboardState, DeploymentView, Launcher};

/// Where `bankpipe serve` listens unless told otherwise: 127.0.0.1:4200, this host
/// only.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4200));

/// The whole dashboard, pages and API, behind the token check when a token is set.
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(assets::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn(html::security_headers))
        .with_state(state)
}

/// Serves the dashboard on `addr` until `shutdown` completes (then lets the requests
/// under way finish).
pub async fn serve(
    addr: SocketAddr,
    state: DashboardState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await.map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("the dashboard cannot listen on {addr}: {error}"),
        )
    })?;
    serve_on(listener, state, shutdown).await
}

/// Serves the dashboard on a bound listener (e.g. on port 0, to learn the port from
/// it) until `shutdown` completes.
pub async fn serve_on(
    listener: TcpListener,
    state: DashboardState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("dashboard on http://{addr}/");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
