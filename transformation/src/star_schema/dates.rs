//! `dim_dates`: one row per calendar day over a range.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, NaiveDate, Weekday};

use crate::error::Result;

/// The `date_key` of a day: `yyyymmdd` as an integer.
pub fn date_key(date: NaiveDate) -> i32 {
    date.year() * 10_000 + date.month() as i32 * 100 + date.day() as i32
}

/// The schema of `dim_dates`.
pub fn schema() -> SchemaRef {
    let int = |name| Field::new(name, DataType::Int32, false);
    Arc::new(Schema::new(vec![
        int("date_key"),
        Field::new("date", DataType::Date32, false),
        int("year"),
        int("quarter"),
        int("month"),
        Field::new("month_name", DataType::Utf8, false),
        int("iso_week"),
        int("day_of_month"),
        int("day_of_week"),
        Field::new("is_weekend", DataType::Boolean, false),
        Field::new("is_month_end", DataType::Boolean, false),
    ]))
}

/// Every day from `first` to `last` (both included) as `dim_dates` rows; empty when
/// `last` comes before `first`. `day_of_week` is ISO: Monday 1 … Sunday 7.
pub fn build(first: NaiveDate, last: NaiveDate) -> Result<RecordBatch> {
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let ints = |f: &dyn Fn(&NaiveDate) -> i32| {
        Arc::new(Int32Array::from_iter_values(days.iter().map(f))) as ArrayRef
    };
    let bools = |f: &dyn Fn(&NaiveDate) -> bool| {
        Arc::new(days.iter().map(|d| Some(f(d))).collect::<BooleanArray>()) as ArrayRef
    };
    let epoch = NaiveDate::default();
    let columns = vec![
        ints(&|d| date_key(*d)),
        Arc::new(Date32Array::from_iter_values(
            days.iter().map(|d| (*d - epoch).num_days() as i32),
        )) as ArrayRef,
        ints(&|d| d.year()),
        ints(&|d| d.month0() as i32 / 3 + 1),
        ints(&|d| d.month() as i32),
        Arc::new(StringArray::from_iter_values(
            days.iter().map(|d| MONTHS[d.month0() as usize]),
        )),
        ints(&|d| d.iso_week().week() as i32),
        ints(&|d| d.day() as i32),
        ints(&|d| d.weekday().number_from_monday() as i32),
        bools(&|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun)),
        bools(&|d| d.succ_opt().is_none_or(|next| next.month() != d.month())),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// The schema of the report months: `month_start`, `month_end` (dates).
pub fn months_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("month_start", DataType::Date32, false),
        Field::new("month_end", DataType::Date32, false),
    ]))
}

/// One row per calendar month from the month of `first` to the month of `last` (both
/// included): the report window of the monthly facts and marts.
pub fn months(first: NaiveDate, last: NaiveDate) -> Result<RecordBatch> {
    let epoch = NaiveDate::default();
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    let mut start = first.with_day(1);
    while let Some(month) = start.filter(|m| *m <= last) {
        let next = month.checked_add_months(chrono::Months::new(1));
        let end = next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX);
        starts.push((month - epoch).num_days() as i32);
        ends.push((end - epoch).num_days() as i32);
        start = next;
    }
    Ok(RecordBatch::try_new(
        months_schema(),
        vec![
            Arc::new(Date32Array::from(starts)),
            Arc::new(Date32Array::from(ends)),
        ],
    )?)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    #[test]
    fn a_leap_february() {
        let first = NaiveDate::from_ymd_opt(2024, 2, 27).expect("date");
        let last = NaiveDate::from_ymd_opt(2024, 3, 3).expect("date");
        let batch = build(first, last).expect("build");
        assert_eq!(batch.num_rows(), 6);
        let keys = batch
            .column(0)
            .as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(
            keys.values().to_vec(),
            [20240227, 20240228, 20240229, 20240301, 20240302, 20240303]
        );
        let month_end = batch.column(10).as_boolean();
        assert_eq!(
            (0..6).map(|i| month_end.value(i)).collect::<Vec<_>>(),
            [false, false, true, false, false, false]
        );
        let weekend = batch.column(9).as_boolean();
        assert_eq!(
            (0..6).map(|i| weekend.value(i)).collect::<Vec<_>>(),
            [false, false, false, false, true, true]
        );
        let date = batch
            .column(1)
            .as_primitive::<arrow::datatypes::Date32Type>();
        assert_eq!(date.value(0), 19_780, "days since 1970-01-01");
        assert_eq!(batch.column(5).as_string::<i32>().value(3), "March");
        assert_eq!(build(last, first).expect("empty").num_rows(), 0);
    }

    #[test]
    fn report_months_cover_both_ends() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let batch = months(day(2023, 12, 15), day(2024, 2, 3)).expect("months");
        let dates = |i: usize| {
            let column = batch
                .column(i)
                .as_primitive::<arrow::datatypes::Date32Type>();
            (0..column.len())
                .map(|r| NaiveDate::default() + chrono::Duration::days(column.value(r).into()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            dates(0),
            [day(2023, 12, 1), day(2024, 1, 1), day(2024, 2, 1)]
        );
        assert_eq!(
            dates(1),
            [day(2023, 12, 31), day(2024, 1, 31), day(2024, 2, 29)]
        );
        assert_eq!(
            months(day(2024, 3, 1), day(2024, 2, 1))
                .expect("empty")
                .num_rows(),
            0
        );
    }
}
