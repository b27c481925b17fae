//! How long to wait before a failed task's next attempt: exponential growth, a cap,
//! and jitter so that tasks failing together (a database restarting) do not all come
//! back at the same instant.

use std::time::Duration;

use xxhash_rust::xxh3::xxh3_64;

/// The wait between attempts: `base × 2^(n−1)` after the `n`-th failed attempt, at most
/// `max`, then shortened by a random part of up to `jitter` of itself.
///
/// With `base` 1 s, `max` 60 s and `jitter` 0.5: about 0.5–1 s, 1–2 s, 2–4 s, … and
/// never more than 60 s. A zero `base` retries at once (what tests want).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait after the first failed attempt, before jitter.
    pub base: Duration,
    /// The longest wait, before jitter.
    pub max: Duration,
    /// The random share of the wait, from 0 (none) to 1 (anywhere from zero to the
    /// wait); clamped to that range.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// No wait at all between attempts.
    pub const NONE: Backoff = Backoff {
        base: Duration::ZERO,
        max: Duration::ZERO,
        jitter: 0.0,
    };

    /// The wait after the `failed_attempt`-th failed attempt (1 for the first), with
    /// `unit`, a number in `[0, 1)`, as the random draw.
    pub fn delay(&self, failed_attempt: u32, unit: f64) -> Duration {
        let exponent = failed_attempt.saturating_sub(1);
        let grown = 2u32
            .checked_pow(exponent)
            .and_then(|factor| self.base.checked_mul(factor))
            .unwrap_or(self.max);
        let capped = grown.min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
        capped.mul_f64(1.0 - jitter)
    }

    /// The wait after the `failed_attempt`-th failed attempt of a task in a run, with a
    /// draw that differs between runs, tasks and attempts (a hash of them, so the same
    /// attempt always waits the same: no generator to share or seed).
    pub fn delay_for(&self, run: i64, task: &str, failed_attempt: u32) -> Duration {
        let hash = xxh3_64(format!("{run}\u{0}{task}\u{0}{failed_attempt}").as_bytes());
        // The top 53 bits: a uniform f64 in [0, 1).
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
        self.delay(failed_attempt, unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(jitter: f64) -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter,
        }
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let b = backoff(0.0);
        let waits: Vec<u128> = (1..=6).map(|n| b.delay(n, 0.7).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn huge_attempt_numbers_stay_at_the_cap() {
        assert_eq!(backoff(0.0).delay(40, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(0.0).delay(u32::MAX, 0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_takes_off_up_to_its_share() {
        let b = backoff(0.5);
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay(2, 0.5), Duration::from_millis(150));
        assert!(b.delay(2, 0.999_999) > Duration::from_millis(100));
        // Out-of-range jitter and draws are clamped.
        assert_eq!(backoff(3.0).delay(1, 2.0), Duration::ZERO);
        assert_eq!(backoff(-1.0).delay(1, 0.9), Duration::from_millis(100));
    }

    #[test]
    fn draws_differ_between_attempts_and_are_repeatable() {
        let b = backoff(1.0);
        let first = b.delay_for(7, "ingest", 3);
        assert_eq!(first, b.delay_for(7, "ingest", 3));
        let others = [
            b.delay_for(8, "ingest", 3),
            b.delay_for(7, "clean", 3),
            b.delay_for(7, "ingest", 4).min(Duration::from_millis(400)),
        ];
        assert!(others.iter().any(|other| *other != first));
        assert!((1..=20).all(|n| b.delay_for(1, "t", n) <= Duration::from_secs(1)));
    }

    #[test]
    fn none_waits_nothing() {
        assert_eq!(Backoff::NONE.delay(5, 0.3), Duration::ZERO);
    }
}
