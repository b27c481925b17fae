//! Robust bands over a metric's history: a value is unusual when it lies outside the
//! median of the trailing runs ± k times their median absolute deviation (MAD, scaled
//! to a standard deviation for normal noise), with a floor on the band's width so a
//! perfectly steady history does not turn every small change into an alert.

use serde::Deserialize;

/// How a metric's history is judged.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandRule {
    /// How many of the latest earlier runs make the history.
    pub window: usize,
    /// Fewer earlier runs than this: no judgement yet (no alert storm on first runs).
    pub min_history: usize,
    /// The band's half-width in scaled MADs.
    pub k: f64,
    /// The band's smallest half-width, as a share of the median (0.1 = ±10 %).
    pub min_relative_width: f64,
    /// The band's smallest half-width in the metric's unit (for rates near zero).
    pub min_absolute_width: f64,
}

impl Default for BandRule {
    fn default() -> Self {
        BandRule {
            window: 14,
            min_history: 5,
            k: 4.0,
            min_relative_width: 0.1,
            min_absolute_width: 0.0,
        }
    }
}

/// The band a value is expected in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// The history's median.
    pub median: f64,
    /// The lowest usual value.
    pub low: f64,
    /// The highest usual value.
    pub high: f64,
}

/// What the history says of a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judgement {
    /// Too few earlier runs to judge.
    NotEnoughHistory {
        /// Earlier runs available.
        have: usize,
        /// Earlier runs needed.
        need: usize,
    },
    /// Within the band.
    Usual(Band),
    /// Outside the band.
    Unusual(Band),
}

/// The median of `values` (which must not be empty).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

impl BandRule {
    /// Why the rule cannot judge, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.k > 0.0 && self.k.is_finite()) {
            return Err(format!("needs k > 0 (found {})", self.k));
        }
        if self.min_history == 0 || self.min_history > self.window {
            return Err(format!(
                "needs 1 ≤ min_history ≤ window (found min_history = {}, window = {})",
                self.min_history, self.window
            ));
        }
        if !(self.min_relative_width >= 0.0 && self.min_absolute_width >= 0.0) {
            return Err("needs min_relative_width and min_absolute_width ≥ 0".to_owned());
        }
        Ok(())
    }

    /// The band of `history` (oldest first; only the latest `window` values count),
    /// or none when it is shorter than `min_history`.
    pub fn band(&self, history: &[f64]) -> Option<Band> {
        let start = history.len().saturating_sub(self.window);
        let mut recent: Vec<f64> = history[start..]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if recent.len() < self.min_history.max(1) {
            return None;
        }
        let center = median(&mut recent);
        let mut deviations: Vec<f64> = recent.iter().map(|v| (v - center).abs()).collect();
        // 1.4826 · MAD estimates the standard deviation of normal noise.
        let spread = 1.4826 * median(&mut deviations);
        let half_width = (self.k * spread)
            .max(self.min_relative_width * center.abs())
            .max(self.min_absolute_width);
        Some(Band {
            median: center,
            low: center - half_width,
            high: center + half_width,
        })
    }

    /// Judges `value` against `history` (oldest first).
    pub fn judge(&self, value: f64, history: &[f64]) -> Judgement {
        match self.band(history) {
            None => Judgement::NotEnoughHistory {
                have: history.len().min(self.window),
                need: self.min_history,
            },
            Some(band) if value < band.low || value > band.high => Judgement::Unusual(band),
            Some(band) => Judgement::Usual(band),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_judgement_before_the_minimum_history() {
        let rule = BandRule::default();
        assert_eq!(
            rule.judge(10.0, &[100.0, 101.0]),
            Judgement::NotEnoughHistory { have: 2, need: 5 }
        );
    }

    #[test]
    fn a_planted_drop_of_half_is_unusual_and_ordinary_noise_is_not() {
        let rule = BandRule::default();
        let history = [
            10_000.0, 10_230.0, 9_870.0, 10_110.0, 9_950.0, 10_060.0, 9_990.0, 10_180.0,
        ];
        assert!(matches!(
            rule.judge(10_150.0, &history),
            Judgement::Usual(_)
        ));
        assert!(matches!(rule.judge(9_800.0, &history), Judgement::Usual(_)));
        assert!(matches!(
            rule.judge(5_000.0, &history),
            Judgement::Unusual(_)
        ));
        assert!(matches!(
            rule.judge(20_000.0, &history),
            Judgement::Unusual(_)
        ));
    }

    #[test]
    fn a_steady_history_has_a_floor_on_its_width() {
        let rule = BandRule::default();
        let steady = [500.0; 6];
        let Judgement::Usual(band) = rule.judge(530.0, &steady) else {
            panic!("a 6 % change on a steady series is usual");
        };
        assert_eq!((band.low, band.high), (450.0, 550.0));
        assert!(matches!(rule.judge(600.0, &steady), Judgement::Unusual(_)));
    }

    #[test]
    fn only_the_window_counts() {
        let rule = BandRule {
            window: 5,
            ..BandRule::default()
        };
        let mut history = vec![1.0; 20];
        history.extend([1_000.0; 5]);
        assert!(matches!(rule.judge(1_000.0, &history), Judgement::Usual(_)));
    }
}
