//! Collects what every entity wrote and produces `_generator/expected.json` and the run's
//! [`GenerateSummary`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::context::Ctx;
use super::writer::{EntityCounts, Written, write_json};
use super::{GenerateError, GenerateSummary};

/// The files and exact counts of a run so far.
#[derive(Default)]
pub(crate) struct Run {
    files: Vec<PathBuf>,
    expected: BTreeMap<&'static str, EntityCounts>,
}

impl Run {
    pub(crate) fn add(&mut self, written: Written) {
        self.files.extend(written.files);
        self.expected.insert(written.entity.name(), written.counts);
    }

    pub(crate) fn add_files(&mut self, files: Vec<PathBuf>) {
        self.files.extend(files);
    }

    /// Writes `expected.json` and returns the summary.
    pub(crate) fn finish(mut self, ctx: &Ctx) -> Result<GenerateSummary, GenerateError> {
        let path = ctx.generator_dir().join("expected.json");
        write_json(&path, &self.expected)?;
        self.files.push(path);
        Ok(GenerateSummary {
            files: self.files,
            rows: self
                .expected
                .iter()
                .map(|(entity, counts)| (entity.to_string(), counts.raw_rows))
                .collect(),
        })
    }
}
