//! Sources: files (CSV, JSON Lines, Parquet) or a query, read as batches of text.
//!
//! Every source yields [`TextBatch`]es: one text column per source column, plus each
//! row's line and raw text for the quarantine. Records that cannot even be split into
//! fields (broken quoting, wrong field count, bad encoding, invalid JSON) are
//! quarantined here and never reach the batches. Sources stream: they hold one batch
//! at a time, whatever the size of the input.

mod csv;
mod files;
mod jsonl;
mod parquet;
mod query;
mod read_ahead;

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};

use crate::error::Result;
use crate::quarantine::Quarantine;

pub use self::csv::CsvSource;
pub use self::files::FileSet;
pub use self::jsonl::JsonlSource;
pub use self::parquet::ParquetSource;
pub use self::query::QuerySource;
pub use self::read_ahead::ReadAhead;

/// How many rows a source puts in one batch.
pub const BATCH_ROWS: usize = 32 * 1024;

/// Rows of a source as text, with their lineage.
#[derive(Debug, Clone)]
pub struct TextBatch {
    /// One nullable text column per source column, named as in the source.
    pub values: RecordBatch,
    /// The file the rows come from, or `query:<entity>`.
    pub file: Arc<str>,
    /// Each row's first line in the file (null for rows built by a query).
    pub lines: Int64Array,
    /// Each row as delivered, for the quarantine.
    pub raw: StringArray,
}

impl TextBatch {
    /// Rows of any Arrow types as text: every column cast to text, the raw text of a
    /// row being its `column=value` pairs.
    pub(crate) fn from_typed(
        batch: &RecordBatch,
        file: &Arc<str>,
        lines: Int64Array,
    ) -> Result<TextBatch> {
        use arrow::array::{Array, ArrayRef, RecordBatchOptions};
        use arrow::compute::{CastOptions, cast_with_options};
        use arrow::datatypes::{DataType, Field, Schema};
        let options = CastOptions {
            safe: false,
            format_options: arrow::util::display::FormatOptions::default(),
        };
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| cast_with_options(c, &DataType::Utf8, &options))
            .collect::<std::result::Result<_, _>>()?;
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let row_count = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let values = RecordBatch::try_new_with_options(schema.clone(), columns, &row_count)?;
        let strings: Vec<&StringArray> = values
            .columns()
            .iter()
            .filter_map(|c| c.as_any().downcast_ref())
            .collect();
        let raw: StringArray = (0..values.num_rows())
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
        Ok(TextBatch {
            values,
            file: file.clone(),
            lines,
            raw,
        })
    }
}

/// A source of rows as text.
pub trait RowSource: Send {
    /// The next batch, or `None` at the end. Records that cannot be split into
    /// fields go to `quarantine` instead.
    fn next_batch(&mut self, quarantine: &mut Quarantine) -> Result<Option<TextBatch>>;

    /// Records read so far, accepted into batches or quarantined: the raw row count.
    fn records_read(&self) -> u64;
}

/// Builds a [`TextBatch`] row by row; shared by the file readers.
#[derive(Debug)]
pub(crate) struct TextBatchBuilder {
    schema: arrow::datatypes::SchemaRef,
    columns: Vec<arrow::array::StringBuilder>,
    lines: arrow::array::Int64Builder,
    raw: arrow::array::StringBuilder,
    rows: usize,
}

impl TextBatchBuilder {
    /// A builder for these column names; duplicate or empty names are made unique.
    pub(crate) fn new(names: &[String]) -> TextBatchBuilder {
        use arrow::datatypes::{DataType, Field, Schema};
        let mut seen = std::collections::HashSet::new();
        let fields: Vec<Field> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let base = if name.is_empty() {
                    format!("column_{}", i + 1)
                } else {
                    name.clone()
                };
                let mut unique = base.clone();
                let mut n = 2;
                while !seen.insert(unique.clone()) {
                    unique = format!("{base}_{n}");
                    n += 1;
                }
                Field::new(unique, DataType::Utf8, true)
            })
            .collect();
        TextBatchBuilder {
            columns: fields
                .iter()
                .map(|_| arrow::array::StringBuilder::new())
                .collect(),
            schema: Arc::new(Schema::new(fields)),
            lines: arrow::array::Int64Builder::new(),
            raw: arrow::array::StringBuilder::new(),
            rows: 0,
        }
    }

    /// Number of columns.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }

    /// The name of column `i`.
    pub(crate) fn column_name(&self, i: usize) -> String {
        self.schema
            .fields()
            .get(i)
            .map(|f| f.name().clone())
            .unwrap_or_default()
    }

    /// Rows added since the last batch.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Adds a row: one value per column (empty text is stored as null).
    pub(crate) fn push<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a str>>,
        line: Option<i64>,
        raw: &str,
    ) {
        for (builder, value) in self.columns.iter_mut().zip(values) {
            builder.append_option(value.filter(|v| !v.is_empty()));
        }
        self.lines.append_option(line);
        self.raw.append_value(raw);
        self.rows += 1;
    }

    /// Takes the rows added so far as a batch from `file`.
    pub(crate) fn finish(&mut self, file: &Arc<str>) -> Result<TextBatch> {
        self.rows = 0;
        let columns = self
            .columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as arrow::array::ArrayRef);
        let values = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns.collect(),
            &arrow::array::RecordBatchOptions::new()
                .with_row_count(Some(self.lines.values_slice().len())),
        )?;
        Ok(TextBatch {
            values,
            file: file.clone(),
            lines: self.lines.finish(),
            raw: self.raw.finish(),
        })
    }
}
