//! Parquet reader: columns of any type, read as text.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;
use arrow::util::display::FormatOptions;
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

/// Every column of `batch` as text, with display formatting for types `cast` cannot do.
pub(crate) fn to_text(
    batch: &arrow::array::RecordBatch,
) -> Result<(arrow::array::RecordBatch, StringArray)> {
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| cast_with_options(c, &DataType::Utf8, &options))
        .collect::<std::result::Result<_, _>>()?;
    let schema = Arc::new(arrow::datatypes::Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| arrow::datatypes::Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let text = arrow::array::RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?;
    let strings: Vec<&StringArray> = text
        .columns()
        .iter()
        .filter_map(|c| c.as_any().downcast_ref())
        .collect();
    let raw: StringArray = (0..text.num_rows())
        .map(|row| {
            let pairs = schema.fields().iter().zip(&strings).map(|(field, column)| {
                let value = if column.is_null(row) {
                    ""
                } else {
                    column.value(row)
                };
                format!("{}={value}", field.name())
            });
            Some(pairs.collect::<Vec<_>>().join(", "))
        })
        .collect();
    Ok((text, raw))
}

impl RowSource for ParquetSource {
    fn next_batch(&mut self, _quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        let Some(batch) = self.reader.next().transpose()? else {
            return Ok(None);
        };
        let first = self.records as i64 + 1;
        self.records += batch.num_rows() as u64;
        let (values, raw) = to_text(&batch)?;
        let lines = Int64Array::from_iter_values(first..first + batch.num_rows() as i64);
        Ok(Some(TextBatch {
            values,
            file: self.file.clone(),
            lines,
            raw,
        }))
    }

    fn records_read(&self) -> u64 {
        self.records
    }
}
