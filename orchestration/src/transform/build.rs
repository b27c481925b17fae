//! Building one table: its plan from what its session registered, streamed into its
//! Delta table.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arrow::datatypes::Int32Type;
use datafusion::error::DataFusionError;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::TryStreamExt;
use storage::delta::{self, WriteMode};
use transformation::aggregation;
use transformation::banking::{self, facts};
use transformation::star_schema::dates;

use super::catalog::{Build, Table};
use super::days::date_pair;
use super::{TableSummary, Transform, df_error};
use crate::error::Result;

/// The plan of `table`'s rows in `ctx`, where what it reads is registered.
pub(super) async fn plan(
    ctx: &SessionContext,
    transform: &Transform,
    table: &Table,
) -> Result<DataFrame> {
    let options = transform.options();
    match table.build {
        Build::Dimension => {
            let Some((spec, sql)) = banking::dimensions()
                .into_iter()
                .find(|(spec, _)| spec.table == table.name)
            else {
                return Err(not_in_model(table.name));
            };
            let location = options.layout.transformed(table.name).location()?;
            let previous = match delta::register(ctx, "__previous", &location).await? {
                true => Some(
                    ctx.table("__previous")
                        .await
                        .map_err(|e| df_error(table.name, e))?,
                ),
                false => None,
            };
            let incoming = banking::incoming(ctx, &spec, &sql, &options.params).await?;
            Ok(spec.build(ctx, incoming, previous).await?)
        }
        Build::FraudAlerts => Ok(options.model.fraud.alerts(ctx).await?),
        Build::Sql(sql) => query(ctx, table.name, &sql(options)).await,
        Build::Calendar => {
            let window = transform.setup().await?.window;
            let keys = date_pair::<Int32Type>(ctx, table.name, facts::DATE_KEY_RANGE).await?;
            let (first, last) = match keys {
                Some((first, last)) => (first.min(window.0), last.max(window.1)),
                None => window,
            };
            ctx.read_batch(dates::build(first, last)?)
                .map_err(|e| df_error(table.name, e))
        }
        Build::Mart => match aggregation::marts()
            .into_iter()
            .find(|m| m.table == table.name)
        {
            Some(mart) => query(ctx, table.name, &mart.sql).await,
            None => Err(not_in_model(table.name)),
        },
    }
}

async fn query(ctx: &SessionContext, table: &str, sql: &str) -> Result<DataFrame> {
    ctx.sql(sql).await.map_err(|e| df_error(table, e))
}

/// A table of the catalogue that the model does not build.
fn not_in_model(table: &str) -> crate::error::PipelineError {
    df_error(
        table,
        DataFusionError::Plan(format!("the banking model has no table {table}")),
    )
}

/// Streams `frame` into the warehouse table `table` of `transform`, replacing its rows
/// in one commit (the large facts partitioned by month); `started` is when building
/// the table began.
pub(super) async fn write(
    transform: &Transform,
    table: &str,
    frame: DataFrame,
    started: Instant,
) -> Result<TableSummary> {
    let options = transform.options();
    let location = options.layout.transformed(table).location()?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let stream = frame
        .execute_stream()
        .await
        .map_err(|e| df_error(table, e))?;
    // Count the rows as they stream by, rather than reading the table back.
    let rows = Arc::new(AtomicU64::new(0));
    let counter = rows.clone();
    let stream = stream.inspect_ok(move |batch| {
        counter.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    });
    let partition_by: Vec<&str> = facts::MONTHLY_PARTITIONS
        .iter()
        .filter(|(name, _)| *name == table)
        .map(|(_, column)| *column)
        .collect();
    delta::write_stream(
        &location,
        schema,
        stream,
        WriteMode::Overwrite,
        &partition_by,
        delta::run_metadata(&options.run_id),
    )
    .await?;
    Ok(TableSummary {
        table: table.to_owned(),
        location,
        rows: rows.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        source: None,
    })
}
