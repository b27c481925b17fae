//! The ingest stage: every entity from the raw folder into the processed and
//! quarantine Delta tables, streaming, with a summary per entity — all of them in
//! one go ([`ingest`]), or one entity at a time ([`ingest_entity`]) as the flow's
//! tasks do, handing each other the parents' keys ([`parent_keys`]) and telling the
//! entities they did not ingest from their tables ([`recount`]).

pub mod parent_keys;
pub mod recount;

use std::path::PathBuf;

use arrow::array::RecordBatch;
use contract::{Entity, schema::quarantine_schema};
use datafusion::error::DataFusionError;
use ingestion::{EntityRun, EntitySummary, IngestConfig, Ingestor, Output};
use storage::delta::{self, WriteMode};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::layout::DataLayout;

/// What to ingest and where to.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The mapping configuration (empty for files that follow the contract).
    pub config: IngestConfig,
    /// The raw folder.
    pub raw: PathBuf,
    /// The lake's layout.
    pub layout: DataLayout,
    /// The run id stamped on commits and quarantined rows.
    pub run_id: String,
}

/// Batches in flight between the reader and each Delta writer.
const CHANNEL_BATCHES: usize = 4;

type BatchResult = std::result::Result<RecordBatch, DataFusionError>;

/// Ingests every entity that has a source, parents first. `progress` is told the
/// rows read so far of the entity under way.
pub async fn ingest(
    options: &IngestOptions,
    progress: &(dyn Fn(Entity, u64) + Sync),
) -> Result<Vec<EntitySummary>> {
    let mut ingestor = Ingestor::new(options.config.clone(), &options.raw, &options.run_id);
    let mut summaries = Vec::new();
    for entity in Entity::ALL {
        let (back, summary) = ingest_entity(options, ingestor, entity, progress).await?;
        ingestor = back;
        summaries.extend(summary);
    }
    Ok(summaries)
}

/// Ingests `entity` with `ingestor`, which holds the accepted keys of its parents
/// (those it ingested, or was given), into its two Delta tables; returns the
/// ingestor, now also holding `entity`'s keys if other entities refer to it, and the
/// entity's counts (`None` when it has no source in this run: its tables are left
/// as they are).
pub async fn ingest_entity(
    options: &IngestOptions,
    ingestor: Ingestor,
    entity: Entity,
    progress: &(dyn Fn(Entity, u64) + Sync),
) -> Result<(Ingestor, Option<EntitySummary>)> {
    let (mut ingestor, run) = crate::runtime::spawn_blocking(move || {
        let run = ingestor.open(entity);
        (ingestor, run)
    })
    .await?;
    let Some(run) = run? else {
        return Ok((ingestor, None));
    };
    let run = write_entity(options, run, progress).await?;
    let summary = ingestor.finish(run)?;
    Ok((ingestor, Some(summary)))
}

/// Streams one entity's outputs into its two Delta tables, both committed only if
/// the whole entity was read without error.
async fn write_entity(
    options: &IngestOptions,
    mut run: EntityRun,
    progress: &(dyn Fn(Entity, u64) + Sync),
) -> Result<EntityRun> {
    let entity = run.entity();
    let schema = run.schema();
    let (accepted_tx, accepted_rx) = mpsc::channel::<BatchResult>(CHANNEL_BATCHES);
    let (quarantine_tx, quarantine_rx) = mpsc::channel::<BatchResult>(CHANNEL_BATCHES);
    let (rows_tx, mut rows_rx) = mpsc::unbounded_channel::<u64>();
    let producer = crate::runtime::spawn_blocking(move || {
        let mut rows = 0u64;
        let mut failure = None;
        for output in &mut run {
            let sent = match output {
                Ok(Output::Accepted(batch)) => {
                    rows += batch.num_rows() as u64;
                    accepted_tx.blocking_send(Ok(batch))
                }
                Ok(Output::Quarantined(batch)) => {
                    rows += batch.num_rows() as u64;
                    quarantine_tx.blocking_send(Ok(batch))
                }
                Err(e) => {
                    // Fail both writes so that neither commits a partial table.
                    let message = e.to_string();
                    let _ =
                        accepted_tx.blocking_send(Err(DataFusionError::Execution(message.clone())));
                    let _ = quarantine_tx.blocking_send(Err(DataFusionError::Execution(message)));
                    failure = Some(e);
                    break;
                }
            };
            let _ = rows_tx.send(rows);
            if sent.is_err() {
                break;
            }
        }
        (run, failure)
    });
    let metadata = delta::run_metadata(&options.run_id);
    let processed = options.layout.processed(entity).location()?;
    let quarantine = options.layout.quarantine(entity).location()?;
    let write_processed = delta::write_stream(
        &processed,
        schema,
        receiver_stream(accepted_rx),
        WriteMode::Overwrite,
        &[],
        metadata.clone(),
    );
    let write_quarantine = delta::write_stream(
        &quarantine,
        quarantine_schema(),
        receiver_stream(quarantine_rx),
        WriteMode::Overwrite,
        &[],
        metadata,
    );
    let report_progress = async {
        while let Some(rows) = rows_rx.recv().await {
            progress(entity, rows);
        }
    };
    let (produced, written_processed, written_quarantine, ()) =
        tokio::join!(producer, write_processed, write_quarantine, report_progress);
    let (run, failure) = produced?;
    if let Some(error) = failure {
        return Err(error.into());
    }
    written_processed?;
    written_quarantine?;
    Ok(run)
}

fn receiver_stream(
    mut rx: mpsc::Receiver<BatchResult>,
) -> impl futures::Stream<Item = BatchResult> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A new run id: the UTC time and a random suffix, e.g. `20261125T114500Z-3f9a`.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        now.timestamp_subsec_nanos() & 0xffff
    )
}
