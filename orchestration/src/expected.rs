//! Compares an ingestion with the counts the generator planted (`_generator/expected.json`).

use std::collections::BTreeMap;
use std::path::Path;

use ingestion::EntitySummary;
use serde::Deserialize;

/// The generator's expected counts of one entity.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Expected {
    /// Data rows written.
    pub raw_rows: u64,
    /// Rows that ingestion must accept.
    pub accepted: u64,
    /// Rows that ingestion must quarantine, by rule id.
    pub quarantined: BTreeMap<String, u64>,
}

/// Reads `expected.json`: expected counts by entity name.
pub fn read(path: &Path) -> crate::Result<BTreeMap<String, Expected>> {
    let io = |source| crate::PipelineError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    serde_json::from_str(&text)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Every difference between what ingestion counted and what was expected.
pub fn differences(
    expected: &BTreeMap<String, Expected>,
    summaries: &[EntitySummary],
) -> Vec<String> {
    let mut differences = Vec::new();
    for (name, want) in expected {
        let Some(got) = summaries.iter().find(|s| s.entity.name() == name) else {
            differences.push(format!("{name}: not ingested"));
            continue;
        };
        let quarantined: BTreeMap<String, u64> = got
            .quarantined
            .iter()
            .map(|(rule, n)| (rule.as_str().to_owned(), *n))
            .collect();
        let want_quarantined: BTreeMap<String, u64> = want
            .quarantined
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if got.raw_rows != want.raw_rows
            || got.accepted != want.accepted
            || quarantined != want_quarantined
        {
            differences.push(format!(
                "{name}: read {} accepted {} quarantined {quarantined:?}, expected read {} accepted {} quarantined {want_quarantined:?}",
                got.raw_rows, got.accepted, want.raw_rows, want.accepted
            ));
        }
    }
    differences
}
