//! The ingest summary as a table a person reads in a terminal.

use std::fmt::Write as _;

use contract::RuleId;
use ingestion::EntitySummary;

/// Renders one line per entity: rows read, accepted, quarantined (by rule, the
/// configured rules after the contract's) and duplicates, then the values cleaned
/// and the configured rules' warnings, with a total line.
pub fn render(summaries: &[EntitySummary]) -> String {
    let mut out = String::new();
    let header = ["entity", "read", "accepted", "quarantined", "duplicates"];
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>10} {:>12} {:>11}  by rule",
        header[0], header[1], header[2], header[3], header[4]
    );
    for s in summaries {
        let rules: Vec<String> = RuleId::ALL
            .iter()
            .filter_map(|rule| s.quarantined.get(rule).map(|n| format!("{rule} {n}")))
            .chain(
                s.rejected_by_rules
                    .iter()
                    .map(|(rule, n)| format!("{rule} {n}")),
            )
            .collect();
        let _ = writeln!(
            out,
            "{:<14} {:>10} {:>10} {:>12} {:>11}  {}",
            s.entity.name(),
            s.raw_rows,
            s.accepted,
            s.quarantined_total(),
            s.duplicates(),
            rules.join(", ")
        );
        if !s.cleaned.is_empty() {
            let cleaned: Vec<String> = s
                .cleaned
                .counts()
                .map(|(column, action, n)| format!("{column} {action} {n}"))
                .collect();
            let _ = writeln!(out, "{:<14} cleaned: {}", "", cleaned.join(", "));
        }
        if !s.warnings.is_empty() {
            let warnings: Vec<String> = s
                .warnings
                .iter()
                .map(|(rule, n)| format!("{rule} {n}"))
                .collect();
            let _ = writeln!(
                out,
                "{:<14} warnings (rows kept): {}",
                "",
                warnings.join(", ")
            );
        }
        for unchecked in &s.unchecked_references {
            let _ = writeln!(
                out,
                "{:<14} note: reference {unchecked} not checked (no such source this run)",
                ""
            );
        }
    }
    let total = |f: fn(&EntitySummary) -> u64| summaries.iter().map(f).sum::<u64>();
    let _ = writeln!(
        out,
        "{:<14} {:>10} {:>10} {:>12} {:>11}",
        "total",
        total(|s| s.raw_rows),
        total(|s| s.accepted),
        total(EntitySummary::quarantined_total),
        total(EntitySummary::duplicates)
    );
    out
}
