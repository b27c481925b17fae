//! Jumps: a column's sum (in total and per value of another column) and a table's
//! rows per row of another table, against the robust band of their trailing runs.

use std::collections::{BTreeSet, HashMap};

use super::{Check, Evidence, Outcome, Verdict, band_outcome, number};
use crate::anomaly::{BandRule, Judgement};
use crate::measure::{SUM, group_sum};
use crate::profile::TableProfile;

/// The verdict of a total check: the sum of `column` and, with `by`, its sum per
/// value of `by` (a value seen before and absent today counts as 0) within their
/// bands; any jump fails.
pub(super) fn judge_total(
    check: &Check,
    column: &str,
    by: Option<&str>,
    band: &BandRule,
    evidence: &Evidence<'_>,
) -> Verdict {
    let table = check.table.as_str();
    let today = |metric: &str| {
        evidence
            .measured
            .iter()
            .find(|m| m.table == table && m.column.as_deref() == Some(column) && m.metric == metric)
            .map(|m| m.value)
    };
    let Some(total) = today(SUM) else {
        return Verdict::of(
            check,
            Outcome::Fail,
            format!("{column} sum not measured"),
            format!("{column} to be a column of numbers"),
        );
    };
    let history = evidence.history.values(table, Some(column), SUM);
    let (mut outcome, expected) = band_outcome(band.judge(total, &history));
    let mut observed = format!("sum {}", number(total));
    if let (Some(by), true) = (by, outcome != Outcome::NotJudged) {
        let prefix = group_sum(by, "");
        let mut groups: BTreeSet<String> = evidence
            .measured
            .iter()
            .filter(|m| m.table == table && m.column.as_deref() == Some(column))
            .filter(|m| m.metric.starts_with(&prefix))
            .map(|m| m.metric.clone())
            .collect();
        for run in evidence.history.by_run(table, Some(column), &[&prefix]) {
            groups.extend(run.into_iter().map(|(metric, _)| metric.to_owned()));
        }
        let mut jumps = Vec::new();
        for group in groups {
            let value = today(&group).unwrap_or_default();
            let history = evidence.history.values(table, Some(column), &group);
            if let Judgement::Unusual(b) = band.judge(value, &history) {
                jumps.push(format!(
                    "{} {} (usual {}–{})",
                    &group[prefix.len()..],
                    number(value),
                    number(b.low),
                    number(b.high)
                ));
            }
        }
        if !jumps.is_empty() {
            outcome = Outcome::Fail;
            observed.push_str(&format!("; by {by}, jumped: {}", jumps.join(", ")));
        }
    }
    Verdict::of(check, outcome, observed, expected)
}

/// The verdict of a rate check: `profile`'s rows per row of table `per`, against the
/// same ratio in earlier runs.
pub(super) fn judge_rate(
    check: &Check,
    profile: &TableProfile,
    per: &str,
    band: &BandRule,
    evidence: &Evidence<'_>,
) -> Verdict {
    let Some(denominator) = evidence.profiles.iter().find(|p| p.table == per) else {
        return Verdict::of(
            check,
            Outcome::Fail,
            format!("table {per} not measured in this run"),
            format!("the table {per} to exist"),
        );
    };
    if denominator.rows == 0 {
        return Verdict::of(
            check,
            Outcome::Fail,
            format!("no row in {per}"),
            format!("rows in {per} to divide by"),
        );
    }
    let value = profile.rows as f64 / denominator.rows as f64;
    // An earlier run's rows of both tables share its measurement time.
    let rows_per: HashMap<i64, f64> = evidence
        .history
        .points(per, None, "rows")
        .iter()
        .copied()
        .collect();
    let history: Vec<f64> = evidence
        .history
        .points(&check.table, None, "rows")
        .iter()
        .filter_map(|(at, rows)| {
            let divisor = rows_per.get(at).copied().filter(|d| *d > 0.0)?;
            Some(rows / divisor)
        })
        .collect();
    let (outcome, expected) = band_outcome(band.judge(value, &history));
    let observed = format!(
        "{} per {per} row ({} / {})",
        number(value),
        profile.rows,
        denominator.rows
    );
    Verdict::of(check, outcome, observed, expected)
}
