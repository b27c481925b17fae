//! Publishing the warehouse to PostgreSQL: every Delta table of `<data>/transformed/`
//! into a table of its own in one schema (`bank_dw` by default), with keys, foreign
//! keys, indexes and comments ([`tables`]).
//!
//! # One commit for the whole warehouse
//! Every table is loaded in **one transaction**, so readers (BI tools) see the previous
//! warehouse until the commit and the new one after it, never a mix of old dimensions
//! and new facts; and a failure anywhere (a Delta table that cannot be read, a key the
//! server refuses, a lost connection) leaves every table as it was. In it:
//!
//! 1. a transaction-level advisory lock on the schema's name makes a second
//!    `load-postgres` into the same schema wait for the first;
//! 2. if nothing outside the warehouse depends on its tables (a view, another table's
//!    foreign key: [`storage::postgres::dependents`]), each table, in load order
//!    (dimensions, each after those it refers to; facts; marts), is built afresh as
//!    `<name>__new` — one binary COPY streaming the Delta table's batches
//!    (DataFusion's `execute_stream`: one batch in memory at a time) into a table with
//!    no constraint, then its primary key and indexes built in one pass each and its
//!    foreign keys checked by one join each — and at the end the old tables are
//!    dropped and the new ones renamed in their place ([`storage::postgres::Swap`]).
//!    Readers keep reading the old tables during the load; they wait only for the
//!    renames and the commit.
//! 3. otherwise the tables are replaced in place, so that the objects depending on them
//!    stay: emptied in reverse load order (marts, facts, then dimensions), then each
//!    filled by one COPY into the table with its keys and indexes in place, checked
//!    row by row ([`storage::postgres::load_in`] in [`LoadMode::Replace`]) — several
//!    times slower, and said so in a warning and in the report.
//!
//! Loading per table, each in its own transaction, could not replace a dimension that
//! loses a member (the days of `dim_dates` when the window moves, keys renumbered by a
//! rebuilt lake) while the old facts still refer to it; in one transaction, the old
//! facts are gone by the time it commits.
//!
//! # Why replace, not upsert
//! The Delta tables are the source of truth and each is rewritten whole by a run, so
//! the PostgreSQL tables should hold exactly their rows. An upsert keeps rows that
//! vanished from Delta and costs a staging table and an `INSERT … ON CONFLICT` per
//! table, about twice a COPY. Replacing is idempotent all the same: loading the same
//! Delta tables twice leaves the same content.

pub mod tables;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use datafusion::common::Column;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col};
use storage::delta;
use storage::postgres::{self, LoadMode, PostgresError, Swap, TableSpec};
use tokio_postgres::{Client, Transaction};

use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

pub use tables::{Declared, Role, WAREHOUSE};

/// The default PostgreSQL schema of the warehouse.
pub const DEFAULT_SCHEMA: &str = "bank_dw";

/// How one table was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLoad {
    /// The table's name.
    pub table: String,
    /// The rows loaded (the Delta table's rows).
    pub rows: u64,
    /// How long emptying the previous rows and loading the new ones took, key checks
    /// included.
    pub elapsed: Duration,
}

/// How [`publish`] replaced the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Fresh tables built without constraints, then swapped in.
    Swap,
    /// Emptied and filled in place, because these objects depend on the tables.
    InPlace {
        /// The views and foreign keys outside the warehouse that depend on it.
        dependents: Vec<String>,
    },
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The schema loaded into.
    pub schema: String,
    /// How the tables were replaced.
    pub method: Method,
    /// Each table, in load order.
    pub tables: Vec<TableLoad>,
    /// How long the end took: the swap (for [`Method::Swap`]) and the commit.
    pub commit: Duration,
    /// The whole publication, from reading the Delta logs to the commit.
    pub elapsed: Duration,
}

/// Loads every warehouse table of `layout` into `schema`, in one transaction (see the
/// module's documentation), and returns each table's rows and time.
///
/// Fails, leaving PostgreSQL as it was, when a warehouse table is missing from the
/// lake ([`PipelineError::MissingTable`]: build it with `bankpipe run` first) or when
/// any load fails.
pub async fn publish(
    layout: &DataLayout,
    client: &mut Client,
    schema: &str,
) -> Result<PublishReport> {
    let started = Instant::now();
    let ctx = delta::session();
    let mut specs = Vec::with_capacity(WAREHOUSE.len());
    for declared in &WAREHOUSE {
        specs.push(register(ctx.clone(), layout, declared, schema.to_owned()).await?);
    }
    let transaction = client
        .transaction()
        .await
        .map_err(|e| PostgresError::query("BEGIN", e))?;
    let loaded = load_all(&ctx, &transaction, schema, &specs).await;
    let (method, tables, swap) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            // The first error is the one to report; if the rollback fails too, the
            // connection is gone and the server rolls back on its own.
            let _ = transaction.rollback().await;
            return Err(error);
        }
    };
    let committing = Instant::now();
    if let Some(swap) = swap
        && let Err(error) = swap.finish().await
    {
        let _ = transaction.rollback().await;
        return Err(error.into());
    }
    transaction
        .commit()
        .await
        .map_err(|e| PostgresError::query("COMMIT", e))?;
    Ok(PublishReport {
        schema: schema.to_owned(),
        method,
        tables,
        commit: committing.elapsed(),
        elapsed: started.elapsed(),
    })
}

/// Registers the Delta table of `declared` in `ctx` under its name and returns its
/// PostgreSQL spec, with the Delta table's columns.
async fn register(
    ctx: SessionContext,
    layout: &DataLayout,
    declared: &'static Declared,
    schema: String,
) -> Result<TableSpec> {
    let place = layout.transformed(declared.name);
    let missing = PipelineError::MissingTable {
        table: declared.name.to_owned(),
        location: place.to_string(),
    };
    // A local location is created as a folder: look first, so none is left behind.
    if !place.may_exist() {
        return Err(missing);
    }
    let location = place.location()?;
    if !delta::register(&ctx, declared.name, &location).await? {
        return Err(missing);
    }
    let frame = decoded(&ctx, declared.name)
        .await
        .map_err(|e| read_error(location.url().as_str(), e))?;
    let columns = Arc::new(frame.schema().as_arrow().clone());
    Ok(declared.spec(&schema, columns))
}

/// The table registered as `name`, with dictionary-encoded columns (Delta's
/// partition columns, such as `booked_month`) decoded to their values' type.
async fn decoded(ctx: &SessionContext, name: &str) -> datafusion::error::Result<DataFrame> {
    let frame = ctx.table(name).await?;
    let columns: Vec<Expr> = frame
        .schema()
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Dictionary(_, value) => {
                cast(col(Column::from_name(field.name())), value.as_ref().clone())
                    .alias(field.name())
            }
            _ => col(Column::from_name(field.name())),
        })
        .collect();
    frame.select(columns)
}

/// Steps 1 to 3 of the module's protocol, in `transaction`: the tables are loaded, and
/// for [`Method::Swap`] staged, to be swapped in by the returned [`Swap`].
async fn load_all<'a, 't>(
    ctx: &SessionContext,
    transaction: &'a Transaction<'t>,
    schema: &str,
    specs: &[TableSpec],
) -> Result<(Method, Vec<TableLoad>, Option<Swap<'a, 't>>)> {
    let lock = "SELECT pg_advisory_xact_lock(hashtext('bankpipe.publish:' || $1))";
    transaction
        .execute(lock, &[&schema])
        .await
        .map_err(|e| PostgresError::query(lock, e))?;
    let dependents = postgres::dependents(transaction, specs).await?;
    if dependents.is_empty() {
        let mut swap = Swap::new(transaction);
        let mut loads = Vec::with_capacity(specs.len());
        for spec in specs {
            let started = Instant::now();
            let report = swap.stage(spec, table_stream(ctx, spec).await?).await?;
            loads.push(TableLoad {
                table: spec.name.clone(),
                rows: report.rows,
                elapsed: started.elapsed(),
            });
        }
        return Ok((Method::Swap, loads, Some(swap)));
    }
    tracing::warn!(
        schema,
        dependents = %dependents.join(", "),
        "objects outside the warehouse depend on its tables: loading in place to keep them \
         (slower than swapping in fresh tables)"
    );
    let loads = load_in_place(ctx, transaction, specs).await?;
    Ok((Method::InPlace { dependents }, loads, None))
}

/// Step 3: empties the tables that exist in reverse load order, then fills each.
async fn load_in_place(
    ctx: &SessionContext,
    transaction: &Transaction<'_>,
    specs: &[TableSpec],
) -> Result<Vec<TableLoad>> {
    let mut cleared = vec![Duration::ZERO; specs.len()];
    for (spec, time) in specs.iter().zip(cleared.iter_mut()).rev() {
        let started = Instant::now();
        if exists(transaction, spec).await? {
            let nothing =
                futures::stream::empty::<std::result::Result<RecordBatch, std::io::Error>>();
            postgres::load_in(transaction, spec, nothing, LoadMode::Replace).await?;
        }
        *time = started.elapsed();
    }
    let mut loads = Vec::with_capacity(specs.len());
    for (spec, clearing) in specs.iter().zip(cleared) {
        let started = Instant::now();
        let stream = table_stream(ctx, spec).await?;
        let report = postgres::load_in(transaction, spec, stream, LoadMode::Replace).await?;
        loads.push(TableLoad {
            table: spec.name.clone(),
            rows: report.rows,
            elapsed: clearing + started.elapsed(),
        });
    }
    Ok(loads)
}

/// The batches of the Delta table registered under `spec`'s name, streamed.
async fn table_stream(
    ctx: &SessionContext,
    spec: &TableSpec,
) -> Result<datafusion::physical_plan::SendableRecordBatchStream> {
    decoded(ctx, &spec.name)
        .await
        .map_err(|e| read_error(&spec.name, e))?
        .execute_stream()
        .await
        .map_err(|e| read_error(&spec.name, e))
}

/// Whether the table of `spec` exists.
async fn exists(transaction: &Transaction<'_>, spec: &TableSpec) -> Result<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
               WHERE schemaname = $1 AND tablename = $2)";
    let row = transaction
        .query_one(sql, &[&spec.schema, &spec.name])
        .await
        .map_err(|e| PostgresError::query(sql, e))?;
    Ok(row.get(0))
}

/// A failure to plan or read a Delta table (`location`: its URL or name).
fn read_error(location: &str, source: datafusion::error::DataFusionError) -> PipelineError {
    storage::StorageError::DataFusion {
        location: location.to_owned(),
        source: Box::new(source),
    }
    .into()
}

/// Rows per second, 0 for an instant load.
pub fn rows_per_second(rows: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        rows as f64 / seconds
    } else {
        0.0
    }
}

/// The report as a table: table, rows, seconds, rows per second; then the commit and
/// the total.
pub fn render(report: &PublishReport) -> String {
    let mut out = format!(
        "{:<26} {:>10} {:>9} {:>12}\n",
        "table", "rows", "seconds", "rows/s"
    );
    let mut line = |name: &str, rows: Option<u64>, elapsed: Duration| {
        let (rows_text, rate) = match rows {
            Some(rows) => (
                rows.to_string(),
                format!("{:.0}", rows_per_second(rows, elapsed)),
            ),
            None => (String::new(), String::new()),
        };
        out.push_str(&format!(
            "{name:<26} {rows_text:>10} {:>9.3} {rate:>12}\n",
            elapsed.as_secs_f64()
        ));
    };
    for table in &report.tables {
        line(&table.table, Some(table.rows), table.elapsed);
    }
    line(
        match report.method {
            Method::Swap => "(swap and commit)",
            Method::InPlace { .. } => "(commit)",
        },
        None,
        report.commit,
    );
    let total: u64 = report.tables.iter().map(|t| t.rows).sum();
    line("total", Some(total), report.elapsed);
    out
}
