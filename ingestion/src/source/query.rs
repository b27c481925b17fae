//! An entity built by an SQL query over several named sources (joins, unions).

use std::sync::Arc;

use arrow::array::Int64Array;
use datafusion::datasource::MemTable;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use super::{FileSet, RowSource, TextBatch};
use crate::error::{IngestError, Result};
use crate::quarantine::Quarantine;

/// Rows produced by a DataFusion query over named sources.
///
/// The sources are read (as text) when the query starts, so records that cannot be
/// split into fields are quarantined under this entity with their file and line.
/// The query's rows have no single line: their lineage is `query:<entity>` and the
/// raw text is the row's `column=value` pairs.
///
/// Runs its own single-threaded Tokio runtime: call it from a blocking thread
/// (`tokio::task::spawn_blocking`), not from inside an async task.
pub struct QuerySource {
    file: Arc<str>,
    runtime: Option<tokio::runtime::Runtime>,
    stream: SendableRecordBatchStream,
    records: u64,
}

impl QuerySource {
    /// Reads every named source that `sql` mentions and starts the query.
    pub fn start(
        entity: &str,
        sql: &str,
        sources: Vec<(String, FileSet)>,
        quarantine: &mut Quarantine,
    ) -> Result<QuerySource> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| IngestError::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        let ctx = SessionContext::new();
        let mut rejected = 0;
        let mut names = Vec::new();
        for (name, mut files) in sources {
            let mut batches = Vec::new();
            let mut rows = 0u64;
            while let Some(batch) = files.next_batch(quarantine)? {
                rows += batch.values.num_rows() as u64;
                batches.push(batch.values);
            }
            rejected += files.records_read() - rows;
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
            let table = MemTable::try_new(schema, vec![batches])?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
            names.push(name);
        }
        let mapping_error = |e: datafusion::error::DataFusionError| IngestError::Mapping {
            entity: entity.to_owned(),
            what: format!("query `{sql}`"),
            available: names.join(", "),
            message: e.to_string(),
        };
        let stream = runtime
            .block_on(async { ctx.sql(sql).await?.execute_stream().await })
            .map_err(mapping_error)?;
        Ok(QuerySource {
            file: format!("query:{entity}").into(),
            runtime: Some(runtime),
            stream,
            records: rejected,
        })
    }
}

impl RowSource for QuerySource {
    fn next_batch(&mut self, _quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        let Some(runtime) = &self.runtime else {
            return Ok(None);
        };
        let Some(batch) = runtime.block_on(self.stream.next()).transpose()? else {
            return Ok(None);
        };
        self.records += batch.num_rows() as u64;
        let lines = Int64Array::new_null(batch.num_rows());
        TextBatch::from_typed(&batch, &self.file, lines).map(Some)
    }

    fn records_read(&self) -> u64 {
        self.records
    }
}

impl Drop for QuerySource {
    /// The source may be dropped from async code (after its rows were read on a
    /// blocking thread): shut its runtime down without blocking.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
