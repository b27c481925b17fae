//! MERGE: upsert a stream of rows into a table on key columns.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::Column;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Operator, binary_expr};
use datafusion::prelude::Expr;
use deltalake::protocol::SaveMode;
use futures::Stream;

use super::source::{self, RowCounter};
use super::write::{self, Target, commit_properties};
use super::{CommitMetadata, TableLocation, open, session};
use crate::error::{Result, StorageError};

/// The alias of the incoming rows in the merge.
const SOURCE: &str = "source";
/// The alias of the table's rows in the merge.
const TARGET: &str = "target";

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    /// Rows added (their keys were not in the table).
    pub inserted: u64,
    /// Rows rewritten (their keys were in the table with other values).
    pub updated: u64,
    /// Rows deleted (a plain upsert deletes none).
    pub deleted: u64,
    /// The table version after the merge: the previous one when nothing changed (no
    /// commit is made then).
    pub version: u64,
}

/// Upserts the stream's rows into the table at `location` on the `keys` columns, in
/// one commit with `metadata`: a row whose keys are in the table replaces that row
/// when any other column differs (`IS DISTINCT FROM`, so NULLs compare as values);
/// a row whose keys are not there is inserted. Merging the same rows again changes
/// nothing, reports 0 inserted and 0 updated, and makes no commit.
///
/// The incoming rows may lack some of the table's columns: an update leaves them as
/// they were, an insert sets them to NULL. Two incoming rows with the keys of one
/// table row are an error (nothing is written).
/// Keys compare with `=`: a row with a NULL key never matches, so it is inserted each
/// time. When there is no table, the rows create it (unpartitioned) in one commit and
/// all count as inserted.
pub async fn merge<S>(
    location: &TableLocation,
    schema: SchemaRef,
    batches: S,
    keys: &[&str],
    metadata: CommitMetadata,
) -> Result<MergeReport>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    check_keys(location, &schema, keys)?;
    let Some(table) = open(location).await? else {
        let target = Target {
            save_mode: SaveMode::Append,
            schema_mode: None,
            replace_where: None,
            partition_by: &[],
        };
        let (report, rows) = write::write(location, schema, batches, target, metadata).await?;
        return Ok(MergeReport {
            inserted: rows,
            updated: 0,
            deleted: 0,
            version: report.version,
        });
    };
    let ctx = session();
    let counter = RowCounter::default();
    let frame = source::frame(&ctx, location, schema.clone(), batches, &counter)?;
    let on = keys
        .iter()
        .map(|key| column(TARGET, key).eq(column(SOURCE, key)))
        .reduce(Expr::and)
        .ok_or_else(|| invalid(location, "a merge needs at least one key column"))?;
    let values: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .filter(|name| !keys.contains(name))
        .collect();
    let differs = values
        .iter()
        .map(|name| {
            binary_expr(
                column(TARGET, name),
                Operator::IsDistinctFrom,
                column(SOURCE, name),
            )
        })
        .reduce(Expr::or);
    let mut builder = table
        .merge(frame, on)
        .with_source_alias(SOURCE)
        .with_target_alias(TARGET)
        .with_streaming(true)
        .with_session_state(Arc::new(ctx.state()))
        .with_commit_properties(commit_properties(metadata));
    if let Some(differs) = differs {
        builder = builder
            .when_matched_update(|update| {
                values
                    .iter()
                    .fold(update.predicate(differs), |update, name| {
                        update.update(Column::new_unqualified(*name), column(SOURCE, name))
                    })
            })
            .map_err(|e| location.delta_error(e))?;
    }
    let builder = builder
        .when_not_matched_insert(|insert| {
            schema.fields().iter().fold(insert, |insert, field| {
                insert.set(
                    Column::new_unqualified(field.name()),
                    column(SOURCE, field.name()),
                )
            })
        })
        .map_err(|e| location.delta_error(e))?;
    let (table, metrics) = builder.await.map_err(|e| location.delta_error(e))?;
    Ok(MergeReport {
        inserted: metrics.num_target_rows_inserted as u64,
        updated: metrics.num_target_rows_updated as u64,
        deleted: metrics.num_target_rows_deleted as u64,
        version: table.version().unwrap_or_default(),
    })
}

/// `relation.name`, the name taken as it is (never parsed or folded to lower case).
fn column(relation: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(relation), name))
}

/// Keys: at least one, each a column of the incoming rows, none twice.
fn check_keys(location: &TableLocation, schema: &SchemaRef, keys: &[&str]) -> Result<()> {
    if keys.is_empty() {
        return Err(invalid(location, "a merge needs at least one key column"));
    }
    for (i, key) in keys.iter().enumerate() {
        if schema.field_with_name(key).is_err() {
            return Err(invalid(
                location,
                &format!("merge key '{key}' is not a column of the incoming rows"),
            ));
        }
        if keys[..i].contains(key) {
            return Err(invalid(location, &format!("merge key '{key}' given twice")));
        }
    }
    Ok(())
}

fn invalid(location: &TableLocation, message: &str) -> StorageError {
    StorageError::Invalid {
        location: location.to_string(),
        message: message.to_owned(),
    }
}
