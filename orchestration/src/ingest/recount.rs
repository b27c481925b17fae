//! An entity's counts told again from its Delta tables, for the ingest summary of a
//! run whose task for it did not run (cached, or reused by a retry): the rows
//! accepted from its processed table, the rows quarantined by rule from its
//! quarantine table, and the rows read as their sum (conservation held when they
//! were written). What only the ingestion saw (values cleaned, warnings, files,
//! references not checked) is not told again.

use std::collections::BTreeMap;

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, UInt64Type};
use contract::{Entity, RuleId};
use ingestion::cleaning::Cleaning;
use ingestion::{EntitySummary, IngestError};
use storage::delta::{self, TableLocation};

use crate::error::Result;
use crate::layout::DataLayout;

/// `entity`'s counts from its tables under `layout` (zero where a table is absent).
pub async fn recount(layout: &DataLayout, entity: Entity) -> Result<EntitySummary> {
    let processed = layout.processed(entity).location()?;
    let mut summary = EntitySummary {
        entity,
        files: Vec::new(),
        raw_rows: 0,
        accepted: delta::count_rows(&processed).await?,
        quarantined: BTreeMap::new(),
        rejected_by_rules: BTreeMap::new(),
        warnings: BTreeMap::new(),
        cleaned: Cleaning::default(),
        unchecked_references: Vec::new(),
    };
    let quarantine = layout.quarantine(entity).location()?;
    for (rule, n) in rule_counts(&quarantine).await? {
        match RuleId::parse(&rule) {
            Some(contract) => *summary.quarantined.entry(contract).or_default() += n,
            None => *summary.rejected_by_rules.entry(rule).or_default() += n,
        }
    }
    summary.raw_rows = summary.accepted + summary.quarantined_total();
    Ok(summary)
}

/// The rows of the quarantine table at `location` by rule id, most first, then by
/// rule (none when there is no table).
pub async fn rule_counts(location: &TableLocation) -> Result<Vec<(String, u64)>> {
    if delta::open(location).await?.is_none() {
        return Ok(Vec::new());
    }
    let sql = "SELECT rule_id, count(*) AS n FROM t GROUP BY rule_id ORDER BY n DESC, rule_id";
    let mut counts = Vec::new();
    for batch in delta::query(location, sql).await? {
        let rules = cast(batch.column(0), &DataType::Utf8).map_err(IngestError::from)?;
        let n = cast(batch.column(1), &DataType::UInt64).map_err(IngestError::from)?;
        let rows = rules
            .as_string::<i32>()
            .iter()
            .zip(n.as_primitive::<UInt64Type>().values());
        counts.extend(rows.map(|(rule, &n)| (rule.unwrap_or_default().to_owned(), n)));
    }
    Ok(counts)
}
