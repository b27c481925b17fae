//! Delta Lake tables: one typed API over Arrow record batches.
//!
//! - writes: [`write_stream`] (append or overwrite), [`replace_where`] (overwrite the
//!   rows matching a predicate, e.g. one month's partition), [`merge`] (upsert on
//!   keys, idempotent), [`delete`] (by predicate);
//! - reads: [`query`] and [`register`] (the latest version), [`query_at`],
//!   [`register_at`] and [`open_at`] (time travel, by version or by time);
//! - [`history`]: the commits, each with the run that made it;
//! - [`maintain`]: compaction, vacuum and checkpoints.
//!
//! A [`TableLocation`] is a local folder or a cloud URL (`s3://`, `gs://`, `az://` …),
//! and every operation works the same on both.
//!
//! Writes take a stream of batches and hand it to delta-rs as a DataFusion plan, so a
//! table of any size is written with one batch in memory at a time and committed
//! once: readers see the old version or the new one, never a half-written table. Every
//! commit carries the caller's [`CommitMetadata`], such as the run id
//! ([`run_metadata`]).
//!
//! Concurrent writers rely on Delta's optimistic concurrency: a commit that finds a
//! newer version checks it for conflicts; appends do not conflict and are retried at
//! the next version, while a commit whose rows another commit changed in the meantime
//! (two overwrites, two merges or deletes over the same files) is refused with
//! [`StorageError::ConcurrentCommit`](crate::StorageError::ConcurrentCommit) and nothing
//! of it is written.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::TransactionError;
use deltalake::{DeltaTable, DeltaTableError};
use futures::{Stream, StreamExt};

use crate::error::Result;

mod delete;
mod discover;
mod history;
mod location;
pub mod maintain;
mod merge;
mod object_stores;
mod probe;
mod source;
mod travel;
mod write;

pub use delete::{DeleteReport, delete};
pub use discover::find_tables;
pub use history::{Commit, history, latest_commit_metadata};
pub use location::TableLocation;
pub use merge::{MergeReport, merge};
pub use probe::probe_writable;
pub use travel::{At, open_at, query_at, register_at};
pub use write::{replace_where, write_stream};

/// How a write treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Add the rows.
    Append,
    /// Replace the table's rows (and schema) with these, in one commit.
    Overwrite,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The table version the write committed.
    pub version: u64,
}

/// Application metadata stored in a commit, such as the run id.
pub type CommitMetadata = HashMap<String, serde_json::Value>;

/// The key under which bankpipe records the run that made a commit.
pub const RUN_ID_KEY: &str = "bankpipe.run_id";

/// Commit metadata that names the run making the commit.
pub fn run_metadata(run_id: &str) -> CommitMetadata {
    [(RUN_ID_KEY.to_owned(), serde_json::Value::from(run_id))]
        .into_iter()
        .collect()
}

/// Opens the table at `location`; `None` when there is no table there yet.
pub async fn open(location: &TableLocation) -> Result<Option<DeltaTable>> {
    // A local folder without a log is no table: say so without asking delta-rs,
    // which would log an error for it.
    if let Some(folder) = location.local_path()
        && !folder.join("_delta_log").is_dir()
    {
        return Ok(None);
    }
    let opened = deltalake::open_table_with_storage_options(
        location.url().clone(),
        location.storage_options(),
    );
    match opened.await {
        Ok(table) => Ok(Some(table)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(location.delta_error(e)),
    }
}

/// A DataFusion session set up for Delta tables (delta-rs's planner and settings).
pub fn session() -> SessionContext {
    deltalake::delta_datafusion::create_session().into()
}

/// A session like [`session`] whose sorts, joins and aggregates keep at most
/// `memory_limit` bytes in memory and spill the rest to temporary files, so a plan
/// over any volume runs in bounded memory.
pub fn bounded_session(memory_limit: usize) -> SessionContext {
    let state = deltalake::delta_datafusion::create_session_state_with_spill_config(
        Some(memory_limit),
        None,
    );
    SessionContext::new_with_state(state)
}

/// Whether delta-rs refused a commit because another one got in first and conflicts
/// with it (or kept getting in first until the retries ran out).
fn is_commit_conflict(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_)
                    | TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
            }
    )
}

/// Registers the table at `location` in `ctx` as `name` (replacing any table of that
/// name); false, and nothing registered, when there is no table there.
pub async fn register(ctx: &SessionContext, name: &str, location: &TableLocation) -> Result<bool> {
    let Some(table) = open(location).await? else {
        return Ok(false);
    };
    register_table(ctx, name, location, &table).await?;
    Ok(true)
}

/// Registers the loaded version of `table` (at `location`) in `ctx` as `name`.
async fn register_table(
    ctx: &SessionContext,
    name: &str,
    location: &TableLocation,
    table: &DeltaTable,
) -> Result<()> {
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| location.delta_error(e))?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| location.datafusion_error(e))?;
    ctx.deregister_table(name)
        .map_err(|e| location.datafusion_error(e))?;
    ctx.register_table(name, provider)
        .map_err(|e| location.datafusion_error(e))?;
    Ok(())
}

/// Runs `sql` over the table at `location`, registered as `t`, and collects the result.
pub async fn query(location: &TableLocation, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = session();
    if !register(&ctx, "t", location).await? {
        return Err(location.delta_error(DeltaTableError::NotATable(location.to_string())));
    }
    let frame = ctx
        .sql(sql)
        .await
        .map_err(|e| location.datafusion_error(e))?;
    frame
        .collect()
        .await
        .map_err(|e| location.datafusion_error(e))
}

/// The number of rows in the table at `location` (0 when there is no table).
pub async fn count_rows(location: &TableLocation) -> Result<u64> {
    if open(location).await?.is_none() {
        return Ok(0);
    }
    let batches = query(location, "SELECT count(*) AS n FROM t").await?;
    let count = batches
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or_default();
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Collects a stream of batches; a convenience for tests and small tables.
pub async fn collect<S>(stream: S) -> std::result::Result<Vec<RecordBatch>, DataFusionError>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>>,
{
    stream.collect::<Vec<_>>().await.into_iter().collect()
}
