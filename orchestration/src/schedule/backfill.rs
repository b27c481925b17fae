//! Backfills: the business dates a range covers, one flow run each, and the id that
//! groups those runs (stored as their
//! [`BACKFILL_PARAMETER`](crate::runtime::BACKFILL_PARAMETER)).

use chrono::NaiveDate;

use super::error::{Result, ScheduleError};
use crate::ingest::new_run_id;

/// The most business dates [`business_dates`] accepts by default: a year.
pub const DEFAULT_MAX_BACKFILL_DAYS: u32 = 366;

/// Every calendar date from `from` to `to`, both included, oldest first: the business
/// dates of a backfill. Refuses a range that ends before it starts, or that holds
/// more than `max_days` dates (see [`DEFAULT_MAX_BACKFILL_DAYS`]).
pub fn business_dates(from: NaiveDate, to: NaiveDate, max_days: u32) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(ScheduleError::ReversedRange { from, to });
    }
    let days = u64::try_from((to - from).num_days())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    if days > u64::from(max_days) {
        return Err(ScheduleError::RangeTooLong {
            from,
            to,
            days,
            max: max_days,
        });
    }
    Ok(from.iter_days().take_while(|date| *date <= to).collect())
}

/// A new backfill's id: its range and when it started, e.g.
/// `2026-11-01..2026-11-07@20261125T114500Z-3f9a`.
pub fn new_backfill_id(from: NaiveDate, to: NaiveDate) -> String {
    format!("{from}..{to}@{}", new_run_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn a_range_gives_each_date_once_oldest_first_across_months_and_leap_days() {
        assert_eq!(
            business_dates(date("2028-02-27"), date("2028-03-01"), 366).expect("dates"),
            [
                date("2028-02-27"),
                date("2028-02-28"),
                date("2028-02-29"),
                date("2028-03-01")
            ]
        );
        assert_eq!(
            business_dates(date("2026-11-24"), date("2026-11-24"), 1).expect("dates"),
            [date("2026-11-24")]
        );
    }

    #[test]
    fn a_backfills_id_tells_its_range_and_start() {
        let id = new_backfill_id(date("2026-11-01"), date("2026-11-07"));
        let (range, started) = id.split_once('@').expect("range@start");
        assert_eq!(range, "2026-11-01..2026-11-07");
        assert_eq!(started.len(), "20261125T114500Z-3f9a".len(), "{id}");
    }

    #[test]
    fn reversed_and_too_long_ranges_are_refused_with_the_way_out() {
        let error = business_dates(date("2026-11-25"), date("2026-11-24"), 366)
            .expect_err("reversed")
            .to_string();
        assert_eq!(
            error,
            "backfill from 2026-11-25 to 2026-11-24: the start is after the end; swap them"
        );
        assert!(business_dates(date("2025-01-01"), date("2026-01-01"), 366).is_ok());
        let error = business_dates(date("2025-01-01"), date("2026-01-02"), 366)
            .expect_err("too long")
            .to_string();
        assert!(
            error.contains("is 367 business dates, more than the 366 allowed"),
            "{error}"
        );
    }
}
