//! The data window (the 90 days that end on `end_date`) and the date arithmetic the
//! generator needs, with no failure path: chrono's checked operations only fail thousands of
//! years away from any date used here.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// Days of transactions, ending on `end_date`.
pub(crate) const WINDOW_DAYS: u32 = 90;
/// Days of FX rates written before the window.
pub(crate) const FX_LEAD_DAYS: u32 = 30;
/// Seconds in a day.
pub(crate) const DAY_SECS: u32 = 86_400;

/// The 90 days of transactions, as day numbers `0..WINDOW_DAYS` from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Window {
    pub(crate) fn ending(end: NaiveDate) -> Self {
        Self {
            start: plus_days(end, -i64::from(WINDOW_DAYS - 1)),
            end,
        }
    }

    /// The date of window day `d` (negative and past-the-end days are fine).
    pub(crate) fn date(&self, d: i64) -> NaiveDate {
        plus_days(self.start, d)
    }

    /// The window day of `date`.
    pub(crate) fn day_of(&self, date: NaiveDate) -> i64 {
        (date - self.start).num_days()
    }

    /// First day of the FX rates.
    pub(crate) fn fx_start(&self) -> NaiveDate {
        plus_days(self.start, -i64::from(FX_LEAD_DAYS))
    }

    pub(crate) fn is_weekend(&self, d: i64) -> bool {
        is_weekend(self.date(d))
    }
}

pub(crate) fn plus_days(date: NaiveDate, n: i64) -> NaiveDate {
    let moved = if n >= 0 {
        date.checked_add_days(Days::new(n.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(n.unsigned_abs()))
    };
    moved.unwrap_or(date)
}

pub(crate) fn plus_months(date: NaiveDate, n: u32) -> NaiveDate {
    date.checked_add_months(Months::new(n)).unwrap_or(date)
}

pub(crate) fn minus_months(date: NaiveDate, n: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(n)).unwrap_or(date)
}

pub(crate) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The first day of every month that overlaps the window, in order.
pub(crate) fn months_of(window: &Window) -> Vec<NaiveDate> {
    let mut month = window.start.with_day(1).unwrap_or(window.start);
    let mut out = Vec::new();
    while month <= window.end {
        out.push(month);
        month = plus_months(month, 1);
    }
    out
}

/// A date from a year, month and day that are known to be valid, else `fallback`.
pub(crate) fn ymd_or(year: i32, month: u32, day: u32, fallback: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(fallback)
}
