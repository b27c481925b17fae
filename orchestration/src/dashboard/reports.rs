//! The quality reports of `bankpipe quality`, in `<data>/monitoring/reports/`: the
//! latest one's verdicts (from its `.json`), and the reports themselves (`.html`),
//! served under `/reports/<run>.html` and nothing else.
//!
//! A report's name must be letters, digits, `.`, `_` and `-` only, end in `.html`
//! and not start with a dot, and the file must resolve (links followed) to inside the
//! reports folder: no `..`, no `/`, no link out, whatever the encoding.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use monitoring::checks::{Outcome, Verdict};
use serde::Deserialize;

use super::failure::Failure;
use super::pages::PageFailure;
use super::state::DashboardState;

/// The reports' folder in the data folder.
pub(crate) fn folder(data: &Path) -> PathBuf {
    data.join("monitoring").join("reports")
}

/// What the dashboard reads of a report's `.json`.
#[derive(Debug, Deserialize)]
struct ReportFile {
    run_id: String,
    as_of: String,
    verdicts: Vec<Verdict>,
}

/// A quality report, as the dashboard shows it.
#[derive(Debug, Clone)]
pub(crate) struct QualitySummary {
    /// The run judged.
    pub(crate) run_id: String,
    /// Its business date.
    pub(crate) as_of: String,
    /// Checks that passed.
    pub(crate) passed: usize,
    /// Checks that failed.
    pub(crate) failed: usize,
    /// Checks not judged yet (too little history).
    pub(crate) not_judged: usize,
    /// The failed checks, errors first.
    pub(crate) failed_checks: Vec<Verdict>,
    /// The file name of its page, when there is one.
    pub(crate) html: Option<String>,
}

impl QualitySummary {
    /// Where the dashboard serves its page.
    pub(crate) fn report_url(&self) -> Option<String> {
        self.html.as_ref().map(|name| format!("/reports/{name}"))
    }
}

/// A report found in the folder.
#[derive(Debug, Clone)]
pub(crate) struct ReportEntry {
    /// The run (the file name without `.json`).
    pub(crate) run_id: String,
    /// The file name of its page, when there is one.
    pub(crate) html: Option<String>,
    /// When it was written.
    pub(crate) modified: SystemTime,
}

/// The reports of the data folder `data`, newest first (by the time their `.json`
/// was written); none when the folder does not exist.
pub(crate) fn list(data: &Path) -> Result<Vec<ReportEntry>, Failure> {
    let folder = folder(data);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_failure(&folder, &error)),
    };
    let mut reports = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run_id) = name.strip_suffix(".json") else {
            continue;
        };
        let html = format!("{run_id}.html");
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        reports.push(ReportEntry {
            run_id: run_id.to_owned(),
            html: (safe_name(&html) && folder.join(&html).is_file()).then_some(html),
            modified,
        });
    }
    reports.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    Ok(reports)
}

/// The latest report's verdicts, if there is a report.
pub(crate) fn latest(data: &Path) -> Result<Option<QualitySummary>, Failure> {
    list(data)?
        .first()
        .map(|entry| summary(data, entry))
        .transpose()
}

/// The verdicts of report `entry`.
pub(crate) fn summary(data: &Path, entry: &ReportEntry) -> Result<QualitySummary, Failure> {
    let path = folder(data).join(format!("{}.json", entry.run_id));
    let text = std::fs::read_to_string(&path).map_err(|error| io_failure(&path, &error))?;
    let report: ReportFile = serde_json::from_str(&text).map_err(|error| Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("{} is not a quality report: {error}", path.display()),
    })?;
    let count = |outcome| {
        report
            .verdicts
            .iter()
            .filter(|v| v.outcome == outcome)
            .count()
    };
    let mut failed_checks: Vec<Verdict> = report
        .verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .cloned()
        .collect();
    failed_checks.sort_by_key(|v| std::cmp::Reverse(v.severity));
    Ok(QualitySummary {
        passed: count(Outcome::Pass),
        failed: count(Outcome::Fail),
        not_judged: count(Outcome::NotJudged),
        failed_checks,
        run_id: report.run_id,
        as_of: report.as_of,
        html: entry.html.clone(),
    })
}

/// Reads the reports off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("reading the reports stopped: {error}"),
        })?
}

/// `GET /reports/{file}`: a report's page, if `file` names one safely.
pub(crate) async fn serve(
    State(state): State<DashboardState>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, PageFailure> {
    if !safe_name(&file) {
        return Err(Failure::bad_request(format!("`{file}` is not a report's name")).into());
    }
    let data = state.data().to_owned();
    let page = blocking(move || read_report(&data, &file)).await?;
    let mut response = page.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The report is self-contained: its own styles, nothing to fetch, no script.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(response)
}

/// A report's page, read only if it resolves to inside the reports folder.
fn read_report(data: &Path, file: &str) -> Result<Vec<u8>, Failure> {
    let folder = folder(data);
    let missing = || Failure::not_found(format!("no report `{file}`"));
    let root = folder.canonicalize().map_err(|_| missing())?;
    let path = folder.join(file).canonicalize().map_err(|_| missing())?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(missing());
    }
    std::fs::read(&path).map_err(|error| io_failure(&path, &error))
}

/// Whether `file` may name a report: `[A-Za-z0-9._-]+\.html`, not starting with a dot.
fn safe_name(file: &str) -> bool {
    file.len() <= 255
        && file.ends_with(".html")
        && !file.starts_with('.')
        && !file.contains("..")
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn io_failure(path: &Path, error: &std::io::Error) -> Failure {
    Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("cannot read {}: {error}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn only_plain_report_names_are_safe() {
        assert!(safe_name("20261124T080000-ab12.html"));
        for name in [
            "../runs.sqlite",
            "..html",
            ".hidden.html",
            "a/b.html",
            "a\\b.html",
            "report.json",
            "r%2e%2e.html",
            "",
        ] {
            assert!(!safe_name(name), "{name}");
        }
    }
}
