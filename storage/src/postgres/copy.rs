//! One binary `COPY … FROM STDIN` of a stream of batches into a table.

use std::error::Error;
use std::pin::{Pin, pin};

use arrow::array::RecordBatch;
use futures::{Stream, StreamExt};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::columns::ColumnWriter;
use super::error::PostgresError;
use super::ident::quote_list;
use super::spec::TableSpec;
use super::types::{compatible, wire_type};

/// A binary COPY of batches with `spec`'s columns into one table.
pub(crate) struct Copier<'s> {
    spec: &'s TableSpec,
    /// The `COPY` statement.
    pub(crate) statement: String,
    types: Vec<Type>,
}

impl<'s> Copier<'s> {
    /// A COPY into `target` (quoted, qualified) of `spec`'s columns; `freeze` writes the
    /// rows already frozen, which PostgreSQL allows only into a table created (or
    /// truncated) in the same transaction.
    pub(crate) fn new(
        spec: &'s TableSpec,
        target: &str,
        freeze: bool,
    ) -> Result<Copier<'s>, PostgresError> {
        let options = if freeze { ", FREEZE" } else { "" };
        let statement = format!(
            "COPY {target} ({}) FROM STDIN (FORMAT binary{options})",
            quote_list(&spec.column_names())
        );
        let types = spec
            .columns
            .fields()
            .iter()
            .map(|f| wire_type(f.data_type()))
            .collect::<Result<_, _>>()?;
        Ok(Copier {
            spec,
            statement,
            types,
        })
    }

    /// Streams every batch through the COPY; returns the rows copied.
    ///
    /// Each batch's columns are found by name and checked against the spec (type,
    /// nulls where the spec forbids them) before any of its rows is sent.
    pub(crate) async fn copy<S, E>(
        &self,
        transaction: &Transaction<'_>,
        mut batches: S,
    ) -> Result<u64, PostgresError>
    where
        S: Stream<Item = Result<RecordBatch, E>> + Unpin,
        E: Error + Send + Sync + 'static,
    {
        let failed = |e| PostgresError::query(&self.statement, e);
        let sink = transaction.copy_in(&self.statement).await.map_err(failed)?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &self.types));
        let mut rows = 0u64;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|source| PostgresError::Stream {
                table: self.spec.display_name(),
                rows,
                source: Box::new(source),
            })?;
            let columns = self.column_writers(&batch, rows)?;
            write_rows(writer.as_mut(), &columns, batch.num_rows())
                .await
                .map_err(failed)?;
            rows += batch.num_rows() as u64;
        }
        writer.as_mut().finish().await.map_err(failed)
    }

    /// One writer per column of the spec, taken by name from the batch and checked.
    fn column_writers<'b>(
        &'b self,
        batch: &'b RecordBatch,
        first_row: u64,
    ) -> Result<Vec<ColumnWriter<'b>>, PostgresError> {
        let schema = batch.schema_ref();
        let invalid = |message: String| PostgresError::InvalidBatch {
            table: self.spec.display_name(),
            message,
        };
        let mut writers = Vec::with_capacity(self.types.len());
        for field in self.spec.columns.fields() {
            let name = field.name();
            let index = schema
                .index_of(name)
                .map_err(|_| invalid(format!("a batch has no column \"{name}\"")))?;
            let array = batch.column(index);
            if !compatible(field.data_type(), array.data_type()) {
                return Err(invalid(format!(
                    "column \"{name}\" is {} in a batch but {} in the spec",
                    array.data_type(),
                    field.data_type()
                )));
            }
            if !field.is_nullable() && array.null_count() > 0 {
                return Err(invalid(format!(
                    "column \"{name}\" is required but has {} null(s) in a batch",
                    array.null_count()
                )));
            }
            writers.push(ColumnWriter::new(name, array.as_ref(), first_row)?);
        }
        Ok(writers)
    }
}

/// Writes rows `0..rows` of a batch, one field per column writer.
async fn write_rows(
    mut writer: Pin<&mut BinaryCopyInWriter>,
    columns: &[ColumnWriter<'_>],
    rows: usize,
) -> Result<(), tokio_postgres::Error> {
    for row in 0..rows {
        writer
            .as_mut()
            .write_raw(columns.iter().map(|column| column.cell(row)))
            .await?;
    }
    Ok(())
}
