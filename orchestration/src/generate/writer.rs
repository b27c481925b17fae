//! Output: RFC 4180 CSV and JSON Lines sinks, and [`EntityWriter`], the one row writer every
//! entity goes through, which lets the defect planter slip bad rows in after valid ones.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use contract::{Column, ColumnType, Entity};
use serde::Serialize;

use super::GenerateError;
use super::defects::Planter;
use super::fields::FieldBuf;

const BUFFER_BYTES: usize = 1 << 20;

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> GenerateError {
    GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn json_error(path: &Path, source: serde_json::Error) -> GenerateError {
    GenerateError::Json {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates (or truncates) `path` behind a large write buffer.
pub(crate) fn create_file(path: &Path) -> Result<BufWriter<File>, GenerateError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    Ok(BufWriter::with_capacity(BUFFER_BYTES, file))
}

/// Writes `value` as pretty JSON to `path`.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), GenerateError> {
    let mut out = create_file(path)?;
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| json_error(path, e))?;
    out.write_all(b"\n").map_err(|e| io_error(path, e))?;
    out.flush().map_err(|e| io_error(path, e))
}

/// Where the records of one entity go.
pub(crate) trait RowSink {
    /// Writes one well-formed record.
    fn write_row(&mut self, row: &FieldBuf) -> Result<(), GenerateError>;
    /// Writes `row` so that it cannot be read as a record: with one field too many (or too
    /// few) in CSV, as JSON cut in the middle in JSON Lines.
    fn write_malformed(&mut self, row: &FieldBuf, extra_field: bool) -> Result<(), GenerateError>;
    /// Data records written so far.
    fn rows(&self) -> u64;
    /// Flushes and returns the files written.
    fn finish(self) -> Result<Vec<PathBuf>, GenerateError>
    where
        Self: Sized;
}

/// Appends one CSV record: fields quoted only when they hold a comma, quote or line break,
/// quotes doubled, `\n` at the end.
pub(crate) fn encode_csv<'a>(line: &mut Vec<u8>, fields: impl Iterator<Item = &'a [u8]>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(b',');
        }
        if field
            .iter()
            .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        {
            line.push(b'"');
            for &b in field {
                if b == b'"' {
                    line.push(b'"');
                }
                line.push(b);
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(field);
        }
    }
    line.push(b'\n');
}

/// The header row of `entity`'s files: its contract column names, in contract order.
pub(crate) fn header(entity: Entity) -> impl Iterator<Item = &'static str> {
    entity.spec().columns.iter().map(|c| c.name)
}

/// A CSV file with a header row.
pub(crate) struct CsvSink {
    path: PathBuf,
    out: BufWriter<File>,
    line: Vec<u8>,
    rows: u64,
}

impl CsvSink {
    /// Creates (or truncates) `path` and writes the header row `names`.
    pub(crate) fn create<'a>(
        path: PathBuf,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, GenerateError> {
        let mut sink = Self {
            out: create_file(&path)?,
            path,
            line: Vec::with_capacity(512),
            rows: 0,
        };
        sink.emit(names.into_iter().map(str::as_bytes))?;
        Ok(sink)
    }

    fn emit<'a>(&mut self, fields: impl Iterator<Item = &'a [u8]>) -> Result<(), GenerateError> {
        self.line.clear();
        encode_csv(&mut self.line, fields);
        self.out
            .write_all(&self.line)
            .map_err(|e| io_error(&self.path, e))
    }
}

impl RowSink for CsvSink {
    fn write_row(&mut self, row: &FieldBuf) -> Result<(), GenerateError> {
        self.emit(row.iter())?;
        self.rows += 1;
        Ok(())
    }

    fn write_malformed(&mut self, row: &FieldBuf, extra_field: bool) -> Result<(), GenerateError> {
        if extra_field {
            self.emit(row.iter().chain(std::iter::once(&b"extra"[..])))?;
        } else {
            self.emit(row.iter().take(row.len().saturating_sub(1)))?;
        }
        self.rows += 1;
        Ok(())
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn finish(mut self) -> Result<Vec<PathBuf>, GenerateError> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        Ok(vec![self.path])
    }
}

/// A JSON Lines file: one object per record; an empty optional field is left out, an empty
/// required one is written as `null`; ints, decimals and bools are bare when they parse.
pub(crate) struct JsonlSink {
    path: PathBuf,
    out: BufWriter<File>,
    columns: &'static [Column],
    line: Vec<u8>,
    rows: u64,
}

impl JsonlSink {
    /// Creates (or truncates) `path` for records with the contract columns `columns`.
    pub(crate) fn create(path: PathBuf, columns: &'static [Column]) -> Result<Self, GenerateError> {
        Ok(Self {
            out: create_file(&path)?,
            path,
            columns,
            line: Vec::with_capacity(512),
            rows: 0,
        })
    }

    fn render(&mut self, row: &FieldBuf) -> Result<(), GenerateError> {
        let columns = self.columns;
        self.line.clear();
        self.line.push(b'{');
        let mut first = true;
        for (column, value) in columns.iter().zip(row.iter()) {
            if value.is_empty() && !column.required {
                continue;
            }
            if !first {
                self.line.push(b',');
            }
            first = false;
            self.line.push(b'"');
            self.line.extend_from_slice(column.name.as_bytes());
            self.line.extend_from_slice(b"\":");
            if value.is_empty() {
                self.line.extend_from_slice(b"null");
            } else if is_bare(column.ty, value) {
                self.line.extend_from_slice(value);
            } else {
                let text = String::from_utf8_lossy(value);
                serde_json::to_writer(&mut self.line, text.as_ref())
                    .map_err(|e| json_error(&self.path, e))?;
            }
        }
        self.line.push(b'}');
        Ok(())
    }

    fn flush_line(&mut self) -> Result<(), GenerateError> {
        self.line.push(b'\n');
        self.rows += 1;
        self.out
            .write_all(&self.line)
            .map_err(|e| io_error(&self.path, e))
    }
}

impl RowSink for JsonlSink {
    fn write_row(&mut self, row: &FieldBuf) -> Result<(), GenerateError> {
        self.render(row)?;
        self.flush_line()
    }

    fn write_malformed(&mut self, row: &FieldBuf, _extra_field: bool) -> Result<(), GenerateError> {
        self.render(row)?;
        // Cut at a character boundary so the line stays valid UTF-8 (broken JSON only).
        let mut cut = self.line.len() / 2;
        while cut > 1 && (self.line[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        self.line.truncate(cut.max(1));
        self.flush_line()
    }

    fn rows(&self) -> u64 {
        self.rows
    }

    fn finish(mut self) -> Result<Vec<PathBuf>, GenerateError> {
        self.out.flush().map_err(|e| io_error(&self.path, e))?;
        Ok(vec![self.path])
    }
}

/// Whether `value` of a column of type `ty` is written bare, as a JSON number or boolean;
/// text, codes, dates and timestamps are always JSON strings.
fn is_bare(ty: ColumnType, value: &[u8]) -> bool {
    match ty {
        ColumnType::Int | ColumnType::Decimal { .. } => is_number(value),
        ColumnType::Bool => value == b"true" || value == b"false",
        ColumnType::Text
        | ColumnType::Code(_)
        | ColumnType::Country
        | ColumnType::Currency
        | ColumnType::Date
        | ColumnType::Timestamp => false,
    }
}

fn is_number(value: &[u8]) -> bool {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    let mut parts = digits.splitn(2, |&b| b == b'.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    !whole.is_empty()
        && whole.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// Exact counts of one entity, as `expected.json` states them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct EntityCounts {
    /// Data rows written (header excluded), bad rows included.
    pub raw_rows: u64,
    /// Rows an ingestion following the contract accepts.
    pub accepted: u64,
    /// Rows it quarantines, per rule id.
    pub quarantined: BTreeMap<&'static str, u64>,
}

impl EntityCounts {
    fn new(raw_rows: u64, quarantined: BTreeMap<&'static str, u64>) -> Self {
        let bad: u64 = quarantined.values().sum();
        Self {
            raw_rows,
            accepted: raw_rows - bad,
            quarantined,
        }
    }
}

/// The files and counts of one finished entity.
#[derive(Debug)]
pub(crate) struct Written {
    pub entity: Entity,
    pub files: Vec<PathBuf>,
    pub counts: EntityCounts,
}

/// Writes an entity's valid rows, batch by batch, and the planted bad rows between them.
pub(crate) struct EntityWriter<S> {
    entity: Entity,
    sink: S,
    planter: Planter,
    row: FieldBuf,
}

impl<S: RowSink> EntityWriter<S> {
    pub(crate) fn new(entity: Entity, sink: S, planter: Planter) -> Self {
        Self {
            entity,
            sink,
            planter,
            row: FieldBuf::default(),
        }
    }

    pub(crate) fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// An upper bound of the bad rows the next batch of `rows` valid rows can bring.
    pub(crate) fn max_defects(&self, rows: usize) -> u64 {
        self.planter.max_defects(rows)
    }

    /// Renders and writes `items` in order; bad rows go right after the valid row they are
    /// derived from.
    pub(crate) fn write_batch<T>(
        &mut self,
        items: &[T],
        mut render: impl FnMut(&T, &mut FieldBuf),
    ) -> Result<(), GenerateError> {
        self.planter.begin_batch(items.len());
        for (i, item) in items.iter().enumerate() {
            self.row.clear();
            render(item, &mut self.row);
            self.sink.write_row(&self.row)?;
            self.planter.after_row(i, &self.row, &mut self.sink)?;
        }
        Ok(())
    }

    /// Flushes the sink and returns the entity's files and exact counts.
    pub(crate) fn close(self) -> Result<Written, GenerateError> {
        let counts = EntityCounts::new(self.sink.rows(), self.planter.into_counts());
        Ok(Written {
            entity: self.entity,
            files: self.sink.finish()?,
            counts,
        })
    }
}
