//! The metrics history: every run's profile figures as rows of one Delta table
//! (`data/monitoring/metrics`), in long form (`run_id`, `measured_at`, `table`,
//! `column`, `metric`, `value`), so that a new metric needs no new column and any
//! figure's history is one filter away.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use storage::delta::{self, TableLocation};
use transformation::sql::quote_literal;

use crate::error::Result;
use crate::profile::TableProfile;

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The table measured.
    pub table: String,
    /// The column, or none for a figure of the whole table (`rows`).
    pub column: Option<String>,
    /// The figure: `rows`, `null_rate`, `distinct`, `min`, `max`, `mean`, a quantile
    /// ([`quantile`]), a frequent code's rows ([`top_value`]), or a measure's (see
    /// [`crate::measure`]).
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// The metric of a column's `percent` quantile, e.g. `p05`.
pub fn quantile(percent: u8) -> String {
    format!("p{percent:02}")
}

/// The metric of the rows holding a frequent code, e.g. `top:card`.
pub fn top_value(code: &str) -> String {
    format!("top:{code}")
}

/// The figures of a profile as metrics.
pub fn metrics_of(profile: &TableProfile) -> Vec<Metric> {
    let metric = |column: Option<&str>, name: &str, value: f64| Metric {
        table: profile.table.clone(),
        column: column.map(str::to_owned),
        metric: name.to_owned(),
        value,
    };
    let mut out = vec![metric(None, "rows", profile.rows as f64)];
    for column in &profile.columns {
        let name = Some(column.column.as_str());
        if let Some(rate) = profile.null_rate(&column.column) {
            out.push(metric(name, "null_rate", rate));
        }
        let figures = [
            ("distinct", column.distinct.map(|d| d as f64)),
            ("min", column.min),
            ("max", column.max),
            ("mean", column.mean),
        ];
        for (figure, value) in figures {
            if let Some(value) = value {
                out.push(metric(name, figure, value));
            }
        }
        for &(percent, value) in &column.quantiles {
            out.push(metric(name, &quantile(percent), value));
        }
        for (code, rows) in &column.top {
            out.push(metric(name, &top_value(code), *rows as f64));
        }
    }
    out
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new(
            "measured_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("table", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("metric", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ]))
});

/// The metrics table's schema.
pub fn schema() -> SchemaRef {
    SCHEMA.clone()
}

/// The metrics of run `run_id`, measured at `at`, as one batch of [`schema`].
pub fn to_batch(run_id: &str, at: DateTime<Utc>, metrics: &[Metric]) -> Result<RecordBatch> {
    let rows = metrics.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; rows])),
        Arc::new(
            TimestampMicrosecondArray::from(vec![at.timestamp_micros(); rows]).with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            metrics.iter().map(|m| m.table.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            metrics.iter().map(|m| m.column.as_deref()),
        )),
        Arc::new(StringArray::from_iter_values(
            metrics.iter().map(|m| m.metric.as_str()),
        )),
        Arc::new(Float64Array::from_iter_values(
            metrics.iter().map(|m| m.value),
        )),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// Records run `run_id`'s metrics in the history at `location`, in one commit that
/// replaces any figures that run recorded before (a rerun of a run measures it again,
/// it does not double it).
pub async fn record(
    location: &TableLocation,
    run_id: &str,
    at: DateTime<Utc>,
    metrics: &[Metric],
) -> Result<()> {
    let batch = to_batch(run_id, at, metrics)?;
    let predicate = format!("run_id = {}", quote_literal(run_id));
    delta::replace_where(
        location,
        schema(),
        futures::stream::iter([Ok(batch)]),
        &predicate,
        &[],
        delta::run_metadata(run_id),
    )
    .await?;
    Ok(())
}

/// Which figure: table, column (none for the table), metric.
pub type MetricKey = (String, Option<String>, String);

/// The metrics of earlier runs, by figure, oldest first. A run's figures share its
/// measurement time ([`record`] stamps them all with one), which tells runs apart.
#[derive(Debug, Default)]
pub struct History {
    series: HashMap<MetricKey, Vec<(i64, f64)>>,
}

impl History {
    /// Reads the history at `location` (empty when there is none yet), leaving out
    /// the run `except` (the run being judged).
    pub async fn load(location: &TableLocation, except: Option<&str>) -> Result<History> {
        if delta::open(location).await?.is_none() {
            return Ok(History::default());
        }
        let batches = delta::query(
            location,
            "SELECT run_id, measured_at, \"table\", \"column\", metric, value FROM t",
        )
        .await?;
        let mut history = History::default();
        for batch in &batches {
            let text = |i: usize| cast(batch.column(i), &DataType::Utf8);
            let (run, table, column, metric) = (text(0)?, text(2)?, text(3)?, text(4)?);
            let (run, table, column, metric) = (
                run.as_string::<i32>(),
                table.as_string::<i32>(),
                column.as_string::<i32>(),
                metric.as_string::<i32>(),
            );
            let at = cast(
                batch.column(1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let at = at.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            let value = cast(batch.column(5), &DataType::Float64)?;
            let value = value.as_primitive::<arrow::datatypes::Float64Type>();
            for row in 0..batch.num_rows() {
                if except == Some(run.value(row)) {
                    continue;
                }
                let key = (
                    table.value(row).to_owned(),
                    column.is_valid(row).then(|| column.value(row).to_owned()),
                    metric.value(row).to_owned(),
                );
                history
                    .series
                    .entry(key)
                    .or_default()
                    .push((at.value(row), value.value(row)));
            }
        }
        for values in history.series.values_mut() {
            values.sort_by_key(|(at, _)| *at);
        }
        Ok(history)
    }

    /// The values of one figure in earlier runs, oldest first.
    pub fn values(&self, table: &str, column: Option<&str>, metric: &str) -> Vec<f64> {
        let key = (
            table.to_owned(),
            column.map(str::to_owned),
            metric.to_owned(),
        );
        self.series
            .get(&key)
            .map(|values| values.iter().map(|(_, v)| *v).collect())
            .unwrap_or_default()
    }

    /// The values of one figure in earlier runs with their measurement times
    /// (microseconds since 1970), oldest first.
    pub fn points(&self, table: &str, column: Option<&str>, metric: &str) -> &[(i64, f64)] {
        let key = (
            table.to_owned(),
            column.map(str::to_owned),
            metric.to_owned(),
        );
        self.series.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The figures of `table`'s `column` whose metric starts with one of `prefixes`,
    /// per earlier run, oldest first: each run's `(metric, value)` pairs (a run that
    /// recorded none of them is left out).
    pub fn by_run(
        &self,
        table: &str,
        column: Option<&str>,
        prefixes: &[&str],
    ) -> Vec<Vec<(&str, f64)>> {
        let mut runs: std::collections::BTreeMap<i64, Vec<(&str, f64)>> = Default::default();
        for ((t, c, metric), values) in &self.series {
            if t != table
                || c.as_deref() != column
                || !prefixes.iter().any(|p| metric.starts_with(p))
            {
                continue;
            }
            for (at, value) in values {
                runs.entry(*at).or_default().push((metric.as_str(), *value));
            }
        }
        runs.into_values().collect()
    }
}
