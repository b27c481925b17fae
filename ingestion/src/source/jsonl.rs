//! JSON Lines reader: one object per line, values read as text.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use contract::RuleId;
use serde_json::{Map, Value};

use super::{BATCH_ROWS, RowSource, TextBatch, TextBatchBuilder};
use crate::error::{IngestError, Result};
use crate::quarantine::{Quarantine, RejectedBy, Rejection};

/// Reads one JSON Lines file as batches of text.
///
/// The columns of a batch are the keys of its objects, in order of first
/// appearance; a key absent from an object is null. Strings are taken as they are,
/// numbers and booleans as their JSON text, nested values as JSON.
pub struct JsonlSource {
    file: Arc<str>,
    input: BufReader<Box<dyn Read + Send>>,
    line: i64,
    records: u64,
    eof: bool,
}

impl JsonlSource {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<JsonlSource> {
        let file = File::open(path).map_err(|source| IngestError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(JsonlSource::from_reader(
            &path.display().to_string(),
            Box::new(file),
        ))
    }

    /// Reads JSON Lines from any reader; `name` stands for the file.
    pub fn from_reader(name: &str, input: Box<dyn Read + Send>) -> JsonlSource {
        JsonlSource {
            file: name.into(),
            input: BufReader::new(input),
            line: 0,
            records: 0,
            eof: false,
        }
    }

    fn reject(&self, quarantine: &mut Quarantine, raw: &str, rule: RuleId, reason: &str) {
        let line = Some(self.line);
        quarantine.push(Rejection {
            file: &self.file,
            line,
            raw,
            rule: RejectedBy::Contract(rule),
            column: None,
            reason,
        });
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl RowSource for JsonlSource {
    fn next_batch(&mut self, quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        let mut rows: Vec<(i64, String, Map<String, Value>)> = Vec::new();
        let mut bytes = Vec::new();
        while rows.len() < BATCH_ROWS && !self.eof {
            bytes.clear();
            let read =
                self.input
                    .read_until(b'\n', &mut bytes)
                    .map_err(|source| IngestError::Io {
                        path: self.file.to_string().into(),
                        source,
                    })?;
            if read == 0 {
                self.eof = true;
                break;
            }
            self.line += 1;
            let Ok(text) = std::str::from_utf8(&bytes) else {
                self.records += 1;
                let raw = String::from_utf8_lossy(&bytes);
                self.reject(
                    quarantine,
                    raw.trim_end(),
                    RuleId::InvalidEncoding,
                    "the line is not valid UTF-8",
                );
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            self.records += 1;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(object)) => rows.push((self.line, text.to_owned(), object)),
                Ok(_) => self.reject(
                    quarantine,
                    text,
                    RuleId::MalformedRecord,
                    "the line is JSON but not an object",
                ),
                Err(e) => {
                    let reason = format!("the line is not valid JSON: {e}");
                    self.reject(quarantine, text, RuleId::MalformedRecord, &reason);
                }
            }
        }
        if rows.is_empty() {
            return Ok(None);
        }
        let mut names: Vec<String> = Vec::new();
        for (_, _, object) in &rows {
            for key in object.keys() {
                if !names.contains(key) {
                    names.push(key.clone());
                }
            }
        }
        let mut builder = TextBatchBuilder::new(&names);
        for (line, raw, object) in &rows {
            let values: Vec<Option<String>> = names
                .iter()
                .map(|n| object.get(n).and_then(as_text))
                .collect();
            builder.push(values.iter().map(Option::as_deref), Some(*line), raw);
        }
        builder.finish(&self.file).map(Some)
    }

    fn records_read(&self) -> u64 {
        self.records
    }
}
