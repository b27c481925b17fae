//! A set of files read one after the other as one source.

use std::path::{Path, PathBuf};

use super::{CsvSource, JsonlSource, ParquetSource, RowSource, TextBatch};
use crate::config::{Format, FormatOptions};
use crate::error::{IngestError, Result};
use crate::quarantine::Quarantine;

/// The files matching some glob patterns, read as one source, newest delivery first.
///
/// Each file is a delivery, and file names sort in delivery order (dated names such
/// as `transactions_2026-11-24.csv` do), so the set reads them in reverse name order:
/// a key delivered again later is met first in its latest form.
pub struct FileSet {
    files: Vec<PathBuf>,
    next_file: usize,
    format: Option<Format>,
    options: FormatOptions,
    current: Option<Box<dyn RowSource>>,
    records_done: u64,
}

impl FileSet {
    /// The files under `dir` matching `patterns` (relative to `dir`, or absolute),
    /// in reverse name order. No match is not an error: the set is empty.
    pub fn new(
        dir: &Path,
        patterns: &[String],
        format: Option<Format>,
        options: FormatOptions,
    ) -> Result<FileSet> {
        let mut files = Vec::new();
        for pattern in patterns {
            let full = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                dir.join(pattern)
            };
            let full = full.to_string_lossy().into_owned();
            let paths = glob::glob(&full).map_err(|e| IngestError::Source {
                path: full.clone().into(),
                message: format!("not a valid file pattern: {e}"),
            })?;
            for path in paths {
                let path = path.map_err(|e| IngestError::Io {
                    path: e.path().to_owned(),
                    source: e.into(),
                })?;
                if path.is_file() && !files.contains(&path) {
                    files.push(path);
                }
            }
        }
        files.sort_by(|a, b| b.cmp(a));
        Ok(FileSet {
            files,
            next_file: 0,
            format,
            options,
            current: None,
            records_done: 0,
        })
    }

    /// The matching files, in the order they are read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn open(&self, path: &Path) -> Result<Box<dyn RowSource>> {
        Ok(
            match self.format.unwrap_or_else(|| Format::from_path(path)) {
                Format::Csv => Box::new(CsvSource::open(path, &self.options)?),
                Format::Jsonl => Box::new(JsonlSource::open(path)?),
                Format::Parquet => Box::new(ParquetSource::open(path)?),
            },
        )
    }
}

impl RowSource for FileSet {
    fn next_batch(&mut self, quarantine: &mut Quarantine) -> Result<Option<TextBatch>> {
        loop {
            if let Some(current) = &mut self.current {
                if let Some(batch) = current.next_batch(quarantine)? {
                    return Ok(Some(batch));
                }
                self.records_done += current.records_read();
                self.current = None;
            }
            let Some(path) = self.files.get(self.next_file) else {
                return Ok(None);
            };
            self.current = Some(self.open(path)?);
            self.next_file += 1;
        }
    }

    fn records_read(&self) -> u64 {
        self.records_done + self.current.as_ref().map_or(0, |c| c.records_read())
    }
}
