//! The charts, drawn on the server as inline SVG: no script library, nothing to
//! fetch. Colours come from [`colors`], so a state looks the same in the charts as
//! in its badges.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::html::{between, colors, duration, escape};
use crate::runtime::{FlowRunDetail, RunState, TaskRunRecord};

/// The order states are stacked in, from the bottom: the good, then the bad, then
/// the unfinished.
const STACK: [RunState; 9] = [
    RunState::Completed,
    RunState::Skipped,
    RunState::Failed,
    RunState::Crashed,
    RunState::Cancelled,
    RunState::Running,
    RunState::Retrying,
    RunState::Pending,
    RunState::Scheduled,
];

/// Runs per day as bars stacked by state, one bar per day given (oldest first).
pub(crate) fn runs_per_day(days: &[(NaiveDate, BTreeMap<RunState, u64>)]) -> String {
    const W: f64 = 760.0;
    const H: f64 = 230.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 10.0;
    let plot_h = H - BOTTOM - TOP;
    let highest = days
        .iter()
        .map(|(_, counts)| counts.values().sum::<u64>())
        .max()
        .unwrap_or(0);
    let (top, step) = scale(highest);
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Runs per day by state\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let y = |value: f64| TOP + plot_h - value / top as f64 * plot_h;
    let mut tick = 0;
    while tick <= top {
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{W}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#e9ecef\"/>\
             <text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#6c757d\">{tick}</text>",
            y(tick as f64),
            LEFT - 6.0,
            y(tick as f64) + 4.0
        );
        tick += step;
    }
    let band = (W - LEFT) / days.len().max(1) as f64;
    for (i, (day, counts)) in days.iter().enumerate() {
        let x = LEFT + i as f64 * band + band * 0.15;
        let mut base = 0.0;
        for state in STACK {
            let Some(&runs) = counts.get(&state).filter(|&&runs| runs > 0) else {
                continue;
            };
            let (fill, _) = colors(state);
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\">\
                 <title>{day}: {runs} {state}</title></rect>",
                y(base + runs as f64),
                band * 0.7,
                y(base) - y(base + runs as f64),
            );
            base += runs as f64;
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#495057\">{}</text>",
            x + band * 0.35,
            H - 7.0,
            day.format("%m-%d")
        );
    }
    out.push_str("</svg>");
    out
}

/// The top of a count axis and its step: a round number of 1, 2 or 5 times a power
/// of ten, about four ticks.
fn scale(highest: u64) -> (u64, u64) {
    let mut step = 1;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step * factor;
            if highest <= candidate * 4 {
                return ((highest.div_ceil(candidate)).max(1) * candidate, candidate);
            }
        }
        step *= 10;
    }
}

/// A flow run's task runs as a Gantt chart: one row per task, a bar from its start to
/// its end (or to `now` while it runs) in its state's colour, a tick for a task that
/// ended without running (skipped, cancelled).
pub(crate) fn timeline(detail: &FlowRunDetail, now: DateTime<Utc>) -> String {
    const W: f64 = 900.0;
    const LABEL: f64 = 190.0;
    const ROW: f64 = 26.0;
    const AXIS: f64 = 22.0;
    const RIGHT: f64 = 110.0;
    let run = &detail.run;
    let start = run.started_at.unwrap_or(run.created_at);
    let end = run
        .ended_at
        .unwrap_or(if run.state.is_active() { now } else { start })
        .max(
            detail
                .tasks
                .iter()
                .filter_map(|task| task.ended_at)
                .max()
                .unwrap_or(start),
        );
    let span = between(start, end)
        .unwrap_or_default()
        .max(Duration::from_secs(1));
    let plot = W - LABEL - RIGHT;
    let x = |at: DateTime<Utc>| {
        LABEL + between(start, at).unwrap_or_default().as_secs_f64() / span.as_secs_f64() * plot
    };
    let height = AXIS + ROW * detail.tasks.len().max(1) as f64 + 6.0;
    let mut out = format!(
        "<svg class=\"gantt\" viewBox=\"0 0 {W} {height}\" role=\"img\" \
         aria-label=\"Timeline of the task runs\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let step = time_step(span);
    let mut mark = Duration::ZERO;
    while mark <= span {
        let at = LABEL + mark.as_secs_f64() / span.as_secs_f64() * plot;
        let _ = write!(
            out,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{AXIS}\" y2=\"{height}\" stroke=\"#e9ecef\"/>\
             <text x=\"{at:.1}\" y=\"14\" text-anchor=\"middle\" font-size=\"11\" fill=\"#6c757d\">+{}</text>",
            elapsed(mark)
        );
        mark += step;
    }
    if detail.tasks.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{LABEL}\" y=\"{:.1}\" font-size=\"12\" fill=\"#6c757d\">no task run yet</text>",
            AXIS + 17.0
        );
    }
    for (i, task) in detail.tasks.iter().enumerate() {
        let top = AXIS + i as f64 * ROW;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#212529\">{}</text>",
            LABEL - 8.0,
            top + 17.0,
            escape(&shorten(&task.task, 26))
        );
        let (fill, _) = colors(task.state);
        let tip = escape(&tip(task, now));
        match (task.started_at, task.ended_at) {
            (Some(begun), ended) => {
                let stop = ended.unwrap_or(if task.state.is_active() { now } else { begun });
                let (left, right) = (x(begun), x(stop).max(x(begun) + 2.0));
                let _ = write!(
                    out,
                    "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" rx=\"3\" \
                     fill=\"{fill}\"><title>{tip}</title></rect>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#495057\">{}</text>",
                    top + 5.0,
                    right - left,
                    right + 5.0,
                    top + 17.0,
                    escape(&bar_label(task, now)),
                );
            }
            (None, Some(ended)) => {
                let _ = write!(
                    out,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"4\" height=\"16\" fill=\"{fill}\">\
                     <title>{tip}</title></rect>\
                     <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#495057\">{}</text>",
                    x(ended) - 2.0,
                    top + 5.0,
                    x(ended) + 7.0,
                    top + 17.0,
                    task.state
                );
            }
            (None, None) => {
                let _ = write!(
                    out,
                    "<text x=\"{LABEL}\" y=\"{:.1}\" font-size=\"11\" fill=\"#868e96\">{}</text>",
                    top + 17.0,
                    task.state
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A round step for a time axis of `span`: about five marks.
fn time_step(span: Duration) -> Duration {
    const STEPS_MS: [u64; 16] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 900_000, 1_800_000, 3_600_000,
    ];
    let millis = span.as_millis();
    let chosen = STEPS_MS
        .into_iter()
        .find(|&step| millis / u128::from(step) <= 6)
        .unwrap_or(3_600_000 * millis.div_ceil(6 * 3_600_000).max(1) as u64);
    Duration::from_millis(chosen)
}

/// An axis mark: `0 s`, `1.5 s`, `2 min`, `1 h 30 min`.
fn elapsed(mark: Duration) -> String {
    let millis = mark.as_millis();
    if millis < 60_000 {
        let seconds = mark.as_secs_f64();
        if millis.is_multiple_of(1000) {
            format!("{seconds:.0} s")
        } else {
            format!("{seconds:.1} s")
        }
    } else if millis < 3_600_000 {
        let seconds = mark.as_secs();
        if seconds.is_multiple_of(60) {
            format!("{} min", seconds / 60)
        } else {
            format!("{} min {:02} s", seconds / 60, seconds % 60)
        }
    } else {
        let minutes = mark.as_secs() / 60;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

/// The words after a task's bar: its duration, and its attempts when retried.
fn bar_label(task: &TaskRunRecord, now: DateTime<Utc>) -> String {
    let took = super::html::task_duration(task, now).map(duration);
    match (took, task.attempt) {
        (Some(took), attempts) if attempts > 1 => format!("{took} · {attempts} attempts"),
        (Some(took), _) => took,
        (None, _) => task.state.to_string(),
    }
}

/// The tooltip of a task's bar.
fn tip(task: &TaskRunRecord, now: DateTime<Utc>) -> String {
    let mut tip = format!("{}: {}", task.task, task.state);
    if let Some(took) = super::html::task_duration(task, now) {
        let _ = write!(tip, ", {}", duration(took));
    }
    if task.attempt > 1 {
        let _ = write!(tip, ", {} attempts", task.attempt);
    }
    if let Some(error) = &task.error {
        let _ = write!(tip, "\n{error}");
    }
    tip
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_get_round_steps() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(3), (3, 1));
        assert_eq!(scale(7), (8, 2));
        assert_eq!(scale(18), (20, 5));
        assert_eq!(scale(130), (150, 50));
        assert_eq!(
            time_step(Duration::from_millis(1_600)),
            Duration::from_millis(500)
        );
        assert_eq!(time_step(Duration::from_secs(100)), Duration::from_secs(15));
        assert_eq!(elapsed(Duration::from_millis(1_500)), "1.5 s");
        assert_eq!(elapsed(Duration::from_secs(120)), "2 min");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }

    #[test]
    fn bars_stack_by_state_and_text_is_escaped() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).expect("a date");
        let counts = BTreeMap::from([(RunState::Completed, 3), (RunState::Failed, 1)]);
        let svg = runs_per_day(&[(day, counts)]);
        assert!(svg.contains("<title>2026-11-24: 3 completed</title>"));
        assert!(svg.contains("<title>2026-11-24: 1 failed</title>"));
        assert!(svg.contains(colors(RunState::Failed).0));
    }
}
