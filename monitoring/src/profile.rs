//! Profiles: per table and column, what the data looks like in one run.
//!
//! One aggregate query per table computes every figure in a single pass: the row
//! count; per column the nulls and an estimate of distinct values; for numbers, dates,
//! timestamps and flags also the minimum, maximum and mean (dates and timestamps in
//! seconds since 1970, flags as the share of true), and for numbers, dates and
//! timestamps the [`QUANTILES`] (t-digest estimates, [`crate::quantiles`]). Then each code column (text with
//! at most [`CODE_LIMIT`] distinct values) is counted per value for its
//! [`TOP_VALUES`] most frequent values.
//!
//! The contract's personal columns get nulls and distinct values only: their
//! extremes, quantiles or frequent values would be some person's data.

use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::error::{MonitoringError, Result};
use crate::measure::code_counts;
use crate::personal::is_personal;
use crate::quantiles;
use transformation::sql::quote_ident;

/// The quantiles profiled, in percent.
pub const QUANTILES: [u8; 5] = [5, 25, 50, 75, 95];
/// The most distinct values a text column may have to be profiled as codes.
pub const CODE_LIMIT: u64 = 50;
/// How many of a code column's most frequent values are kept.
pub const TOP_VALUES: usize = 5;

/// What a column's figures are numbers of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers, as they are.
    Number,
    /// Dates, as seconds since 1970.
    Date,
    /// Timestamps, as seconds since 1970.
    Timestamp,
    /// Flags, the mean as the share of true.
    Flag,
    /// Anything else (text): no range.
    Text,
}

impl ColumnKind {
    fn of(ty: &DataType) -> ColumnKind {
        match ty {
            t if t.is_numeric() => ColumnKind::Number,
            DataType::Date32 | DataType::Date64 => ColumnKind::Date,
            DataType::Timestamp(..) => ColumnKind::Timestamp,
            DataType::Boolean => ColumnKind::Flag,
            DataType::Dictionary(_, value) => ColumnKind::of(value),
            _ => ColumnKind::Text,
        }
    }
}

/// The figures of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    /// The column.
    pub column: String,
    /// What its figures are numbers of.
    pub kind: ColumnKind,
    /// Values missing.
    pub nulls: u64,
    /// An estimate of the distinct values (HyperLogLog); none for flags.
    pub distinct: Option<u64>,
    /// The smallest value, as a number (none for text).
    pub min: Option<f64>,
    /// The largest value, as a number.
    pub max: Option<f64>,
    /// The mean value, as a number.
    pub mean: Option<f64>,
    /// The [`QUANTILES`] as `(percent, value)`, for numbers, dates and timestamps.
    pub quantiles: Vec<(u8, f64)>,
    /// For a code column, its most frequent values with their rows, most frequent
    /// first.
    pub top: Vec<(String, u64)>,
}

/// The figures of one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableProfile {
    /// The table's name.
    pub table: String,
    /// Its rows.
    pub rows: u64,
    /// Its columns' figures, in column order.
    pub columns: Vec<ColumnProfile>,
}

impl TableProfile {
    /// The profile of `column`, if the table has it.
    pub fn column(&self, column: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.column == column)
    }

    /// The share of `column`'s values that are missing (0 for an empty table).
    pub fn null_rate(&self, column: &str) -> Option<f64> {
        let profile = self.column(column)?;
        Some(if self.rows == 0 {
            0.0
        } else {
            profile.nulls as f64 / self.rows as f64
        })
    }
}

/// How a column's values become numbers, if they do.
fn as_number(column: &str, kind: ColumnKind) -> Option<String> {
    match kind {
        ColumnKind::Number => Some(format!("CAST({column} AS DOUBLE)")),
        ColumnKind::Date | ColumnKind::Timestamp => {
            Some(format!("CAST(date_part('epoch', {column}) AS DOUBLE)"))
        }
        ColumnKind::Flag => Some(format!(
            "CASE WHEN {column} THEN 1.0 WHEN NOT {column} THEN 0.0 END"
        )),
        ColumnKind::Text => None,
    }
}

/// The column as text an aggregate accepts (dictionaries decoded).
fn as_text(column: &str, ty: &DataType) -> String {
    match ty {
        DataType::Dictionary(..) => format!("CAST({column} AS VARCHAR)"),
        _ => column.to_owned(),
    }
}

/// How much of a table to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Rows, and per column nulls, distinct values, ranges, means, quantiles and
    /// frequent codes.
    Full,
    /// Rows and per column nulls only: for tables derived from others that are
    /// measured fully (the warehouse from the processed layer), at a fraction of the
    /// cost.
    Counts,
}

/// Profiles the table registered in `ctx` as `table`, to `depth`.
pub async fn profile(ctx: &SessionContext, table: &str, depth: Depth) -> Result<TableProfile> {
    let error = |e| MonitoringError::datafusion(table, e);
    ctx.register_udaf(quantiles::udaf());
    let frame = ctx.table(table).await.map_err(error)?;
    let fields: Vec<(String, DataType)> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let mut select = vec!["count(*)".to_owned()];
    for (index, (name, ty)) in fields.iter().enumerate() {
        let column = quote_ident(name);
        select.push(format!("count({column}) AS n{index}"));
        if depth == Depth::Counts {
            continue;
        }
        let kind = ColumnKind::of(ty);
        if kind != ColumnKind::Flag {
            select.push(format!(
                "approx_distinct({}) AS d{index}",
                as_text(&column, ty)
            ));
        }
        if is_personal(name) {
            continue;
        }
        if let Some(number) = as_number(&column, kind) {
            select.push(format!(
                "min({number}) AS lo{index}, max({number}) AS hi{index}, avg({number}) AS mean{index}"
            ));
            if kind != ColumnKind::Flag {
                select.push(format!("{}({number}) AS q{index}", quantiles::NAME));
            }
        }
    }
    let sql = format!("SELECT {} FROM {}", select.join(", "), quote_ident(table));
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let Some(row) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err(MonitoringError::Check {
            check: format!("profile of {table}"),
            message: "the aggregate returned no row".into(),
        });
    };
    let number = |name: &str| value(row, name);
    let rows = number("count(*)").unwrap_or_default() as u64;
    let mut columns = Vec::with_capacity(fields.len());
    for (index, (name, ty)) in fields.iter().enumerate() {
        let kind = ColumnKind::of(ty);
        let distinct = number(&format!("d{index}")).map(|d| d as u64);
        let is_code = kind == ColumnKind::Text
            && !is_personal(name)
            && distinct.is_some_and(|d| d <= CODE_LIMIT);
        let top = if is_code {
            let (counts, _) = code_counts(ctx, table, name, TOP_VALUES).await?;
            counts
                .into_iter()
                .filter_map(|(code, rows)| Some((code?, rows as u64)))
                .collect()
        } else {
            Vec::new()
        };
        columns.push(ColumnProfile {
            column: name.clone(),
            kind,
            nulls: rows.saturating_sub(number(&format!("n{index}")).unwrap_or_default() as u64),
            distinct,
            min: number(&format!("lo{index}")),
            max: number(&format!("hi{index}")),
            mean: number(&format!("mean{index}")),
            quantiles: QUANTILES
                .into_iter()
                .zip(list(row, &format!("q{index}")))
                .collect(),
            top,
        });
    }
    Ok(TableProfile {
        table: table.to_owned(),
        rows,
        columns,
    })
}

/// The numbers of list column `name` of the first row; none when absent or null.
fn list(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let Some(lists) = batch
        .column_by_name(name)
        .and_then(|c| c.as_list_opt::<i32>())
    else {
        return Vec::new();
    };
    if lists.is_null(0) {
        return Vec::new();
    }
    let values = lists.value(0);
    values
        .as_primitive_opt::<Float64Type>()
        .map(|v| v.iter().flatten().collect())
        .unwrap_or_default()
}

/// The value of column `name` of the first row, as a number; none when absent or null.
fn value(batch: &RecordBatch, name: &str) -> Option<f64> {
    let column = batch.column_by_name(name)?;
    let numbers = cast(column, &DataType::Float64).ok()?;
    let numbers = numbers.as_any().downcast_ref::<Float64Array>()?;
    numbers.is_valid(0).then(|| numbers.value(0))
}
