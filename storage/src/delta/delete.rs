//! DELETE: remove the rows matching a predicate.

use std::sync::Arc;

use deltalake::DeltaTableError;

use super::write::commit_properties;
use super::{CommitMetadata, TableLocation, open, session};
use crate::error::Result;

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteReport {
    /// Rows deleted; `None` only when delta-rs dropped whole files whose row counts
    /// are not in the log (files written without statistics; bankpipe writes them).
    pub deleted: Option<u64>,
    /// The table version after the delete.
    pub version: u64,
}

/// Deletes, in one commit with `metadata`, the rows of the table at `location` that
/// match `predicate` (SQL over the table's columns, e.g. `booking_date < '2020-01-01'`).
/// Files that hold only matching rows are dropped; files that hold some are rewritten
/// without them. An error when there is no table.
pub async fn delete(
    location: &TableLocation,
    predicate: &str,
    metadata: CommitMetadata,
) -> Result<DeleteReport> {
    let Some(table) = open(location).await? else {
        return Err(location.delta_error(DeltaTableError::NotATable(location.to_string())));
    };
    let (table, metrics) = table
        .delete()
        .with_predicate(predicate.to_owned())
        .with_session_state(Arc::new(session().state()))
        .with_commit_properties(commit_properties(metadata))
        .await
        .map_err(|e| location.delta_error(e))?;
    Ok(DeleteReport {
        deleted: metrics.num_deleted_rows.map(|rows| rows as u64),
        version: table.version().unwrap_or_default(),
    })
}
