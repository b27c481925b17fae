//! Streaming CSV reader: any separator and quote, a header or none, UTF-8 or another
//! encoding, records spanning lines, and the line number of every record.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use contract::RuleId;
use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::{BATCH_ROWS, RowSource, TextBatch, TextBatchBuilder};
use crate::config::FormatOptions;
use crate::error::{IngestError, Result};
use crate::quarantine::{Quarantine, RejectedBy, Rejection};

const READ_CHUNK: usize = 1 << 20;

/// How the bytes of a field become text.
#[derive(Debug, Clone, Copy)]
enum Decoding {
    Utf8,
    Latin1,
    Other(&'static encoding_rs::Encoding),
}

impl Decoding {
    fn from_label(label: &str) -> Option<Decoding> {
        match label.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Decoding::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" => Some(Decoding::Latin1),
            other => encoding_rs::Encoding::for_label(other.as_bytes()).map(Decoding::Other),
        }
    }

    /// The text of `bytes`, or `None` where they are not valid in this encoding.
    fn decode<'a>(self, bytes: &'a [u8]) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            Decoding::Utf8 => std::str::from_utf8(bytes).ok().map(Into::into),
            Decoding::Latin1 => Some(
                bytes
                    .iter()
                    .map(|&b| char::from(b))
                    .collect::<String>()
                    .into(),
            ),
            Decoding::Other(encoding) => {
                encoding.decode_without_bom_handling_and_without_replacement(bytes)
            }
        }
    }
}

/// One record as read: its fields' bytes and where it starts.
struct RawRecord {
    first_line: i64,
    n_fields: usize,
    fields: Vec<u8>,
    ends: Vec<usize>,
    raw: Vec<u8>,
}

impl RawRecord {
    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.fields[start..self.ends[i]]
    }
}

/// Reads one CSV file as batches of text.
pub struct CsvSource {
    file: Arc<str>,
    input: Box<dyn Read + Send>,
    reader: Reader,
    decoding: Decoding,
    buf: Vec<u8>,
    buf_start: usize,
    buf_end: usize,
    eof: bool,
    newlines_before: i64,
    record: RawRecord,
    builder: TextBatchBuilder,
    first_row_pending: bool,
    records: u64,
}

impl CsvSource {
    /// Opens `path` and reads its header (when `options.has_header`).
    pub fn open(path: &Path, options: &FormatOptions) -> Result<CsvSource> {
        let io = |source| IngestError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        CsvSource::from_reader(&path.display().to_string(), Box::new(file), options)
    }

    /// Reads CSV from any reader; `name` stands for the file in lineage and errors.
    pub fn from_reader(
        name: &str,
        input: Box<dyn Read + Send>,
        options: &FormatOptions,
    ) -> Result<CsvSource> {
        let source_error = |message: String| IngestError::Source {
            path: name.into(),
            message,
        };
        let decoding = Decoding::from_label(&options.encoding)
            .ok_or_else(|| source_error(format!("unknown encoding '{}'", options.encoding)))?;
        let mut reader = ReaderBuilder::new();
        reader
            .delimiter(options.delimiter as u8)
            .quote(options.quote as u8);
        let mut source = CsvSource {
            file: name.into(),
            input,
            reader: reader.build(),
            decoding,
            buf: vec![0; READ_CHUNK],
            buf_start: 0,
            buf_end: 0,
            eof: false,
            newlines_before: 0,
            record: RawRecord {
                first_line: 0,
                n_fields: 0,
                fields: vec![0; 4096],
                ends: vec![0; 64],
                raw: Vec::new(),
            },
            builder: TextBatchBuilder::new(&[]),
            first_row_pending: false,
            records: 0,
        };
        let names = if options.has_header {
            source.read_header()?
        } else {
            source.peek_width()?
        };
        source.builder = TextBatchBuilder::new(&names);
        // Without a header, the record that gave the width is the first row.
        source.first_row_pending = !options.has_header && !names.is_empty();
        Ok(source)
    }

    fn read_header(&mut self) -> Result<Vec<String>> {
        if !self.read_record()? {
            return Ok(Vec::new());
        }
        let record = &self.record;
        (0..record.n_fields)
            .map(|i| {
                let text =
                    self.decoding
                        .decode(record.field(i))
                        .ok_or_else(|| IngestError::Source {
                            path: self.file.to_string().into(),
                            message: format!(
                                "the header's field {} is not valid {:?} text",
                                i + 1,
                                self.decoding
                            ),
                        })?;
                Ok(text.trim_start_matches('\u{feff}').trim().to_owned())
            })
            .collect()
    }

    /// Without a header, the first record's width names the columns `column_1…`; the
    /// record itself is kept as the first row.
    fn peek_width(&mut self) -> Result<Vec<String>> {
        if !self.read_record()? {
            return Ok(Vec::new());
        }
        let names: Vec<String> = (1..=self.record.n_fields)
            .map(|i| format!("column_{i}"))
            .collect();
        Ok(names)
    }

    fn refill(&mut self) -> Result<()> {
        let read = self
            .input
            .read(&mut self.buf)
            .map_err(|source| IngestError::Io {
                path: self.file.to_string().into(),
                source,
            })?;
        self.buf_start = 0;
        self.buf_end = read;
        self.eof = read == 0;
        Ok(())
    }

    /// Reads the next record into `self.record`; false at the end of the input.
    fn read_record(&mut self) -> Result<bool> {
        self.record.raw.clear();
        let (mut out_len, mut ends_len) = (0, 0);
        loop {
            if self.buf_start == self.buf_end && !self.eof {
                self.refill()?;
            }
            let record = &mut self.record;
            let input = &self.buf[self.buf_start..self.buf_end];
            let (result, n_in, n_out, n_ends) = self.reader.read_record(
                input,
                &mut record.fields[out_len..],
                &mut record.ends[ends_len..],
            );
            record.raw.extend_from_slice(&input[..n_in]);
            self.buf_start += n_in;
            out_len += n_out;
            ends_len += n_ends;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => record.fields.resize(record.fields.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => record.ends.resize(record.ends.len() * 2, 0),
                ReadRecordResult::Record => {
                    let leading = record.raw.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
                    let leading_newlines = leading.filter(|&&b| b == b'\n').count() as i64;
                    record.first_line = self.newlines_before + leading_newlines + 1;
                    self.newlines_before +=
                        record.raw.iter().filter(|&&b| b == b'\n').count() as i64;
                    record.n_fields = ends_len;
                    let blank = ends_len == 1 && out_len == 0;
                    if blank {
                        // An empty line is no record; keep counting lines.
                        record.raw.clear();
                        ends_len = 0;
                        out_len = 0;
                        continue;
                    }
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }

    /// Checks the record in `self.record` and adds it to the batch or the quarantine.
    fn take_record(&mut self, quarantine: &mut Quarantine) {
        self.records += 1;
        let record = &self.record;
        let width = self.builder.width();
        let reject = |rule, column: Option<&str>, reason: &str, quarantine: &mut Quarantine| {
            let raw = String::from_utf8_lossy(trim_end_of_line(&record.raw));
            let line = Some(record.first_line);
            quarantine.push(Rejection {
                file: &self.file,
                line,
                raw: &raw,
                rule: RejectedBy::Contract(rule),
                column,
                reason,
            });
        };
        if record.n_fields != width {
            let reason = format!("{} fields where the header has {width}", record.n_fields);
            return reject(RuleId::MalformedRecord, None, &reason, quarantine);
        }
        let decoding = self.decoding;
        let fields: Vec<_> = (0..width)
            .map(|i| decoding.decode(record.field(i)))
            .collect();
        if let Some(bad) = fields.iter().position(Option::is_none) {
            let name = self.builder.column_name(bad);
            let reason = format!("{name} is not valid {decoding:?} text");
            return reject(RuleId::InvalidEncoding, Some(&name), &reason, quarantine);
        }
        let raw = String::from_utf8_lossy(trim_end_of_line(&record.raw));
        self.builder.push(
            fields.iter().map(|f| f.as_deref()),
            Some(record.first_line),
            &raw,
        );
    }
}

fn trim_end_of_line(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    &raw[start..end.max(start)]
}

impl RowSource for CsvSource {
    fn next_batch(&mut self, quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        if std::mem::take(&mut self.first_row_pending) {
            self.take_record(quarantine);
        }
        while self.builder.rows() < BATCH_ROWS {
            if !self.read_record()? {
                break;
            }
            self.take_record(quarantine);
        }
        if self.builder.rows() == 0 {
            return Ok(None);
        }
        self.builder.finish(&self.file).map(Some)
    }

    fn records_read(&self) -> u64 {
        self.records
    }
}
