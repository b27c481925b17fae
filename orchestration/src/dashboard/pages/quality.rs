//! Data quality `/quality`: the latest quality report's verdicts (from its `.json`
//! in `<data>/monitoring/reports/`), a link to its page, and the earlier reports.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Utc};

use super::PageResult;
use crate::dashboard::html::{Nav, escape, layout, when};
use crate::dashboard::reports::{self, blocking};
use crate::dashboard::state::DashboardState;

/// How many earlier reports the page lists.
const EARLIER: usize = 20;

/// `GET /quality`.
pub(crate) async fn page(State(state): State<DashboardState>) -> PageResult {
    let data = state.data().to_owned();
    let (latest, all) = blocking(move || {
        let all = reports::list(&data)?;
        let latest = all
            .first()
            .map(|entry| reports::summary(&data, entry))
            .transpose()?;
        Ok((latest, all))
    })
    .await?;
    let mut body = String::new();
    let Some(latest) = latest else {
        let _ = write!(
            body,
            "<section class=\"panel\"><p class=\"muted\">No quality report yet in <code>{}</code>: \
             <code>bankpipe quality</code> (and <code>run</code>, <code>demo</code>) writes one.</p></section>",
            escape(&reports::folder(state.data()).display().to_string())
        );
        return Ok(Html(layout("Data quality", Some(Nav::Quality), &body)));
    };
    let failed_class = if latest.failed > 0 { " bad" } else { " good" };
    let link = latest.report_url().map_or_else(
        || "<span class=\"muted\">no HTML report beside it</span>".to_owned(),
        |url| {
            format!(
                "<a id=\"report-link\" href=\"{}\">Open the full report</a>",
                escape(&url)
            )
        },
    );
    let _ = write!(
        body,
        "<div class=\"cards\">\
         <div class=\"card{failed_class}\"><b id=\"verdicts-failed\">{failed}</b>failed</div>\
         <div class=\"card good\"><b id=\"verdicts-passed\">{passed}</b>passed</div>\
         <div class=\"card\"><b id=\"verdicts-not-judged\">{not_judged}</b>not judged yet</div></div>\
         <section class=\"panel\"><h2>Latest report: run {run} · business date {as_of}</h2><p>{link}</p>",
        failed = latest.failed,
        passed = latest.passed,
        not_judged = latest.not_judged,
        run = escape(&latest.run_id),
        as_of = escape(&latest.as_of),
    );
    if latest.failed_checks.is_empty() {
        body.push_str("<p>Every judged check passed.</p>");
    } else {
        body.push_str(
            "<table id=\"failed-checks\"><tr><th>check</th><th>table</th><th>severity</th>\
             <th>observed</th><th>expected</th><th>owner</th></tr>",
        );
        for v in &latest.failed_checks {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&v.check),
                escape(&v.table),
                v.severity,
                escape(&v.observed),
                escape(&v.expected),
                escape(v.owner.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section><section class=\"panel\"><h2>Reports</h2><table id=\"reports\"><tr><th>run</th><th>written (UTC)</th></tr>");
    for report in all.iter().take(EARLIER) {
        let run = escape(&report.run_id);
        let name = match &report.html {
            Some(file) => format!("<a href=\"/reports/{}\">{run}</a>", escape(file)),
            None => run,
        };
        let _ = write!(
            body,
            "<tr><td>{name}</td><td>{}</td></tr>",
            when(DateTime::<Utc>::from(report.modified))
        );
    }
    body.push_str("</table></section>");
    Ok(Html(layout("Data quality", Some(Nav::Quality), &body)))
}
