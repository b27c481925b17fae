//! The transform stage: the processed layer into the star schema, as Delta tables
//! under `<data>/transformed/`.
//!
//! Order: the processed entities are registered; each dimension is merged with its
//! previous version (stable keys, history) and written; then `dim_dates` and the
//! facts, which join the dimensions just written.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Date32Type;
use chrono::NaiveDate;
use contract::Entity;
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, SessionContext};
use storage::delta::{self, TableLocation, WriteMode};
use transformation::banking::{self, ModelParams};
use transformation::{TransformError, fx, star_schema::dates};

use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

/// What the transform stage needs.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// The lake's layout.
    pub layout: DataLayout,
    /// The run id stamped on every commit.
    pub run_id: String,
    /// The model's parameters (hash key, business date).
    pub params: ModelParams,
}

/// One table written by the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table's name.
    pub table: String,
    /// Its rows after the run.
    pub rows: u64,
}

/// Builds the star schema from the processed layer.
pub async fn transform(options: &TransformOptions) -> Result<Vec<TableSummary>> {
    let ctx = delta::session();
    let layout = &options.layout;
    for entity in Entity::ALL {
        let location = TableLocation::local(&layout.processed(entity))?;
        delta::register(&ctx, entity.name(), &location).await?;
    }
    let mut written = Vec::new();
    for (spec, sql) in banking::dimensions() {
        let location = TableLocation::local(&layout.transformed(&spec.table))?;
        let previous = match delta::register(&ctx, "__previous", &location).await? {
            true => Some(
                ctx.table("__previous")
                    .await
                    .map_err(|e| df_error(&spec.table, e))?,
            ),
            false => None,
        };
        let incoming = banking::incoming(&ctx, &spec, sql, &options.params).await?;
        let built = spec.build(&ctx, incoming, previous).await?;
        written.push(write(&spec.table, built, &location, &options.run_id).await?);
        ctx.deregister_table("__previous")
            .map_err(|e| df_error(&spec.table, e))?;
        delta::register(&ctx, &spec.table, &location).await?;
    }
    register_daily_fx(&ctx).await?;
    if let Some((first, last)) = fact_date_range(&ctx).await? {
        let batch = dates::build(first, last)?;
        let frame = ctx
            .read_batch(batch)
            .map_err(|e| df_error("dim_dates", e))?;
        let location = TableLocation::local(&layout.transformed("dim_dates"))?;
        written.push(write("dim_dates", frame, &location, &options.run_id).await?);
        let facts = ctx
            .sql(banking::FACT_TRANSACTIONS)
            .await
            .map_err(|e| df_error("fact_transactions", e))?;
        let location = TableLocation::local(&layout.transformed("fact_transactions"))?;
        written.push(write("fact_transactions", facts, &location, &options.run_id).await?);
    }
    Ok(written)
}

fn df_error(table: &str, source: datafusion::error::DataFusionError) -> PipelineError {
    TransformError::datafusion(table, source).into()
}

/// Streams `frame` into the table at `location`, replacing its rows in one commit.
async fn write(
    table: &str,
    frame: DataFrame,
    location: &TableLocation,
    run_id: &str,
) -> Result<TableSummary> {
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
    let metadata = delta::run_metadata(run_id);
    delta::write_stream(
        location,
        schema,
        stream,
        WriteMode::Overwrite,
        &[],
        metadata,
    )
    .await?;
    Ok(TableSummary {
        table: table.to_owned(),
        rows: rows.load(Ordering::Relaxed),
    })
}

/// Registers `fx_daily`: the as-of rate of every currency and day up to the last fact day.
async fn register_daily_fx(ctx: &SessionContext) -> Result<()> {
    let error = |e| df_error("fx_daily", e);
    let rates = match ctx.table("fx_rates").await {
        Ok(frame) => frame
            .select_columns(&["date", "currency", "per_eur"])
            .map_err(error)?
            .collect()
            .await
            .map_err(error)?,
        Err(_) => Vec::new(),
    };
    let last_day = fact_date_range(ctx).await?.map_or(0, |(_, last)| {
        (last - NaiveDate::default()).num_days() as i32
    });
    let daily = fx::daily(&rates, last_day)?;
    let table = MemTable::try_new(fx::schema(), vec![vec![daily]]).map_err(error)?;
    ctx.register_table("fx_daily", Arc::new(table))
        .map_err(error)?;
    Ok(())
}

/// The first and last day of the facts, if there are any.
async fn fact_date_range(ctx: &SessionContext) -> Result<Option<(NaiveDate, NaiveDate)>> {
    let error = |e| df_error("dim_dates", e);
    if ctx.table("transactions").await.is_err() {
        return Ok(None);
    }
    let batches = ctx
        .sql(banking::FACT_DATE_RANGE)
        .await
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() == 1) else {
        return Ok(None);
    };
    let (first, last) = (
        batch.column(0).as_primitive::<Date32Type>(),
        batch.column(1).as_primitive::<Date32Type>(),
    );
    if first.is_null(0) || last.is_null(0) {
        return Ok(None);
    }
    let day = |days: i32| NaiveDate::default() + chrono::Duration::days(i64::from(days));
    Ok(Some((day(first.value(0)), day(last.value(0)))))
}

/// The key of `client_ref`: `BANKPIPE_HASH_KEY` if set, else a random key kept in the
/// data folder's private state (created on first use, readable by its owner only).
pub fn hash_key(layout: &DataLayout) -> Result<String> {
    if let Ok(key) = std::env::var("BANKPIPE_HASH_KEY")
        && !key.is_empty()
    {
        return Ok(key);
    }
    let path = layout.state().join("hash_key");
    let io = |source| PipelineError::Io {
        path: path.clone(),
        source,
    };
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key.trim().to_owned());
    }
    std::fs::create_dir_all(layout.state()).map_err(io)?;
    let key = random_hex(32, Path::new("/dev/urandom")).map_err(io)?;
    write_private(&path, &key).map_err(io)?;
    Ok(key)
}

fn random_hex(bytes: usize, source: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open(source)?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())
}
