//! A stream of batches as a DataFusion source, read once, for delta-rs's writers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::{Stream, StreamExt};

use super::TableLocation;
use crate::error::Result;

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

/// The rows a [`frame`] handed out, counted as they pass.
#[derive(Debug, Clone, Default)]
pub(super) struct RowCounter(Arc<AtomicU64>);

impl RowCounter {
    /// The rows counted so far.
    pub(super) fn rows(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A DataFrame of `ctx` that reads `batches` once, as `schema`, counting its rows in
/// `counter`.
pub(super) fn frame<S>(
    ctx: &SessionContext,
    location: &TableLocation,
    schema: SchemaRef,
    batches: S,
    counter: &RowCounter,
) -> Result<DataFrame>
where
    S: Stream<Item = std::result::Result<RecordBatch, DataFusionError>> + Send + 'static,
{
    // Batches of one plan may disagree with its schema on nullability alone (the
    // branches of a UNION ALL); the writer wants them to match exactly.
    let declared = schema.clone();
    let rows = counter.0.clone();
    let batches = batches.map(move |batch| {
        batch.and_then(|batch| {
            rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
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
    ctx.read_table(Arc::new(source))
        .map_err(|e| location.datafusion_error(e))
}
