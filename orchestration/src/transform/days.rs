//! Reading a pair of days (a range) out of a one-row query.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Int32Type};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use super::df_error;
use crate::error::Result;

/// Runs `sql`, which returns one row of two dates (or `yyyymmdd` keys), for `table`,
/// and returns them unless null.
pub(super) async fn date_pair<T: DayValue>(
    ctx: &SessionContext,
    table: &str,
    sql: &str,
) -> Result<Option<(NaiveDate, NaiveDate)>> {
    let error = |e| df_error(table, e);
    let batches = ctx
        .sql(sql)
        .await
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let (first, last) = (T::day(batch.column(0)), T::day(batch.column(1)));
    Ok(first.zip(last))
}

/// A column type that holds days: `Date32` or `yyyymmdd` `Int32` keys.
pub(super) trait DayValue {
    /// The first row's day, unless null or not a day.
    fn day(column: &dyn Array) -> Option<NaiveDate>;
}

impl DayValue for Date32Type {
    fn day(column: &dyn Array) -> Option<NaiveDate> {
        let column = column.as_primitive_opt::<Date32Type>()?;
        column
            .is_valid(0)
            .then(|| NaiveDate::default() + chrono::Duration::days(i64::from(column.value(0))))
    }
}

impl DayValue for Int32Type {
    fn day(column: &dyn Array) -> Option<NaiveDate> {
        let column = column.as_primitive_opt::<Int32Type>()?;
        let key = column.is_valid(0).then(|| column.value(0))?;
        NaiveDate::from_ymd_opt(key / 10_000, (key / 100 % 100) as u32, (key % 100) as u32)
    }
}
