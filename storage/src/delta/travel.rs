//! Time travel: a table as it was at a version or at a time.

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::{DeltaTable, DeltaTableError};

use super::{TableLocation, open, register_table, session};
use crate::error::{Result, StorageError};

/// Which version of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The table as a commit left it (versions count from 0).
    Version(u64),
    /// The table as it was at this time: the latest version committed at or before it.
    Timestamp(DateTime<Utc>),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Version(version) => write!(f, "version {version}"),
            At::Timestamp(time) => write!(f, "time {}", time.to_rfc3339()),
        }
    }
}

/// Opens the table at `location` as it was `at`; an error when there is no table, or
/// no such version (a version not committed yet or whose log is gone, a time before
/// the first commit).
pub async fn open_at(location: &TableLocation, at: At) -> Result<DeltaTable> {
    let Some(mut table) = open(location).await? else {
        return Err(location.delta_error(DeltaTableError::NotATable(location.to_string())));
    };
    let no_version = || StorageError::NoSuchVersion {
        location: location.to_string(),
        at: match at {
            At::Version(_) => at.to_string(),
            At::Timestamp(_) => format!("at or before {at}"),
        },
    };
    match at {
        At::Version(version) => {
            let latest = table.version().unwrap_or_default();
            if version > latest {
                return Err(no_version());
            }
            table.load_version(version).await.map_err(|e| match e {
                DeltaTableError::InvalidVersion(_) => no_version(),
                e => location.delta_error(e),
            })?;
        }
        At::Timestamp(time) => {
            table
                .load_with_datetime(time)
                .await
                .map_err(|e| location.delta_error(e))?;
            // delta-rs falls back to the oldest version for a time before it.
            let version = table.version().unwrap_or_default();
            if let Some(committed) = commit_time(&table, version).await?
                && committed > time
            {
                return Err(no_version());
            }
        }
    }
    Ok(table)
}

/// When `version` was committed (the time delta-rs's time travel goes by: the commit
/// file's modification time); `None` when that file is gone.
async fn commit_time(table: &DeltaTable, version: u64) -> Result<Option<DateTime<Utc>>> {
    let log_store = table.log_store();
    let path = log_store
        .log_path()
        .clone()
        .join(format!("{version:020}.json").as_str());
    match log_store.object_store(None).head(&path).await {
        Ok(meta) => Ok(Some(meta.last_modified)),
        Err(deltalake::ObjectStoreError::NotFound { .. }) => Ok(None),
        Err(source) => Err(StorageError::Delta {
            location: table.table_url().to_string(),
            source: Box::new(DeltaTableError::ObjectStore { source }),
        }),
    }
}

/// Registers the table at `location` as it was `at` in `ctx` as `name` (replacing any
/// table of that name).
pub async fn register_at(
    ctx: &SessionContext,
    name: &str,
    location: &TableLocation,
    at: At,
) -> Result<()> {
    let table = open_at(location, at).await?;
    register_table(ctx, name, location, &table).await
}

/// Runs `sql` over the table at `location` as it was `at`, registered as `t`, and
/// collects the result.
pub async fn query_at(location: &TableLocation, sql: &str, at: At) -> Result<Vec<RecordBatch>> {
    let ctx = session();
    register_at(&ctx, "t", location, at).await?;
    let frame = ctx
        .sql(sql)
        .await
        .map_err(|e| location.datafusion_error(e))?;
    frame
        .collect()
        .await
        .map_err(|e| location.datafusion_error(e))
}
