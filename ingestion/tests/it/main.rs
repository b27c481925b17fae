//! Integration tests of the ingestion crate (one binary: see the workspace README).

mod bad_rows;
mod berka;
mod deliveries;
mod robustness;
mod sources;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use contract::Entity;
use ingestion::{EntitySummary, IngestConfig, Ingestor, Output};

/// What one entity's ingestion produced.
pub struct Ingested {
    pub accepted: Vec<RecordBatch>,
    pub quarantined: Vec<RecordBatch>,
    pub summary: EntitySummary,
}

impl Ingested {
    /// The quarantined rows as (line, rule_id, column) triples.
    pub fn rejections(&self) -> Vec<(Option<i64>, String, Option<String>)> {
        let mut out = Vec::new();
        for batch in &self.quarantined {
            let line = batch
                .column_by_name("line")
                .expect("line")
                .as_primitive::<arrow::datatypes::Int64Type>();
            let rule = batch
                .column_by_name("rule_id")
                .expect("rule_id")
                .as_string::<i32>();
            let column = batch
                .column_by_name("column")
                .expect("column")
                .as_string::<i32>();
            for row in 0..batch.num_rows() {
                use arrow::array::Array;
                out.push((
                    line.is_valid(row).then(|| line.value(row)),
                    rule.value(row).to_owned(),
                    column.is_valid(row).then(|| column.value(row).to_owned()),
                ));
            }
        }
        out
    }

    /// Rows accepted.
    pub fn accepted_rows(&self) -> usize {
        self.accepted.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Ingests every entity found under `raw`, as the command does, and checks conservation.
pub fn ingest(raw: &Path, config: IngestConfig) -> BTreeMap<Entity, Ingested> {
    let mut ingestor = Ingestor::new(config, raw, "test-run");
    let mut out = BTreeMap::new();
    for entity in Entity::ALL {
        let Some(mut run) = ingestor.open(entity).expect("open") else {
            continue;
        };
        let (mut accepted, mut quarantined) = (Vec::new(), Vec::new());
        for output in &mut run {
            match output.expect("ingest") {
                Output::Accepted(batch) => accepted.push(batch),
                Output::Quarantined(batch) => quarantined.push(batch),
            }
        }
        let summary = ingestor.finish(run).expect("conservation holds");
        out.insert(
            entity,
            Ingested {
                accepted,
                quarantined,
                summary,
            },
        );
    }
    out
}

/// Writes `files` (name, content) into a new temporary folder.
pub fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).expect("write");
    }
    dir
}
