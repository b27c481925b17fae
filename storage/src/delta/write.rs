//! Writes: append, overwrite, and overwrite of the rows matching a predicate.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::Stream;
use std::sync::Arc;

use super::source::{self, RowCounter};
use super::{CommitMetadata, TableLocation, WriteMode, WriteReport, session};
use crate::error::{Result, StorageError};

/// Commit properties that carry `metadata` (e.g. the run id) into the commit.
pub(super) fn commit_properties(metadata: CommitMetadata) -> CommitProperties {
    CommitProperties::default().with_metadata(metadata)
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
    let (save_mode, schema_mode) = match mode {
        WriteMode::Append => (SaveMode::Append, None),
        WriteMode::Overwrite => (SaveMode::Overwrite, Some(SchemaMode::Overwrite)),
    };
    let target = Target {
        save_mode,
        schema_mode,
        replace_where: None,
        partition_by,
    };
    write(location, schema, batches, target, metadata)
        .await
        .map(|(report, _)| report)
}

/// Replaces, in one commit, the rows of the table at `location` that match `predicate`
/// (SQL over the table's columns, e.g. `month = '2024-03'`) with the stream's rows;
/// the other rows stay as they are. Every row of the stream must match the predicate,
/// else nothing is written and the error says so. A partition column in the predicate
/// lets delta-rs replace whole files; any other predicate works too, by rewriting the
/// files that hold matching rows. Creates the table (partitioned by `partition_by`) when
/// there is none.
pub async fn replace_where<S>(
    location: &TableLocation,
    schema: SchemaRef,
    batches: S,
    predicate: &str,
    partition_by: &[&str],
    metadata: CommitMetadata,
) -> Result<WriteReport>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    let target = Target {
        save_mode: SaveMode::Overwrite,
        schema_mode: None,
        replace_where: Some(predicate),
        partition_by,
    };
    match write(location, schema, batches, target, metadata).await {
        Ok((report, _)) => Ok(report),
        // delta-rs checks each row against the predicate and says only "Invalid data
        // found" when one fails: name the predicate.
        Err(StorageError::Delta { location, source })
            if source.to_string().contains("Invalid data found") =>
        {
            Err(StorageError::Invalid {
                location,
                message: format!(
                    "replace_where '{predicate}': some incoming rows do not match the \
                     predicate, so nothing was written ({source})"
                ),
            })
        }
        Err(e) => Err(e),
    }
}

/// How a write treats the table.
pub(super) struct Target<'a> {
    /// Append or overwrite.
    pub(super) save_mode: SaveMode,
    /// Whether the write may replace the schema.
    pub(super) schema_mode: Option<SchemaMode>,
    /// Overwrite only the rows matching this SQL predicate.
    pub(super) replace_where: Option<&'a str>,
    /// The partition columns (of a new table, or the table's own).
    pub(super) partition_by: &'a [&'a str],
}

/// Writes the stream in one commit; the report and the rows written.
pub(super) async fn write<S>(
    location: &TableLocation,
    schema: SchemaRef,
    batches: S,
    target: Target<'_>,
    metadata: CommitMetadata,
) -> Result<(WriteReport, u64)>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    let ctx = session();
    let counter = RowCounter::default();
    let plan = source::frame(&ctx, location, schema, batches, &counter)?.into_unoptimized_plan();
    let table = DeltaTable::try_from_url_with_storage_options(
        location.url().clone(),
        location.storage_options(),
    )
    .await
    .map_err(|e| location.delta_error(e))?;
    let mut write = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(Arc::new(ctx.state()))
        .with_save_mode(target.save_mode)
        .with_commit_properties(commit_properties(metadata));
    if let Some(schema_mode) = target.schema_mode {
        write = write.with_schema_mode(schema_mode);
    }
    if let Some(predicate) = target.replace_where {
        write = write.with_replace_where(predicate.to_owned());
    }
    if !target.partition_by.is_empty() {
        write = write.with_partition_columns(target.partition_by.iter().copied());
    }
    let table = write.await.map_err(|e| location.delta_error(e))?;
    let report = WriteReport {
        version: table.version().unwrap_or_default(),
    };
    Ok((report, counter.rows()))
}
