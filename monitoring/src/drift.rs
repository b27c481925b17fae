//! Distribution drift: how far a column's values today lie from their usual spread,
//! by the population stability index (PSI).
//!
//! PSI = Σ (a − e) · ln(a / e) over bins, where `e` is a bin's share in the reference
//! (earlier runs) and `a` its share today; an empty bin counts as [`FLOOR`]. Below 0.1
//! the distribution is stable, 0.1–0.25 it moved moderately, above 0.25 significantly.
//!
//! **Bins kept from run to run.** No raw data of earlier runs is kept: each run stores
//! its distribution as counts in bins, as metrics (`bin:…`, `code:…`), and the
//! reference is rebuilt from those counts.
//! - Numbers fall in fixed log-scale bins, ten per decade (each spans a factor of
//!   10^0.1 ≈ 1.26; signs apart, zero alone). Fixed edges need nothing from earlier
//!   runs, so every run's counts add up with every other's. When judging, the fine
//!   bins are merged into the reference's deciles (consecutive bins holding a tenth of
//!   the reference each), so the PSI is the textbook one, on the reference's deciles,
//!   to within a fine bin (a single bin holding more than a tenth makes fewer groups).
//! - Codes are counted per value: each run stores its [`STORED_CODES`] most frequent
//!   codes and the rest as one count (`code_other`). Judging compares the reference's
//!   [`JUDGED_CODES`] most frequent codes and "other codes" (a code today outside its
//!   own stored top counts as 0, its rows as other codes).

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::Deserialize;

/// The share an empty bin counts as, so that ln(a / e) stays finite.
pub const FLOOR: f64 = 1e-4;
/// How many of a run's most frequent codes are stored.
pub const STORED_CODES: usize = 20;
/// How many of the reference's most frequent codes are compared one by one.
pub const JUDGED_CODES: usize = 10;
/// How many groups of the reference's mass numbers are compared in (deciles).
pub const QUANTILE_GROUPS: usize = 10;
/// Log-scale bins per decade.
const PER_DECADE: f64 = 10.0;

/// A fixed bin of numbers on the log scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogBin {
    /// Negative values, −10^((k+1)/10) < v ≤ −10^(k/10).
    Negative(i32),
    /// Zero.
    Zero,
    /// Positive values, 10^(k/10) ≤ v < 10^((k+1)/10).
    Positive(i32),
}

impl LogBin {
    /// The bin of `value` (none for NaN and infinities).
    pub fn of(value: f64) -> Option<LogBin> {
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            return Some(LogBin::Zero);
        }
        // `as` saturates: subnormal values land in the lowest bin, not in a panic.
        let k = (value.abs().log10() * PER_DECADE).floor() as i32;
        Some(if value > 0.0 {
            LogBin::Positive(k)
        } else {
            LogBin::Negative(k)
        })
    }

    /// Where the bin lies on the line, for ordering.
    fn position(self) -> (i8, i32) {
        match self {
            LogBin::Negative(k) => (0, -k),
            LogBin::Zero => (1, 0),
            LogBin::Positive(k) => (2, k),
        }
    }

    /// The bin's lowest and highest values.
    fn bounds(self) -> (f64, f64) {
        let edge = |k: i32| 10f64.powf(f64::from(k) / PER_DECADE);
        match self {
            LogBin::Negative(k) => (-edge(k + 1), -edge(k)),
            LogBin::Zero => (0.0, 0.0),
            LogBin::Positive(k) => (edge(k), edge(k + 1)),
        }
    }
}

impl Ord for LogBin {
    fn cmp(&self, other: &Self) -> Ordering {
        self.position().cmp(&other.position())
    }
}

impl PartialOrd for LogBin {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A bin of a stored distribution.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Bin {
    /// A range of numbers.
    Number(LogBin),
    /// One code.
    Code(String),
    /// The codes beyond a run's stored top.
    OtherCodes,
}

impl Bin {
    /// The bin's metric name in the history: `bin:p23`, `bin:n-4`, `bin:zero`,
    /// `code:<value>`, `code_other`.
    pub fn metric(&self) -> String {
        match self {
            Bin::Number(LogBin::Positive(k)) => format!("bin:p{k}"),
            Bin::Number(LogBin::Negative(k)) => format!("bin:n{k}"),
            Bin::Number(LogBin::Zero) => "bin:zero".to_owned(),
            Bin::Code(code) => format!("code:{code}"),
            Bin::OtherCodes => "code_other".to_owned(),
        }
    }

    /// The bin a metric name stands for, if it is one.
    pub fn parse(metric: &str) -> Option<Bin> {
        if metric == "code_other" {
            return Some(Bin::OtherCodes);
        }
        if let Some(code) = metric.strip_prefix("code:") {
            return Some(Bin::Code(code.to_owned()));
        }
        let number = metric.strip_prefix("bin:")?;
        if number == "zero" {
            return Some(Bin::Number(LogBin::Zero));
        }
        let (sign, k) = number.split_at_checked(1)?;
        let k = k.parse().ok()?;
        match sign {
            "p" => Some(Bin::Number(LogBin::Positive(k))),
            "n" => Some(Bin::Number(LogBin::Negative(k))),
            _ => None,
        }
    }
}

/// The metric-name prefixes of stored distributions (see [`Bin::metric`]).
pub const METRIC_PREFIXES: [&str; 2] = ["bin:", "code"];

/// A column's distribution in one run (or pooled over several): counts per bin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    counts: HashMap<Bin, f64>,
}

impl Distribution {
    /// The distribution of `values` in log-scale bins (NaN and infinities left out).
    pub fn of_numbers(values: impl IntoIterator<Item = f64>) -> Distribution {
        let mut distribution = Distribution::default();
        for value in values {
            distribution.add_number(value);
        }
        distribution
    }

    /// Counts `value` in its log-scale bin.
    pub fn add_number(&mut self, value: f64) {
        if let Some(bin) = LogBin::of(value) {
            *self.counts.entry(Bin::Number(bin)).or_default() += 1.0;
        }
    }

    /// The distribution of codes counted `(code, rows)`: the [`STORED_CODES`] most
    /// frequent kept by name, the rest as other codes.
    pub fn of_codes(counts: impl IntoIterator<Item = (String, f64)>) -> Distribution {
        let mut counts: Vec<(String, f64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut distribution = Distribution::default();
        for (index, (code, rows)) in counts.into_iter().enumerate() {
            let bin = if index < STORED_CODES {
                Bin::Code(code)
            } else {
                Bin::OtherCodes
            };
            *distribution.counts.entry(bin).or_default() += rows;
        }
        distribution
    }

    /// Adds `rows` to the other codes (the codes of a run beyond those counted by name).
    pub fn with_other_codes(mut self, rows: f64) -> Distribution {
        if rows > 0.0 {
            *self.counts.entry(Bin::OtherCodes).or_default() += rows;
        }
        self
    }

    /// The distribution stored as `(metric, count)` pairs (pairs that are no bin are
    /// left out).
    pub fn from_metrics<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Distribution {
        let mut distribution = Distribution::default();
        for (metric, count) in pairs {
            if let Some(bin) = Bin::parse(metric) {
                *distribution.counts.entry(bin).or_default() += count;
            }
        }
        distribution
    }

    /// The bins and their counts, as `(metric, count)` pairs to store.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut pairs: Vec<(String, f64)> = self
            .counts
            .iter()
            .map(|(bin, count)| (bin.metric(), *count))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs
    }

    /// The values counted.
    pub fn total(&self) -> f64 {
        self.counts.values().sum()
    }

    /// Adds `other`'s counts (pooling runs).
    pub fn add(&mut self, other: &Distribution) {
        for (bin, count) in &other.counts {
            *self.counts.entry(bin.clone()).or_default() += count;
        }
    }

    fn count(&self, bin: &Bin) -> f64 {
        self.counts.get(bin).copied().unwrap_or_default()
    }

    fn number_bins(&self) -> impl Iterator<Item = LogBin> + '_ {
        self.counts.keys().filter_map(|bin| match bin {
            Bin::Number(bin) => Some(*bin),
            _ => None,
        })
    }
}

/// One compared bin: its shares in the reference and today, and its part of the PSI.
#[derive(Debug, Clone, PartialEq)]
pub struct BinShift {
    /// The bin, in words: a range of values (`200–251`) or a code.
    pub label: String,
    /// Its share in the reference (0–1).
    pub expected: f64,
    /// Its share today (0–1).
    pub actual: f64,
    /// Its term of the PSI.
    pub contribution: f64,
}

/// Today's distribution compared with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The population stability index.
    pub psi: f64,
    /// The bins compared, in order (numbers from low to high, then codes by their
    /// share in the reference).
    pub bins: Vec<BinShift>,
}

impl Comparison {
    /// The `n` bins that contribute most to the PSI, most first.
    pub fn top(&self, n: usize) -> Vec<&BinShift> {
        let mut bins: Vec<&BinShift> = self.bins.iter().collect();
        bins.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        bins.truncate(n);
        bins
    }
}

/// The PSI term of a bin with shares `expected` and `actual` (floored at [`FLOOR`]).
fn term(expected: f64, actual: f64) -> f64 {
    let (e, a) = (expected.max(FLOOR), actual.max(FLOOR));
    (a - e) * (a / e).ln()
}

/// Compares `current` with `reference` (both non-empty): numbers in the reference's
/// deciles, codes by the reference's most frequent ones.
pub fn compare(reference: &Distribution, current: &Distribution) -> Comparison {
    let groups = if current.number_bins().next().is_some() {
        number_groups(reference, current)
    } else {
        code_groups(reference, current)
    };
    let (reference_total, current_total) = (
        groups.iter().map(|g| g.1).sum::<f64>(),
        groups.iter().map(|g| g.2).sum::<f64>(),
    );
    let share = |count: f64, total: f64| if total > 0.0 { count / total } else { 0.0 };
    let bins: Vec<BinShift> = groups
        .into_iter()
        .map(|(label, expected, actual)| {
            let (expected, actual) = (
                share(expected, reference_total),
                share(actual, current_total),
            );
            BinShift {
                label,
                expected,
                actual,
                contribution: term(expected, actual),
            }
        })
        .collect();
    Comparison {
        psi: bins.iter().map(|b| b.contribution).sum(),
        bins,
    }
}

/// The fine bins of both, merged into groups that each hold a tenth of the
/// reference: `(label, reference count, current count)`, low to high.
fn number_groups(reference: &Distribution, current: &Distribution) -> Vec<(String, f64, f64)> {
    let mut bins: Vec<LogBin> = reference
        .number_bins()
        .chain(current.number_bins())
        .collect();
    bins.sort();
    bins.dedup();
    let reference_total: f64 = bins.iter().map(|b| reference.count(&Bin::Number(*b))).sum();
    let target = reference_total / QUANTILE_GROUPS as f64;
    let tolerance = 1e-9 * reference_total;
    let mut groups: Vec<(LogBin, LogBin, f64, f64)> = Vec::new();
    let (mut cumulative, mut next_cut, mut open) = (0.0, target, false);
    for bin in bins {
        let (e, a) = (
            reference.count(&Bin::Number(bin)),
            current.count(&Bin::Number(bin)),
        );
        match groups.last_mut() {
            Some(group) if open => {
                group.1 = bin;
                group.2 += e;
                group.3 += a;
            }
            _ => groups.push((bin, bin, e, a)),
        }
        cumulative += e;
        // A group closes where the reference's mass reaches its next decile (a bin
        // that spans several deciles uses them up); the last group never closes: it
        // takes every higher value, as a top decile does.
        let reached = cumulative >= next_cut - tolerance;
        let remaining = reference_total - cumulative > tolerance;
        open = !(reached && remaining);
        if !open {
            next_cut = ((cumulative + tolerance) / target).floor() * target + target;
        }
    }
    groups
        .into_iter()
        .map(|(first, last, e, a)| (range_label(first, last), e, a))
        .collect()
}

/// The reference's most frequent codes one by one, then every other code together:
/// `(label, reference count, current count)`.
fn code_groups(reference: &Distribution, current: &Distribution) -> Vec<(String, f64, f64)> {
    let mut codes: Vec<(&String, f64)> = reference
        .counts
        .iter()
        .filter_map(|(bin, count)| match bin {
            Bin::Code(code) => Some((code, *count)),
            _ => None,
        })
        .collect();
    codes.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    codes.truncate(JUDGED_CODES);
    let mut groups: Vec<(String, f64, f64)> = codes
        .into_iter()
        .map(|(code, count)| (code.clone(), count, current.count(&Bin::Code(code.clone()))))
        .collect();
    let named = |distribution: &Distribution, column: fn(&(String, f64, f64)) -> f64| {
        (distribution.total() - groups.iter().map(column).sum::<f64>()).max(0.0)
    };
    let other = (
        "other codes".to_owned(),
        named(reference, |g| g.1),
        named(current, |g| g.2),
    );
    if other.1 > 0.0 || other.2 > 0.0 {
        groups.push(other);
    }
    groups
}

/// The values a run of fine bins spans, in words (`200–251`).
fn range_label(first: LogBin, last: LogBin) -> String {
    let (low, _) = first.bounds();
    let (_, high) = last.bounds();
    if first == LogBin::Zero && last == LogBin::Zero {
        return "0".to_owned();
    }
    format!("{}–{}", short(low), short(high))
}

/// A number with three significant digits, as a person reads it.
pub fn short(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = usize::try_from(2 - magnitude).unwrap_or(0).min(12);
    format!("{value:.decimals$}")
}

/// Which earlier runs make the reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// The runs of the window, pooled (each weighs by its rows).
    #[default]
    Pooled,
    /// The latest earlier run alone.
    Previous,
}

/// How a distribution's drift is judged.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftRule {
    /// How many of the latest earlier runs may make the reference.
    pub window: usize,
    /// Fewer earlier runs than this: no judgement yet (no alert storm on first runs).
    pub min_history: usize,
    /// The pooled window or the previous run.
    pub reference: Reference,
    /// From this PSI on, a moderate drift (a warning).
    pub warn_psi: f64,
    /// Above this PSI, a significant drift (the check's severity).
    pub max_psi: f64,
}

impl Default for DriftRule {
    fn default() -> Self {
        DriftRule {
            window: 14,
            min_history: 5,
            reference: Reference::Pooled,
            warn_psi: 0.1,
            max_psi: 0.25,
        }
    }
}

/// How far a distribution moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftLevel {
    /// PSI below `warn_psi`.
    Stable,
    /// PSI from `warn_psi` to `max_psi`.
    Moderate,
    /// PSI above `max_psi`.
    Significant,
}

impl std::fmt::Display for DriftLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DriftLevel::Stable => "stable",
            DriftLevel::Moderate => "moderate drift",
            DriftLevel::Significant => "significant drift",
        })
    }
}

/// A judged drift.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Today against the reference.
    pub comparison: Comparison,
    /// How far it moved.
    pub level: DriftLevel,
    /// How many earlier runs made the reference.
    pub reference_runs: usize,
}

/// What the history says of today's distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftJudgement {
    /// Too few earlier runs to judge.
    NotEnoughHistory {
        /// Earlier runs available.
        have: usize,
        /// Earlier runs needed.
        need: usize,
    },
    /// Nothing to compare today (no value).
    Empty,
    /// Compared.
    Judged(Drift),
}

impl DriftRule {
    /// Why the rule cannot judge, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.warn_psi >= 0.0 && self.warn_psi <= self.max_psi && self.max_psi.is_finite()) {
            return Err(format!(
                "needs 0 ≤ warn_psi ≤ max_psi (found warn_psi = {}, max_psi = {})",
                self.warn_psi, self.max_psi
            ));
        }
        if self.min_history == 0 || self.min_history > self.window {
            return Err(format!(
                "needs 1 ≤ min_history ≤ window (found min_history = {}, window = {})",
                self.min_history, self.window
            ));
        }
        Ok(())
    }

    /// The level of a PSI.
    pub fn level(&self, psi: f64) -> DriftLevel {
        if psi > self.max_psi {
            DriftLevel::Significant
        } else if psi >= self.warn_psi {
            DriftLevel::Moderate
        } else {
            DriftLevel::Stable
        }
    }

    /// Judges `current` against `history` (earlier runs' distributions, oldest
    /// first; empty ones do not count).
    pub fn judge(&self, current: &Distribution, history: &[Distribution]) -> DriftJudgement {
        let runs: Vec<&Distribution> = history.iter().filter(|d| d.total() > 0.0).collect();
        let recent = &runs[runs.len().saturating_sub(self.window)..];
        if recent.len() < self.min_history.max(1) {
            return DriftJudgement::NotEnoughHistory {
                have: recent.len(),
                need: self.min_history,
            };
        }
        if current.total() <= 0.0 {
            return DriftJudgement::Empty;
        }
        let used = match self.reference {
            Reference::Pooled => recent,
            Reference::Previous => &recent[recent.len() - 1..],
        };
        let mut reference = Distribution::default();
        for run in used {
            reference.add(run);
        }
        let comparison = compare(&reference, current);
        DriftJudgement::Judged(Drift {
            level: self.level(comparison.psi),
            comparison,
            reference_runs: used.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_fixed_ordered_and_named_both_ways() {
        assert_eq!(LogBin::of(100.0), Some(LogBin::Positive(20)));
        assert_eq!(LogBin::of(250.0), Some(LogBin::Positive(23)));
        assert_eq!(LogBin::of(-0.5), Some(LogBin::Negative(-4)));
        assert_eq!(LogBin::of(f64::NAN), None);
        let mut bins = [
            LogBin::Positive(3),
            LogBin::Zero,
            LogBin::Negative(1),
            LogBin::Negative(5),
            LogBin::Positive(-2),
        ];
        bins.sort();
        assert_eq!(
            bins,
            [
                LogBin::Negative(5),
                LogBin::Negative(1),
                LogBin::Zero,
                LogBin::Positive(-2),
                LogBin::Positive(3)
            ]
        );
        for bin in [
            Bin::Number(LogBin::Positive(-3)),
            Bin::Number(LogBin::Negative(12)),
            Bin::Number(LogBin::Zero),
            Bin::Code("atm:x".into()),
            Bin::OtherCodes,
        ] {
            assert_eq!(Bin::parse(&bin.metric()), Some(bin));
        }
        assert_eq!(Bin::parse("mean"), None);
    }

    #[test]
    fn numbers_are_compared_in_the_reference_deciles() {
        // Spread evenly on the log scale from 1 to 10 000: forty fine bins of 2.5 %.
        let values = (0..4000).map(|i| 10f64.powf(f64::from(i) / 1000.0 + 1e-9));
        let reference = Distribution::of_numbers(values);
        let comparison = compare(&reference, &reference);
        assert!(comparison.psi.abs() < 1e-12);
        assert_eq!(
            comparison.bins.len(),
            QUANTILE_GROUPS,
            "{:?}",
            comparison.bins
        );
        for bin in &comparison.bins {
            assert!((bin.expected - 0.1).abs() < 1e-9, "{bin:?}");
        }
        assert_eq!(comparison.bins[0].label, "1.00–2.51");
        // Values beyond the reference's range fall in its first or last decile.
        let wider = Distribution::of_numbers([0.01, 2.0, 1e6]);
        let bins = compare(&reference, &wider).bins;
        assert_eq!(bins.len(), QUANTILE_GROUPS);
        assert!(
            (bins[0].actual - 2.0 / 3.0).abs() < 1e-9 && (bins[9].actual - 1.0 / 3.0).abs() < 1e-9
        );
    }

    #[test]
    fn codes_beyond_the_stored_top_count_as_other() {
        let counts = (0..25).map(|i| (format!("c{i:02}"), f64::from(100 - i)));
        let distribution = Distribution::of_codes(counts);
        let metrics = distribution.metrics();
        assert_eq!(metrics.len(), STORED_CODES + 1);
        let other: f64 = (20..25).map(|i| f64::from(100 - i)).sum();
        assert!(metrics.contains(&("code_other".to_owned(), other)));
        assert_eq!(
            Distribution::from_metrics(metrics.iter().map(|(m, v)| (m.as_str(), *v))),
            distribution
        );
    }

    #[test]
    fn the_rule_checks_its_thresholds() {
        let bad = DriftRule {
            warn_psi: 0.3,
            ..DriftRule::default()
        };
        assert!(bad.validate().is_err_and(|e| e.contains("warn_psi")));
        assert!(DriftRule::default().validate().is_ok());
        let rule = DriftRule::default();
        assert_eq!(rule.level(0.05), DriftLevel::Stable);
        assert_eq!(rule.level(0.1), DriftLevel::Moderate);
        assert_eq!(rule.level(0.26), DriftLevel::Significant);
    }

    #[test]
    fn short_numbers_keep_three_digits() {
        assert_eq!(short(199.526), "200");
        assert_eq!(short(12.589), "12.6");
        assert_eq!(short(0.012589), "0.0126");
        assert_eq!(short(125_893.0), "125893");
    }
}
