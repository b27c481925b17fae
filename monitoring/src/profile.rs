//! Profiles: per table and column, what the data looks like in one run.
//!
//! One aggregate query per table computes every figure in a single pass: the row
//! count; per column the nulls and an estimate of distinct values; for numbers, dates,
//! timestamps and flags also the minimum, maximum and mean (dates and timestamps in
//! seconds since 1970, flags as the share of true).

use arrow::array::{Array, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

use crate::error::{MonitoringError, Result};

/// The figures of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    /// The column.
    pub column: String,
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
}

/// The figures of one table.
#[derive(Debug, Clone, PartialEq)]
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
fn as_number(column: &str, ty: &DataType) -> Option<String> {
    match ty {
        t if t.is_numeric() => Some(format!("CAST({column} AS DOUBLE)")),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => {
            Some(format!("CAST(date_part('epoch', {column}) AS DOUBLE)"))
        }
        DataType::Boolean => Some(format!(
            "CASE WHEN {column} THEN 1.0 WHEN NOT {column} THEN 0.0 END"
        )),
        DataType::Dictionary(_, value) => as_number(column, value),
        _ => None,
    }
}

/// How much of a table to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Rows, and per column nulls, distinct values, ranges and means.
    Full,
    /// Rows and per column nulls only: for tables derived from others that are
    /// measured fully (the warehouse from the processed layer), at a fraction of the
    /// cost.
    Counts,
}

/// Profiles the table registered in `ctx` as `table`, to `depth`.
pub async fn profile(ctx: &SessionContext, table: &str, depth: Depth) -> Result<TableProfile> {
    let error = |e| MonitoringError::datafusion(table, e);
    let frame = ctx.table(table).await.map_err(error)?;
    let fields: Vec<(String, DataType)> = frame
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let mut select = vec!["count(*)".to_owned()];
    for (index, (name, ty)) in fields.iter().enumerate() {
        let column = quote(name);
        select.push(format!("count({column}) AS n{index}"));
        if depth == Depth::Counts {
            continue;
        }
        if *ty != DataType::Boolean {
            let text = match ty {
                DataType::Dictionary(..) => format!("CAST({column} AS VARCHAR)"),
                _ => column.clone(),
            };
            select.push(format!("approx_distinct({text}) AS d{index}"));
        }
        if let Some(number) = as_number(&column, ty) {
            select.push(format!(
                "min({number}) AS lo{index}, max({number}) AS hi{index}, avg({number}) AS mean{index}"
            ));
        }
    }
    let sql = format!("SELECT {} FROM {}", select.join(", "), quote(table));
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
    let columns = fields
        .iter()
        .enumerate()
        .map(|(index, (name, _))| ColumnProfile {
            column: name.clone(),
            nulls: rows.saturating_sub(number(&format!("n{index}")).unwrap_or_default() as u64),
            distinct: number(&format!("d{index}")).map(|d| d as u64),
            min: number(&format!("lo{index}")),
            max: number(&format!("hi{index}")),
            mean: number(&format!("mean{index}")),
        })
        .collect();
    Ok(TableProfile {
        table: table.to_owned(),
        rows,
        columns,
    })
}

/// The value of column `name` of the first row, as a number; none when absent or null.
fn value(batch: &RecordBatch, name: &str) -> Option<f64> {
    let column = batch.column_by_name(name)?;
    let numbers = cast(column, &DataType::Float64).ok()?;
    let numbers = numbers.as_any().downcast_ref::<Float64Array>()?;
    numbers.is_valid(0).then(|| numbers.value(0))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
