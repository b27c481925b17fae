//! The quality report as one self-contained HTML file: no script, no font, no link
//! to fetch, so it opens anywhere, offline, and can be mailed as it is.
//!
//! It shows, in this order: the failed checks (errors first), the distributions
//! judged for drift (the PSI, the bins before and today, the bins that moved most),
//! the history of each watched figure as a small chart with its expected band and
//! today's value, the quarantine by entity and rule, every check's verdict, and each
//! table's profile (nulls, distinct values, range, quantiles, frequent codes). The
//! contract's personal columns are never shown in clear.

use std::fmt::Write as _;

use crate::anomaly::Band;
use crate::checks::{Outcome, Verdict};
use crate::drift::{Drift, DriftLevel, short};
use crate::personal::shown;
use crate::profile::{ColumnKind, ColumnProfile, TableProfile};

/// One figure's history, for a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// What the figure is, e.g. `fact_transactions rows`.
    pub title: String,
    /// The earlier runs' values, oldest first.
    pub history: Vec<f64>,
    /// This run's value.
    pub current: f64,
    /// The band the history expects, when it is long enough to say.
    pub band: Option<Band>,
}

/// A drift check's comparison, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftPanel {
    /// The check's id.
    pub check: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Today's distribution against the reference.
    pub drift: Drift,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportData {
    /// The run.
    pub run_id: String,
    /// Its business date, as text.
    pub as_of: String,
    /// The verdicts.
    pub verdicts: Vec<Verdict>,
    /// The charts.
    pub series: Vec<Series>,
    /// Quarantined rows: entity, rule, rows.
    pub quarantine: Vec<(String, String, u64)>,
    /// What became of the alerts, per channel.
    pub deliveries: Vec<crate::alerts::Delivery>,
    /// The tables' profiles.
    pub profiles: Vec<TableProfile>,
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0d0}main{padding:20px 28px;max-width:1200px}
h2{font-size:16px;margin:28px 0 10px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 2px #0001}
.card b{display:block;font-size:22px}.pass b{color:#1b7f3b}.fail b{color:#c0392b}.wait b{color:#8a6d00}
table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0001;border-radius:8px;overflow:hidden}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eceef2}th{background:#eef0f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}
.b-fail{background:#fde2df;color:#a12a1c}.b-pass{background:#dcf3e3;color:#1b6b34}.b-not_judged{background:#fff3c4;color:#7a5d00}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
.chart{background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 2px #0001}.chart h3{font-size:13px;margin:0 0 6px}
.chart.unusual{outline:2px solid #c0392b}.chart small{color:#5b6475}
.drift{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0001;margin-bottom:12px}
.drift h3{font-size:14px;margin:0 0 8px}.drift table{box-shadow:none;margin-top:8px}
.b-stable{background:#dcf3e3;color:#1b6b34}.b-moderate{background:#fff3c4;color:#7a5d00}.b-significant{background:#fde2df;color:#a12a1c}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
";

/// Renders the report.
pub fn html(data: &ReportData) -> String {
    html_with_drift(data, &[])
}

/// Renders the report with the distributions judged for drift.
pub fn html_with_drift(data: &ReportData, drifts: &[DriftPanel]) -> String {
    let count = |outcome| {
        data.verdicts
            .iter()
            .filter(|v| v.outcome == outcome)
            .count()
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Data quality — run {run}</title><style>{STYLE}</style></head><body>\
         <header><h1>Data quality</h1><p>run {run} · business date {as_of}</p></header><main>\
         <div class=\"cards\">\
         <div class=\"card fail\"><b id=\"failed\">{failed}</b>failed</div>\
         <div class=\"card pass\"><b id=\"passed\">{passed}</b>passed</div>\
         <div class=\"card wait\"><b>{waiting}</b>not judged yet</div></div>",
        run = escape(&data.run_id),
        as_of = escape(&data.as_of),
        failed = count(Outcome::Fail),
        passed = count(Outcome::Pass),
        waiting = count(Outcome::NotJudged),
    );
    let mut failed: Vec<&Verdict> = data
        .verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .collect();
    failed.sort_by_key(|v| std::cmp::Reverse(v.severity));
    out.push_str("<h2>Failed checks</h2>");
    if failed.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        verdict_table(&mut out, &failed, "failed-checks");
    }
    if !drifts.is_empty() {
        out.push_str("<h2>Distributions</h2><div id=\"drift\">");
        let mut drifts: Vec<&DriftPanel> = drifts.iter().collect();
        drifts.sort_by_key(|panel| std::cmp::Reverse(panel.drift.level));
        for panel in drifts {
            drift_panel(&mut out, panel);
        }
        out.push_str("</div>");
    }
    out.push_str("<h2>History</h2><div class=\"charts\">");
    for series in &data.series {
        chart(&mut out, series);
    }
    out.push_str("</div><h2>Quarantine</h2>");
    if data.quarantine.is_empty() {
        out.push_str("<p>No row quarantined.</p>");
    } else {
        out.push_str("<table><tr><th>entity</th><th>rule</th><th>rows</th></tr>");
        for (entity, rule, rows) in &data.quarantine {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{rows}</td></tr>",
                escape(entity),
                escape(rule)
            );
        }
        out.push_str("</table>");
    }
    if !data.deliveries.is_empty() {
        out.push_str(
            "<h2>Alerts</h2><table id=\"alerts\"><tr><th>channel</th><th>alerts</th>\
             <th>attempts</th><th>delivered</th></tr>",
        );
        for d in &data.deliveries {
            let status = match &d.error {
                None => "<span class=\"badge b-pass\">yes</span>".to_owned(),
                Some(error) => format!("<span class=\"badge b-fail\">no</span> {}", escape(error)),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{status}</td></tr>",
                escape(&d.channel),
                d.alerts,
                d.attempts
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Every check</h2>");
    let all: Vec<&Verdict> = data.verdicts.iter().collect();
    verdict_table(&mut out, &all, "all-checks");
    if !data.profiles.is_empty() {
        out.push_str("<h2>Profiles</h2><div id=\"profiles\">");
        for profile in &data.profiles {
            profile_table(&mut out, profile);
        }
        out.push_str("</div>");
    }
    out.push_str("</main></body></html>\n");
    out
}

fn verdict_table(out: &mut String, verdicts: &[&Verdict], id: &str) {
    let _ = write!(
        out,
        "<table id=\"{id}\"><tr><th>check</th><th>table</th><th>severity</th><th>outcome</th>\
         <th>observed</th><th>expected</th><th>owner</th></tr>"
    );
    for v in verdicts {
        let outcome = match v.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotJudged => "not_judged",
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><span class=\"badge b-{outcome}\">{}</span></td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.check),
            escape(&v.table),
            v.severity,
            outcome.replace('_', " "),
            escape(&v.observed),
            escape(&v.expected),
            escape(v.owner.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>");
}

/// One table's profile, folded: a row per column.
fn profile_table(out: &mut String, profile: &TableProfile) {
    let _ = write!(
        out,
        "<details><summary><b>{}</b> · {} rows</summary><table><tr><th>column</th>\
         <th>nulls</th><th>distinct</th><th>min</th><th>p05</th><th>p25 · p50 · p75</th>\
         <th>p95</th><th>max</th><th>mean</th><th>frequent values</th></tr>",
        escape(&profile.table),
        profile.rows
    );
    for column in &profile.columns {
        let figure =
            |value: Option<f64>| value.map_or_else(String::new, |v| shown_figure(column, v));
        let quantile = |percent: u8| {
            figure(
                column
                    .quantiles
                    .iter()
                    .find(|(p, _)| *p == percent)
                    .map(|(_, v)| *v),
            )
        };
        let middle = [25, 50, 75].map(quantile);
        let middle = if middle.iter().all(String::is_empty) {
            String::new()
        } else {
            middle.join(" · ")
        };
        let valued = profile.rows.saturating_sub(column.nulls).max(1) as f64;
        let top: Vec<String> = column
            .top
            .iter()
            .map(|(code, rows)| {
                format!(
                    "{} {:.0} %",
                    escape(shown(&column.column, code)),
                    *rows as f64 / valued * 100.0
                )
            })
            .collect();
        let mean = match column.kind {
            ColumnKind::Flag => column
                .mean
                .map_or_else(String::new, |share| format!("{:.1} % true", share * 100.0)),
            _ => figure(column.mean),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{middle}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{mean}</td>\
             <td>{}</td></tr>",
            escape(&column.column),
            profile.null_rate(&column.column).unwrap_or_default() * 100.0,
            column
                .distinct
                .map_or_else(String::new, |d| format!("≈{d}")),
            figure(column.min),
            quantile(5),
            quantile(95),
            figure(column.max),
            top.join(" · "),
        );
    }
    out.push_str("</table></details>");
}

/// A profile figure as a person reads it: dates as dates, timestamps to the minute
/// (UTC), flags' extremes as true / false, numbers to three digits.
fn shown_figure(column: &ColumnProfile, value: f64) -> String {
    let format = match column.kind {
        ColumnKind::Date => "%Y-%m-%d",
        ColumnKind::Timestamp => "%Y-%m-%d %H:%M",
        ColumnKind::Flag => return (value >= 0.5).to_string(),
        ColumnKind::Number | ColumnKind::Text => return short(value),
    };
    match chrono::DateTime::from_timestamp(value.round() as i64, 0) {
        Some(at) => at.format(format).to_string(),
        None => short(value),
    }
}

/// One drift: its PSI and level, the shares of every bin before (grey) and today
/// (blue) as bars, and the bins that moved most.
fn drift_panel(out: &mut String, panel: &DriftPanel) {
    let drift = &panel.drift;
    let level = match drift.level {
        DriftLevel::Stable => "stable",
        DriftLevel::Moderate => "moderate",
        DriftLevel::Significant => "significant",
    };
    let _ = write!(
        out,
        "<div class=\"drift\"><h3>{} · {} <span class=\"badge b-{level}\">PSI {:.3} · {}</span></h3>\
         <small>against {} earlier run(s) · check {}</small>",
        escape(&panel.table),
        escape(&panel.column),
        drift.comparison.psi,
        drift.level,
        drift.reference_runs,
        escape(&panel.check)
    );
    const W: f64 = 560.0;
    const H: f64 = 90.0;
    let bins = &drift.comparison.bins;
    let highest = bins
        .iter()
        .map(|b| b.expected.max(b.actual))
        .fold(0.0, f64::max)
        .max(f64::EPSILON);
    let slot = W / bins.len().max(1) as f64;
    let bar = (slot / 2.0 - 2.0).max(1.0);
    let _ = write!(
        out,
        "<div><svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">"
    );
    for (i, bin) in bins.iter().enumerate() {
        for (j, (share, colour)) in [(bin.expected, "#aab2c0"), (bin.actual, "#3b5bdb")]
            .into_iter()
            .enumerate()
        {
            let height = share / highest * (H - 4.0);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" fill=\"{colour}\">\
                 <title>{}: {:.1} %</title></rect>",
                i as f64 * slot + 1.0 + j as f64 * (bar + 1.0),
                H - height,
                escape(shown(&panel.column, &bin.label)),
                share * 100.0
            );
        }
    }
    out.push_str(
        "</svg></div><small class=\"legend\"><i style=\"background:#aab2c0\"></i>before\
         <i style=\"background:#3b5bdb\"></i>today</small>\
         <table><tr><th>bin</th><th>before</th><th>today</th><th>part of the PSI</th></tr>",
    );
    for bin in drift.comparison.top(3) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.1} %</td><td class=\"num\">{:.1} %</td>\
             <td class=\"num\">{:.3}</td></tr>",
            escape(shown(&panel.column, &bin.label)),
            bin.expected * 100.0,
            bin.actual * 100.0,
            bin.contribution
        );
    }
    out.push_str("</table></div>");
}

/// A small SVG line chart: the history, today's point, and the band when known.
fn chart(out: &mut String, series: &Series) {
    const W: f64 = 240.0;
    const H: f64 = 70.0;
    let mut values = series.history.clone();
    values.push(series.current);
    let mut low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some(band) = series.band {
        low = low.min(band.low);
        high = high.max(band.high);
    }
    if (high - low).abs() < f64::EPSILON {
        low -= 1.0;
        high += 1.0;
    }
    let x = |i: usize| {
        if values.len() < 2 {
            W / 2.0
        } else {
            4.0 + i as f64 * (W - 8.0) / (values.len() - 1) as f64
        }
    };
    let y = |v: f64| H - 4.0 - (v - low) / (high - low) * (H - 8.0);
    let unusual = series
        .band
        .is_some_and(|b| series.current < b.low || series.current > b.high);
    let _ = write!(
        out,
        "<div class=\"chart{}\"><h3>{}</h3><svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">",
        if unusual { " unusual" } else { "" },
        escape(&series.title)
    );
    if let Some(band) = series.band {
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"{:.1}\" width=\"{W}\" height=\"{:.1}\" fill=\"#1b7f3b\" opacity=\"0.12\"/>",
            y(band.high),
            (y(band.low) - y(band.high)).max(1.0)
        );
    }
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    let _ = write!(
        out,
        "<polyline fill=\"none\" stroke=\"#3b5bdb\" stroke-width=\"2\" points=\"{}\"/>\
         <circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"/></svg>",
        points.join(" "),
        x(values.len() - 1),
        y(series.current),
        if unusual { "#c0392b" } else { "#3b5bdb" }
    );
    let band = series.band.map_or_else(
        || "band after more runs".to_owned(),
        |b| format!("usual {:.0}–{:.0}", b.low, b.high),
    );
    let _ = write!(
        out,
        "<small>today {:.0} · {} runs before · {band}</small></div>",
        series.current,
        series.history.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Severity;

    fn verdict(check: &str, severity: Severity, outcome: Outcome) -> Verdict {
        Verdict {
            check: check.into(),
            table: "fact_transactions".into(),
            severity,
            owner: Some("data-team".into()),
            outcome,
            observed: "2 rows".into(),
            expected: "at most <1> rows".into(),
        }
    }

    #[test]
    fn failures_come_first_and_text_is_escaped() {
        let data = ReportData {
            run_id: "run-1".into(),
            as_of: "2024-03-01".into(),
            verdicts: vec![
                verdict("fine", Severity::Error, Outcome::Pass),
                verdict("warned", Severity::Warn, Outcome::Fail),
                verdict("broken", Severity::Error, Outcome::Fail),
            ],
            series: vec![Series {
                title: "fact_transactions rows".into(),
                history: vec![100.0, 102.0, 98.0],
                current: 50.0,
                band: Some(Band {
                    median: 100.0,
                    low: 90.0,
                    high: 110.0,
                }),
            }],
            quarantine: vec![("transactions".into(), "duplicate".into(), 3)],
            deliveries: vec![crate::alerts::Delivery {
                channel: "webhook https://hooks.example".into(),
                alerts: 1,
                attempts: 4,
                error: Some("answered 503".into()),
            }],
            profiles: Vec::new(),
        };
        let page = html(&data);
        let failed = &page[page.find("failed-checks").expect("failed table")..];
        let failed = &failed[..failed.find("</table>").expect("end")];
        assert!(
            failed.find("broken") < failed.find("warned"),
            "errors first"
        );
        assert!(!failed.contains("fine"));
        assert!(page.contains("at most &lt;1&gt; rows"));
        assert!(
            page.contains("chart unusual"),
            "a value outside its band stands out"
        );
        assert!(page.contains("answered 503"), "a failed delivery is shown");
        assert!(
            !page.contains("<script") && !page.contains("src=") && !page.contains("href="),
            "self-contained"
        );
    }

    #[test]
    fn drift_shows_its_psi_and_top_bins_and_masks_personal_columns() {
        use crate::drift::{BinShift, Comparison};
        let panel = |column: &str, label: &str| DriftPanel {
            check: format!("{column}_stable"),
            table: "clients".into(),
            column: column.into(),
            drift: Drift {
                comparison: Comparison {
                    psi: 0.4159,
                    bins: vec![
                        BinShift {
                            label: label.into(),
                            expected: 0.1,
                            actual: 0.4,
                            contribution: 0.4159,
                        },
                        BinShift {
                            label: "card".into(),
                            expected: 0.9,
                            actual: 0.6,
                            contribution: 0.1216,
                        },
                    ],
                },
                level: DriftLevel::Significant,
                reference_runs: 5,
            },
        };
        let data = ReportData {
            run_id: "run-1".into(),
            as_of: "2024-03-01".into(),
            verdicts: Vec::new(),
            series: Vec::new(),
            quarantine: Vec::new(),
            deliveries: Vec::new(),
            profiles: Vec::new(),
        };
        let page = html_with_drift(
            &data,
            &[panel("channel", "atm"), panel("email", "jana@bank.example")],
        );
        assert!(page.contains("PSI 0.416 · significant drift"), "{page}");
        assert!(
            page.contains("<td>atm</td><td class=\"num\">10.0 %</td><td class=\"num\">40.0 %</td>")
        );
        assert!(!page.contains("jana@"), "a personal value never shows");
        assert!(page.contains("<td>***</td>"));
        assert!(
            !html(&data).contains("Distributions"),
            "no drift, no section"
        );
    }

    #[test]
    fn a_profile_shows_dates_as_dates_and_flags_as_shares() {
        let column = |name: &str, kind, min, mean| ColumnProfile {
            column: name.into(),
            kind,
            nulls: 0,
            distinct: None,
            min: Some(min),
            max: Some(min),
            mean: Some(mean),
            quantiles: vec![(50, min + 43_200.0)],
            top: Vec::new(),
        };
        let profile = TableProfile {
            table: "transactions".into(),
            rows: 10,
            columns: vec![
                column(
                    "value_date",
                    ColumnKind::Date,
                    1_709_251_200.0,
                    1_709_251_200.0,
                ),
                column("is_suspicious", ColumnKind::Flag, 0.0, 0.25),
            ],
        };
        let mut out = String::new();
        profile_table(&mut out, &profile);
        assert!(out.contains("<td class=\"num\">2024-03-01</td>"), "{out}");
        assert!(
            !out.contains("12:00"),
            "a quantile between two days is a day"
        );
        assert!(out.contains("25.0 % true"), "{out}");
    }
}
