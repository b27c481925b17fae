//! The transform stage: the processed layer into the star schema and the marts, as
//! Delta tables under `<data>/transformed/`.
//!
//! Order: the processed entities are registered (an entity without a table is an empty
//! one); each dimension is merged with its previous version (stable keys, history) and
//! written; then the report window, the daily FX rates and the facts, each written
//! and registered from its Delta table before the next reads it: `fact_fraudes`
//! (`fact_transactions` flags what it found), `fact_transactions`, `fact_loans`,
//! `fact_payments`, `fact_revenue`; then `dim_dates` over every date used, and the
//! marts. Every fact derived one-to-one from an entity is reconciled with it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures::TryStreamExt;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int32Type};
use chrono::{Datelike, NaiveDate};
use contract::Entity;
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, SessionContext};
use storage::delta::{self, TableLocation, WriteMode};
use transformation::aggregation;
use transformation::banking::{self, ModelParams, facts};
use transformation::{TransformError, fx, star_schema::dates};

use crate::config::ModelConfig;
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
    /// The model's settings (fraud and revenue rules, FX).
    pub model: ModelConfig,
    /// Bytes the plans may hold in memory before they spill to disk.
    pub memory_limit: usize,
}

/// The default of [`TransformOptions::memory_limit`]: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

impl TransformOptions {
    /// A run as of `as_of` with `model`: the hash key from the environment or the data
    /// folder ([`hash_key`]), the default memory limit.
    pub fn new(
        layout: &DataLayout,
        run_id: &str,
        as_of: NaiveDate,
        model: ModelConfig,
    ) -> Result<TransformOptions> {
        Ok(TransformOptions {
            layout: layout.clone(),
            run_id: run_id.to_owned(),
            params: ModelParams {
                hash_key: hash_key(layout)?,
                as_of,
            },
            model,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        })
    }
}

/// One table written by the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table's name.
    pub table: String,
    /// Where it is.
    pub location: TableLocation,
    /// Its rows after the run.
    pub rows: u64,
    /// How long running and writing it took.
    pub elapsed: std::time::Duration,
    /// For a fact with one row per source row: the entity and its processed rows
    /// (the stage fails unless they equal `rows`).
    pub source: Option<(Entity, u64)>,
}

/// The facts with one row per processed row of an entity.
const ONE_TO_ONE: [(&str, Entity); 3] = [
    ("fact_transactions", Entity::Transactions),
    ("fact_loans", Entity::Loans),
    ("fact_payments", Entity::Payments),
];

/// Builds the star schema and the marts from the processed layer.
pub async fn transform(options: &TransformOptions) -> Result<Vec<TableSummary>> {
    let ctx = delta::bounded_session(options.memory_limit);
    let layout = &options.layout;
    let as_of = options.params.as_of;
    for entity in Entity::ALL {
        register_processed(&ctx, layout, entity).await?;
    }
    let mut stage = Stage {
        ctx: &ctx,
        layout,
        run_id: &options.run_id,
        written: Vec::new(),
    };
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
        let started = Instant::now();
        let incoming = banking::incoming(&ctx, &spec, &sql, &options.params).await?;
        let built = spec.build(&ctx, incoming, previous).await?;
        ctx.deregister_table("__previous")
            .map_err(|e| df_error(&spec.table, e))?;
        stage.write(&spec.table, built, started).await?;
    }
    let window = report_window(&ctx, as_of).await?;
    register_batch(&ctx, "report_months", dates::months(window.0, window.1)?)?;
    register_daily_fx(&ctx, &options.model.fx, window).await?;
    register_view(&ctx, "transactions_eur", facts::TRANSACTIONS_EUR).await?;

    let started = Instant::now();
    let alerts = options.model.fraud.alerts(&ctx).await?;
    stage.write("fact_fraudes", alerts, started).await?;
    stage
        .sql("fact_transactions", &facts::fact_transactions())
        .await?;
    stage.sql("fact_loans", &facts::fact_loans(as_of)).await?;
    register_view(&ctx, "loan_months", &facts::loan_months()).await?;
    stage
        .sql("fact_payments", &facts::fact_payments(as_of))
        .await?;
    stage
        .sql("fact_revenue", &options.model.revenue.revenue_sql())
        .await?;
    let (first, last) = date_key_range(&ctx, window).await?;
    let calendar = ctx
        .read_batch(dates::build(first, last)?)
        .map_err(|e| df_error("dim_dates", e))?;
    stage.write("dim_dates", calendar, Instant::now()).await?;
    for mart in aggregation::marts() {
        let started = Instant::now();
        let frame = ctx
            .sql(&mart.sql)
            .await
            .map_err(|e| df_error(mart.table, e))?;
        stage.write(mart.table, frame, started).await?;
    }
    let mut written = stage.written;
    reconcile(&ctx, &mut written).await?;
    Ok(written)
}

/// The tables written so far, and where the next goes.
struct Stage<'a> {
    ctx: &'a SessionContext,
    layout: &'a DataLayout,
    run_id: &'a str,
    written: Vec<TableSummary>,
}

impl Stage<'_> {
    /// Builds `table` of the warehouse from `sql`.
    async fn sql(&mut self, table: &str, sql: &str) -> Result<()> {
        let started = Instant::now();
        let frame = self.ctx.sql(sql).await.map_err(|e| df_error(table, e))?;
        self.write(table, frame, started).await
    }

    /// Streams `frame` into the warehouse table `table`, replacing its rows in one
    /// commit, and registers it under its name for the tables built after it;
    /// `started` is when building the table began.
    async fn write(&mut self, table: &str, frame: DataFrame, started: Instant) -> Result<()> {
        let location = TableLocation::local(&self.layout.transformed(table))?;
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
        let metadata = delta::run_metadata(self.run_id);
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
            metadata,
        )
        .await?;
        delta::register(self.ctx, table, &location).await?;
        self.written.push(TableSummary {
            table: table.to_owned(),
            location,
            rows: rows.load(Ordering::Relaxed),
            elapsed: started.elapsed(),
            source: None,
        });
        Ok(())
    }
}

fn df_error(table: &str, source: datafusion::error::DataFusionError) -> PipelineError {
    TransformError::datafusion(table, source).into()
}

/// Registers the processed table of `entity`, or an empty one of its schema when
/// there is none (an optional extract not delivered).
async fn register_processed(
    ctx: &SessionContext,
    layout: &DataLayout,
    entity: Entity,
) -> Result<()> {
    let location = TableLocation::local(&layout.processed(entity))?;
    if !delta::register(ctx, entity.name(), &location).await? {
        let schema = contract::schema::processed_schema(entity.spec(), &[]);
        let empty =
            MemTable::try_new(schema, vec![vec![]]).map_err(|e| df_error(entity.name(), e))?;
        ctx.register_table(entity.name(), Arc::new(empty))
            .map_err(|e| df_error(entity.name(), e))?;
    }
    Ok(())
}

/// Registers the plan of `sql` as the view `name`.
async fn register_view(ctx: &SessionContext, name: &str, sql: &str) -> Result<()> {
    let view = ctx.sql(sql).await.map_err(|e| df_error(name, e))?;
    ctx.register_table(name, view.into_view())
        .map_err(|e| df_error(name, e))?;
    Ok(())
}

/// Registers `batch` as the in-memory table `name`.
fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table =
        MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| df_error(name, e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| df_error(name, e))?;
    Ok(())
}

/// The report window: from the first transaction's day (or `as_of` without
/// transactions) to `as_of` or the last transaction's day, whichever is later.
async fn report_window(ctx: &SessionContext, as_of: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let range =
        date_pair::<Date32Type>(ctx, "report_months", facts::TRANSACTION_DATE_RANGE).await?;
    Ok(match range {
        Some((first, last)) => (first.min(as_of), last.max(as_of)),
        None => (as_of, as_of),
    })
}

/// Registers `fx_daily`: the as-of rate of every currency and day, from the earliest
/// day a fact converts (old loans and payments included) to the window's last month end.
async fn register_daily_fx(
    ctx: &SessionContext,
    config: &fx::FxConfig,
    window: (NaiveDate, NaiveDate),
) -> Result<()> {
    let error = |e| df_error("fx_daily", e);
    let rates = ctx
        .table("fx_rates")
        .await
        .map_err(error)?
        .select_columns(&["date", "currency", "per_eur"])
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let earliest = date_pair::<Date32Type>(ctx, "fx_daily", EARLIEST_CONVERTED)
        .await?
        .map_or(window.0, |(first, _)| first.min(window.0));
    let last = window
        .1
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(window.1);
    let day = |date: NaiveDate| (date - NaiveDate::default()).num_days() as i32;
    let days = fx::Days {
        first: day(earliest),
        last: day(last),
    };
    register_batch(ctx, "fx_daily", fx::daily(&rates, days, config)?)
}

/// The earliest day a loan or payment is converted on.
const EARLIEST_CONVERTED: &str = "\
SELECT min(d) AS first, min(d) AS last FROM (SELECT start_date AS d FROM loans UNION ALL SELECT due_date FROM payments)";

/// The first and last day `dim_dates` must cover: every date key of the facts and
/// dimensions, and the report window.
async fn date_key_range(
    ctx: &SessionContext,
    window: (NaiveDate, NaiveDate),
) -> Result<(NaiveDate, NaiveDate)> {
    let keys = date_pair::<Int32Type>(ctx, "dim_dates", facts::DATE_KEY_RANGE).await?;
    Ok(match keys {
        Some((first, last)) => (first.min(window.0), last.max(window.1)),
        None => window,
    })
}

/// Runs `sql`, which returns one row of two dates (or `yyyymmdd` keys), and returns
/// them unless null.
async fn date_pair<T: DayValue>(
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
trait DayValue {
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

/// Fills in the source counts of the one-to-one facts and fails unless they match.
async fn reconcile(ctx: &SessionContext, written: &mut [TableSummary]) -> Result<()> {
    for (table, entity) in ONE_TO_ONE {
        let Some(summary) = written.iter_mut().find(|s| s.table == table) else {
            continue;
        };
        let expected = ctx
            .table(entity.name())
            .await
            .map_err(|e| df_error(table, e))?
            .count()
            .await
            .map_err(|e| df_error(table, e))? as u64;
        summary.source = Some((entity, expected));
        if expected != summary.rows {
            return Err(PipelineError::Reconciliation {
                table: table.to_owned(),
                expected,
                found: summary.rows,
            });
        }
    }
    Ok(())
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
