//! Dashboard `/`: the runs of the last 14 days by state as stacked bars, the success
//! rate, the mean duration, and the recent failures with their errors.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;
use chrono::Utc;

use super::{PageResult, legend, run_link};
use crate::dashboard::html::{Nav, badge, duration_opt, escape, layout, when};
use crate::dashboard::state::DashboardState;
use crate::dashboard::summary::{DAYS, Stats};
use crate::dashboard::svg::runs_per_day;

/// `GET /`.
pub(crate) async fn page(State(state): State<DashboardState>) -> PageResult {
    let now = Utc::now();
    let stats = Stats::load(state.store(), DAYS, now).await?;
    let rate = stats
        .success_rate()
        .map_or_else(|| "—".to_owned(), |rate| format!("{:.0} %", rate * 100.0));
    let rate_class = match stats.success_rate() {
        Some(rate) if rate >= 0.95 => " good",
        Some(_) => " bad",
        None => "",
    };
    let mut body = format!(
        "<div class=\"cards\">\
         <div class=\"card\"><b id=\"runs-total\">{runs}</b>runs in {DAYS} days</div>\
         <div class=\"card{rate_class}\"><b id=\"success-rate\">{rate}</b>success rate</div>\
         <div class=\"card\"><b id=\"mean-duration\">{mean}</b>mean duration (completed)</div>\
         <div class=\"card\"><b id=\"active-runs\">{active}</b>running now</div></div>\
         <section class=\"panel\"><h2>Runs per day</h2>{chart}{legend}</section>",
        runs = stats.runs(),
        mean = duration_opt(stats.mean_duration),
        active = stats.active(),
        chart = runs_per_day(&stats.days),
        legend = legend(
            crate::runtime::RunState::ALL
                .into_iter()
                .filter(|s| stats.days.iter().any(|(_, counts)| counts.contains_key(s)))
        ),
    );
    body.push_str("<section class=\"panel\" id=\"recent-failures\"><h2>Recent failures</h2>");
    if stats.failures.is_empty() {
        body.push_str("<p class=\"muted\">No failed run.</p>");
    } else {
        body.push_str(
            "<table><tr><th>run</th><th>flow</th><th>state</th><th>created (UTC)</th>\
             <th>error</th></tr>",
        );
        for run in &stats.failures {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
                run_link(run.id),
                escape(&run.flow),
                badge(run.state),
                when(run.created_at),
                escape(run.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    Ok(Html(layout("Dashboard", Some(Nav::Dashboard), &body)))
}
