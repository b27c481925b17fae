//! Reading ahead: a source read on its own thread, so that splitting records into
//! fields overlaps with typing and checking the batch before.
//!
//! The thread holds at most [`AHEAD`] batches ready, so memory stays bounded. What the
//! source quarantines on that thread travels with each batch and is absorbed into the
//! entity's quarantine when the batch is taken, so counts and rows are as if read in
//! place. Dropping the reader stops the thread at its next batch.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::error::{IngestError, Result};
use crate::quarantine::Quarantine;
use crate::source::{RowSource, TextBatch};

/// Batches read ahead of the one being processed.
const AHEAD: usize = 2;

/// One read: the batch (or the end, or an error), what was quarantined reading it,
/// and the records read so far.
type Read = (Result<Option<TextBatch>>, Quarantine, u64);

/// A [`RowSource`] read on its own thread.
pub struct ReadAhead {
    entity: &'static str,
    reads: Receiver<Read>,
    thread: Option<JoinHandle<()>>,
    records_read: u64,
    done: bool,
}

impl ReadAhead {
    /// Starts reading `source` on a new thread; `entity` and `run_id` stamp the rows
    /// it quarantines.
    pub fn start(
        source: Box<dyn RowSource>,
        entity: &'static str,
        run_id: &str,
    ) -> Result<ReadAhead> {
        let (sender, reads) = sync_channel(AHEAD);
        let run_id = run_id.to_owned();
        let thread = std::thread::Builder::new()
            .name(format!("read-{entity}"))
            .spawn(move || read(source, entity, &run_id, &sender))
            .map_err(|error| IngestError::Reader {
                entity: entity.into(),
                message: format!("could not start: {error}"),
            })?;
        Ok(ReadAhead {
            entity,
            reads,
            thread: Some(thread),
            records_read: 0,
            done: false,
        })
    }
}

/// The reading thread: reads until the end, an error, or nobody listens.
fn read(
    mut source: Box<dyn RowSource>,
    entity: &'static str,
    run_id: &str,
    sender: &SyncSender<Read>,
) {
    loop {
        let mut quarantine = Quarantine::new(entity, run_id);
        let batch = source.next_batch(&mut quarantine);
        let last = !matches!(batch, Ok(Some(_)));
        if sender
            .send((batch, quarantine, source.records_read()))
            .is_err()
            || last
        {
            return;
        }
    }
}

impl RowSource for ReadAhead {
    fn next_batch(&mut self, quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        if self.done {
            return Ok(None);
        }
        let Ok((batch, read, records_read)) = self.reads.recv() else {
            // The thread ended without a last word: it panicked.
            self.done = true;
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
            return Err(IngestError::Reader {
                entity: self.entity.into(),
                message: "stopped without finishing (it panicked)".into(),
            });
        };
        self.records_read = records_read;
        quarantine.absorb(read)?;
        if !matches!(batch, Ok(Some(_))) {
            self.done = true;
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        batch
    }

    fn records_read(&self) -> u64 {
        self.records_read
    }
}
