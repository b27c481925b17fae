//! The pages' shared pieces: HTML escaping, the layout with its navigation, state
//! badges (one colour per state, the same in badges and charts), times and
//! durations, and the security headers every answer gets.
//!
//! The pages are plain `format!` over escaped text: a template engine would add a
//! dependency and a build step for a handful of small pages, and the quality report
//! of `monitoring` is written the same way.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::runtime::{FlowRunRecord, RunState, TaskRunRecord};

/// Escapes text for HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The pages of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// `/`
    Dashboard,
    /// `/flows`
    Flows,
    /// `/deployments`
    Deployments,
    /// `/runs` and each run
    Runs,
    /// `/quality`
    Quality,
}

impl Nav {
    const ALL: [(Nav, &'static str, &'static str); 5] = [
        (Nav::Dashboard, "/", "Dashboard"),
        (Nav::Flows, "/flows", "Flows"),
        (Nav::Deployments, "/deployments", "Deployments"),
        (Nav::Runs, "/runs", "Runs"),
        (Nav::Quality, "/quality", "Data quality"),
    ];
}

/// A whole page: the layout, the navigation with `active` marked, the title (text,
/// escaped here) and the body (HTML).
pub(crate) fn layout(title: &str, active: Option<Nav>, body: &str) -> String {
    let title = escape(title);
    let mut nav = String::new();
    for (item, href, label) in Nav::ALL {
        let class = if Some(item) == active {
            " class=\"active\" aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{href}\"{class}>{label}</a>");
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · bankpipe</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/app.js\" defer></script></head><body>\
         <header class=\"top\"><a class=\"brand\" href=\"/\">bankpipe</a><nav>{nav}</nav></header>\
         <main><h1>{title}</h1>{body}</main>\
         <footer>bankpipe · times in UTC · <a href=\"/api/runs\">JSON API</a></footer>\
         </body></html>\n"
    )
}

/// Each state's colour (fill, then text on it), the same in badges and charts.
pub(crate) fn colors(state: RunState) -> (&'static str, &'static str) {
    match state {
        RunState::Scheduled => ("#7950f2", "#fff"),
        RunState::Pending => ("#ced4da", "#212529"),
        RunState::Running => ("#1c7ed6", "#fff"),
        RunState::Retrying => ("#f59f00", "#212529"),
        RunState::Completed => ("#2f9e44", "#fff"),
        RunState::Failed => ("#e03131", "#fff"),
        RunState::Cancelled => ("#495057", "#fff"),
        RunState::Skipped => ("#99e9f2", "#0b7285"),
        RunState::Crashed => ("#862e9c", "#fff"),
    }
}

/// The CSS of the state badges and legend swatches, from [`colors`].
pub(crate) fn state_css() -> String {
    let mut css = String::new();
    for state in RunState::ALL {
        let (fill, text) = colors(state);
        let _ = writeln!(
            css,
            ".s-{state}{{background:{fill};color:{text}}}.sw-{state}{{background:{fill}}}"
        );
    }
    css
}

/// A state as a coloured badge.
pub(crate) fn badge(state: RunState) -> String {
    format!("<span class=\"state s-{state}\">{state}</span>")
}

/// A time, in UTC, to the second.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        at.to_rfc3339(),
        at.format("%Y-%m-%d %H:%M:%S")
    )
}

/// An optional time (`—` when absent).
pub(crate) fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), when)
}

/// A duration for a person: `0.42 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub(crate) fn duration(d: Duration) -> String {
    let seconds = d.as_secs_f64();
    let whole = d.as_secs();
    if seconds < 10.0 {
        format!("{seconds:.2} s")
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    }
}

/// The time between two instants (none when `end` is before `start`).
pub(crate) fn between(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Duration> {
    (end - start).to_std().ok()
}

/// How long a flow run took, or has taken so far while it runs.
pub(crate) fn run_duration(run: &FlowRunRecord, now: DateTime<Utc>) -> Option<Duration> {
    let start = run.started_at?;
    between(start, run.ended_at.unwrap_or(now))
}

/// How long a task run took, or has taken so far while it runs.
pub(crate) fn task_duration(task: &TaskRunRecord, now: DateTime<Utc>) -> Option<Duration> {
    let start = task.started_at?;
    let end = match task.ended_at {
        Some(end) => end,
        None if task.state.is_active() => now,
        None => return None,
    };
    between(start, end)
}

/// An optional duration (`—` when absent).
pub(crate) fn duration_opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_owned(), duration)
}

/// A count with thousands separators (`1 234 567`), or `—`.
pub(crate) fn count(n: Option<u64>) -> String {
    let Some(n) = n else {
        return "—".to_owned();
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}

/// The policy of the dashboard's own pages: its script and styles only.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Adds the security headers to every answer (the Content-Security-Policy unless the
/// route set its own).
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_text_and_attributes() {
        assert_eq!(
            escape("<b a=\"x\" b='y'>&</b>"),
            "&lt;b a=&quot;x&quot; b=&#39;y&#39;&gt;&amp;&lt;/b&gt;"
        );
    }

    #[test]
    fn durations_and_counts_read_well() {
        assert_eq!(duration(Duration::from_millis(420)), "0.42 s");
        assert_eq!(duration(Duration::from_millis(12_340)), "12.3 s");
        assert_eq!(duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(duration(Duration::from_secs(7_380)), "2 h 03 min");
        assert_eq!(count(Some(1_234_567)), "1\u{202f}234\u{202f}567");
        assert_eq!(count(Some(999)), "999");
        assert_eq!(count(None), "—");
    }

    #[test]
    fn every_state_has_a_badge_style() {
        let css = state_css();
        for state in RunState::ALL {
            assert!(css.contains(&format!(".s-{state}{{")), "{state}");
        }
        assert!(layout("a <b>", Some(Nav::Runs), "").contains("<h1>a &lt;b&gt;</h1>"));
    }
}
