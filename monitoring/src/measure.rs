//! Figures measured beyond the profile, for the checks that need them: a column's
//! distribution (log-scale bins for numbers, counts per code otherwise; see
//! [`crate::drift`]) and a column's sum, in total and per value of another column.
//! They are stored in the metrics history beside the profile's figures.
//!
//! A table or column that is not there is not measured (the check then says so), and
//! the values of the contract's personal columns are never counted by name.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::drift::{Distribution, STORED_CODES};
use crate::error::{MonitoringError, Result};
use crate::metrics::Metric;
use crate::personal::is_personal;
use transformation::sql::quote_ident;

/// The metric of a column's sum.
pub const SUM: &str = "sum";

/// The metric of a column's sum over the rows where `by` is `value`.
pub fn group_sum(by: &str, value: &str) -> String {
    format!("{SUM}:{by}={value}")
}

/// A figure to measure beyond the profile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Measure {
    /// A column's distribution (metrics `bin:…` or `code:…`, `code_other`).
    Distribution {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column's sum (metric `sum`), and per value of `by` (`sum:<by>=<value>`, the
    /// [`STORED_CODES`] largest).
    Total {
        /// The table.
        table: String,
        /// The column summed.
        column: String,
        /// The column whose values split the sum.
        by: Option<String>,
    },
}

/// Measures `measures` on the tables registered in `ctx`.
pub async fn measure(ctx: &SessionContext, measures: &[Measure]) -> Result<Vec<Metric>> {
    let mut metrics = Vec::new();
    for measure in measures {
        let (table, column, figures) = match measure {
            Measure::Distribution { table, column } => {
                (table, column, distribution(ctx, table, column).await?)
            }
            Measure::Total { table, column, by } => (
                table,
                column,
                total(ctx, table, column, by.as_deref()).await?,
            ),
        };
        metrics.extend(figures.into_iter().map(|(metric, value)| Metric {
            table: table.clone(),
            column: Some(column.clone()),
            metric,
            value,
        }));
    }
    Ok(metrics)
}

/// The type of `table`'s `column`, if both are there.
async fn column_type(ctx: &SessionContext, table: &str, column: &str) -> Option<DataType> {
    let frame = ctx.table(table).await.ok()?;
    let field = frame.schema().field_with_unqualified_name(column).ok()?;
    Some(field.data_type().clone())
}

/// Whether values of that type are counted per code.
fn is_code(ty: &DataType) -> bool {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Dictionary(_, value) => is_code(value),
        _ => false,
    }
}

/// The distribution of `table`'s `column` as `(metric, count)` pairs (none when the
/// column is missing, personal codes, or neither numbers nor codes).
async fn distribution(
    ctx: &SessionContext,
    table: &str,
    column: &str,
) -> Result<Vec<(String, f64)>> {
    let Some(ty) = column_type(ctx, table, column).await else {
        return Ok(Vec::new());
    };
    let error = |e| MonitoringError::datafusion(table, e);
    let (t, c) = (quote_ident(table), quote_ident(column));
    if ty.is_numeric() {
        let sql = format!("SELECT CAST({c} AS DOUBLE) AS v FROM {t} WHERE {c} IS NOT NULL");
        let mut stream = ctx
            .sql(&sql)
            .await
            .map_err(error)?
            .execute_stream()
            .await
            .map_err(error)?;
        let mut distribution = Distribution::default();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(error)?;
            let values = cast(batch.column(0), &DataType::Float64)?;
            let values = values.as_primitive::<Float64Type>();
            values
                .iter()
                .flatten()
                .for_each(|v| distribution.add_number(v));
        }
        return Ok(distribution.metrics());
    }
    if !is_code(&ty) || is_personal(column) {
        return Ok(Vec::new());
    }
    let (top, total) = code_counts(ctx, table, column, STORED_CODES).await?;
    let named: f64 = top.iter().map(|(_, n)| n).sum();
    let top = top
        .into_iter()
        .filter_map(|(code, n)| code.map(|code| (code, n)));
    Ok(Distribution::of_codes(top)
        .with_other_codes(total - named)
        .metrics())
}

/// The `limit` most frequent values of `table`'s `column` (as text, most frequent
/// first, ties by value) with their rows, and the rows with a value.
pub(crate) async fn code_counts(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    limit: usize,
) -> Result<(Vec<(Option<String>, f64)>, f64)> {
    let sql = format!(
        "SELECT code, n, sum(n) OVER () AS total FROM \
         (SELECT CAST({c} AS VARCHAR) AS code, CAST(count(*) AS DOUBLE) AS n \
          FROM {t} WHERE {c} IS NOT NULL GROUP BY 1) \
         ORDER BY n DESC, code LIMIT {limit}",
        c = quote_ident(column),
        t = quote_ident(table),
    );
    grouped(ctx, table, &sql).await
}

/// The sum of `table`'s `column`, and per value of `by` (not for a personal `by`), as
/// `(metric, sum)` pairs (none when the column is missing or not numbers).
async fn total(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    by: Option<&str>,
) -> Result<Vec<(String, f64)>> {
    if !column_type(ctx, table, column)
        .await
        .is_some_and(|ty| ty.is_numeric())
    {
        return Ok(Vec::new());
    }
    let value = format!("CAST({} AS DOUBLE)", quote_ident(column));
    let by = by.filter(|by| !is_personal(by));
    let group = match by {
        Some(by) if column_type(ctx, table, by).await.is_some() => {
            format!("CAST({} AS VARCHAR)", quote_ident(by))
        }
        _ => "CAST(NULL AS VARCHAR)".to_owned(),
    };
    let sql = format!(
        "SELECT g, s, sum(s) OVER () AS total FROM \
         (SELECT {group} AS g, coalesce(sum({value}), 0) AS s FROM {t} GROUP BY 1) \
         ORDER BY abs(s) DESC, g LIMIT {STORED_CODES}",
        t = quote_ident(table)
    );
    let (groups, total) = grouped(ctx, table, &sql).await?;
    let mut figures = vec![(SUM.to_owned(), total)];
    if let Some(by) = by {
        figures.extend(
            groups
                .into_iter()
                .filter_map(|(value, sum)| Some((group_sum(by, &value?), sum))),
        );
    }
    Ok(figures)
}

/// Runs a query of `(label, value, total)` rows: the labelled values and the total
/// (0 when there is no row).
async fn grouped(
    ctx: &SessionContext,
    table: &str,
    sql: &str,
) -> Result<(Vec<(Option<String>, f64)>, f64)> {
    let error = |e| MonitoringError::datafusion(table, e);
    let batches = ctx
        .sql(sql)
        .await
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let (mut rows, mut total) = (Vec::new(), 0.0);
    for batch in batches {
        let label = cast(batch.column(0), &DataType::Utf8)?;
        let label = label.as_string::<i32>();
        let value = cast(batch.column(1), &DataType::Float64)?;
        let value = value.as_primitive::<Float64Type>();
        let sum = cast(batch.column(2), &DataType::Float64)?;
        let sum = sum.as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            total = sum.value(row);
            rows.push((
                label.is_valid(row).then(|| label.value(row).to_owned()),
                value.value(row),
            ));
        }
    }
    Ok((rows, total))
}
