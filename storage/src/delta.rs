//! Delta Lake tables: streaming writes with run metadata, reads and history.
//!
//! Writes take a stream of batches and hand it to delta-rs as a DataFusion plan, so a
//! table of any size is written with one batch in memory at a time and committed
//! once: readers see the old version or the new one, never a half-written table.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::SessionContext;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use futures::{Stream, StreamExt, TryStreamExt};
use url::Url;

use crate::error::{Result, StorageError};

/// Where a Delta table lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLocation(Url);

impl TableLocation {
    /// A table in a local folder (created if missing).
    pub fn local(path: &Path) -> Result<TableLocation> {
        let invalid = |message: String| StorageError::Location {
            location: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(path).map_err(|e| invalid(e.to_string()))?;
        let absolute = path.canonicalize().map_err(|e| invalid(e.to_string()))?;
        Url::from_directory_path(&absolute)
            .map(TableLocation)
            .map_err(|()| invalid("not an absolute folder".into()))
    }

    /// The location's URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    fn delta_error(&self, source: DeltaTableError) -> StorageError {
        StorageError::Delta {
            location: self.0.to_string(),
            source: Box::new(source),
        }
    }

    fn datafusion_error(&self, source: DataFusionError) -> StorageError {
        StorageError::DataFusion {
            location: self.0.to_string(),
            source: Box::new(source),
        }
    }
}

impl std::fmt::Display for TableLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

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

/// A partition stream that hands out one stream of batches, once.
struct OnceStream {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl std::fmt::Debug for OnceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnceStream").finish_non_exhaustive()
    }
}

impl PartitionStream for OnceStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().ok().and_then(|mut s| s.take());
        taken.unwrap_or_else(|| {
            let error = DataFusionError::Execution(
                "the input stream of a Delta write was already consumed".into(),
            );
            Box::pin(RecordBatchStreamAdapter::new(
                self.schema.clone(),
                futures::stream::once(async { Err(error) }),
            ))
        })
    }
}

/// Writes a stream of batches to the table at `location` in one commit, creating it if
/// needed, with `metadata` (e.g. the run id) in the commit.
pub async fn write_stream<S>(
    location: &TableLocation,
    schema: SchemaRef,
    batches: S,
    mode: WriteMode,
    partition_by: &[&str],
    metadata: CommitMetadata,
) -> Result<WriteReport>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    let ctx = session();
    // Batches of one plan may disagree with its schema on nullability alone (the
    // branches of a UNION ALL); the writer wants them to match exactly.
    let declared = schema.clone();
    let batches = batches.map(move |batch| {
        batch.and_then(|batch| {
            if batch.schema() == declared {
                return Ok(batch);
            }
            RecordBatch::try_new(declared.clone(), batch.columns().to_vec())
                .map_err(DataFusionError::from)
        })
    });
    let stream: SendableRecordBatchStream =
        Box::pin(RecordBatchStreamAdapter::new(schema.clone(), batches));
    let partition = Arc::new(OnceStream {
        schema: schema.clone(),
        stream: Mutex::new(Some(stream)),
    });
    let source = StreamingTable::try_new(schema, vec![partition])
        .map_err(|e| location.datafusion_error(e))?;
    let plan = ctx
        .read_table(Arc::new(source))
        .map_err(|e| location.datafusion_error(e))?
        .into_unoptimized_plan();
    let table = DeltaTable::try_from_url(location.url().clone())
        .await
        .map_err(|e| location.delta_error(e))?;
    let save_mode = match mode {
        WriteMode::Append => SaveMode::Append,
        WriteMode::Overwrite => SaveMode::Overwrite,
    };
    let mut write = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(save_mode)
        .with_commit_properties(
            deltalake::kernel::transaction::CommitProperties::default().with_metadata(metadata),
        );
    if mode == WriteMode::Overwrite {
        write = write.with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite);
    }
    if !partition_by.is_empty() {
        write = write.with_partition_columns(partition_by.iter().copied());
    }
    let table = write.await.map_err(|e| location.delta_error(e))?;
    Ok(WriteReport {
        version: table.version().unwrap_or_default(),
    })
}

/// Opens the table at `location`; `None` when there is no table there yet.
pub async fn open(location: &TableLocation) -> Result<Option<DeltaTable>> {
    // A local folder without a log is no table: say so without asking delta-rs,
    // which would log an error for it.
    if let Ok(folder) = location.url().to_file_path()
        && !folder.join("_delta_log").is_dir()
    {
        return Ok(None);
    }
    match deltalake::open_table(location.url().clone()).await {
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

/// Registers the table at `location` in `ctx` as `name` (replacing any table of that
/// name); false, and nothing registered, when there is no table there.
pub async fn register(ctx: &SessionContext, name: &str, location: &TableLocation) -> Result<bool> {
    let Some(table) = open(location).await? else {
        return Ok(false);
    };
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
    Ok(true)
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

/// The application metadata of the table's latest commit (empty when there is no table).
pub async fn latest_commit_metadata(location: &TableLocation) -> Result<CommitMetadata> {
    let Some(table) = open(location).await? else {
        return Ok(CommitMetadata::new());
    };
    let mut history = table.history(Some(1));
    let latest = history
        .try_next()
        .await
        .map_err(|e| location.delta_error(e))?;
    Ok(latest.map(|commit| commit.info).unwrap_or_default())
}

/// Collects a stream of batches; a convenience for tests and small tables.
pub async fn collect<S>(stream: S) -> std::result::Result<Vec<RecordBatch>, DataFusionError>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>>,
{
    stream.collect::<Vec<_>>().await.into_iter().collect()
}
