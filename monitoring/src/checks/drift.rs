//! Drift checks: today's distribution of a column against earlier runs', by the PSI
//! (see [`crate::drift`]).

use super::{Check, CheckKind, Evidence, Outcome, Severity, Verdict};
use crate::drift::{
    Distribution, Drift, DriftJudgement, DriftLevel, DriftRule, METRIC_PREFIXES, Reference,
};
use crate::personal::shown;

/// The drift judgement of a drift check on `evidence` (none for another kind of
/// check): what its verdict says, with every bin, for the report.
pub fn drift_of(check: &Check, evidence: &Evidence<'_>) -> Option<DriftJudgement> {
    let CheckKind::Drift { column, rule } = &check.kind else {
        return None;
    };
    Some(judgement(&check.table, column, rule, evidence))
}

fn judgement(
    table: &str,
    column: &str,
    rule: &DriftRule,
    evidence: &Evidence<'_>,
) -> DriftJudgement {
    let current = Distribution::from_metrics(
        evidence
            .measured
            .iter()
            .filter(|m| m.table == table && m.column.as_deref() == Some(column))
            .map(|m| (m.metric.as_str(), m.value)),
    );
    let history: Vec<Distribution> = evidence
        .history
        .by_run(table, Some(column), &METRIC_PREFIXES)
        .into_iter()
        .map(Distribution::from_metrics)
        .collect();
    rule.judge(&current, &history)
}

/// The verdict of drift check `check` on `column`: a moderate drift fails as a
/// warning (at most), a significant one at the check's severity.
pub(super) fn judge(
    check: &Check,
    column: &str,
    rule: &DriftRule,
    evidence: &Evidence<'_>,
) -> Verdict {
    match judgement(&check.table, column, rule, evidence) {
        DriftJudgement::NotEnoughHistory { have, need } => Verdict::of(
            check,
            Outcome::NotJudged,
            "PSI not computed yet".into(),
            format!("{need} earlier runs to judge by ({have} so far)"),
        ),
        DriftJudgement::Empty => Verdict::of(
            check,
            Outcome::NotJudged,
            format!("no value of {column} to compare today"),
            "numbers or codes to compare".into(),
        ),
        DriftJudgement::Judged(drift) => {
            let reference = match rule.reference {
                Reference::Pooled => format!("the last {} runs pooled", drift.reference_runs),
                Reference::Previous => "the previous run".to_owned(),
            };
            let expected = format!(
                "PSI below {} (moderate up to {}, significant above) against {reference}",
                rule.warn_psi, rule.max_psi
            );
            let (outcome, severity) = match drift.level {
                DriftLevel::Stable => (Outcome::Pass, check.severity),
                DriftLevel::Moderate => (Outcome::Fail, check.severity.min(Severity::Warn)),
                DriftLevel::Significant => (Outcome::Fail, check.severity),
            };
            Verdict {
                severity,
                ..Verdict::of(check, outcome, describe(column, &drift), expected)
            }
        }
    }
}

/// A drift in words: its PSI and level, and when it moved, the three bins that moved
/// most with their shares before and today (codes of personal columns masked).
pub fn describe(column: &str, drift: &Drift) -> String {
    let mut text = format!("PSI {:.3} ({})", drift.comparison.psi, drift.level);
    if drift.level != DriftLevel::Stable {
        let moved: Vec<String> = drift
            .comparison
            .top(3)
            .into_iter()
            .map(|bin| {
                format!(
                    "{} {:.1} % → {:.1} %",
                    shown(column, &bin.label),
                    bin.expected * 100.0,
                    bin.actual * 100.0
                )
            })
            .collect();
        text.push_str(&format!("; moved most: {}", moved.join(", ")));
    }
    text
}
