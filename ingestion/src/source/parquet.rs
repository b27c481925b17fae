//! Parquet reader: columns of any type, read as text.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::Int64Array;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::{BATCH_ROWS, RowSource, TextBatch};
use crate::error::{IngestError, Result};
use crate::quarantine::Quarantine;

/// Reads one Parquet file as batches of text. A row's "line" is its 1-based
/// position in the file; its raw text is `column=value` pairs.
pub struct ParquetSource {
    file: Arc<str>,
    reader: ParquetRecordBatchReader,
    records: u64,
}

impl ParquetSource {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<ParquetSource> {
        let file = File::open(path).map_err(|source| IngestError::Io {
            path: path.to_owned(),
            source,
        })?;
        let not_parquet = |e: parquet::errors::ParquetError| IngestError::Source {
            path: path.to_owned(),
            message: format!("not a readable Parquet file: {e}"),
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
            .map_err(not_parquet)?;
        Ok(ParquetSource {
            file: path.display().to_string().into(),
            reader,
            records: 0,
        })
    }
}

impl RowSource for ParquetSource {
    fn next_batch(&mut self, _quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        let Some(batch) = self.reader.next().transpose()? else {
            return Ok(None);
        };
        let first = self.records as i64 + 1;
        self.records += batch.num_rows() as u64;
        let lines = Int64Array::from_iter_values(first..first + batch.num_rows() as i64);
        TextBatch::from_typed(&batch, &self.file, lines).map(Some)
    }

    fn records_read(&self) -> u64 {
        self.records
    }
}
