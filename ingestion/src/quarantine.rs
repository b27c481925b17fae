//! The quarantine: every rejected row, with where it came from and why.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::compute::concat_batches;
use contract::{RuleId, schema::quarantine_schema};

/// One rejected row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection<'a> {
    /// The file it came from (`query:<entity>` for rows built by a query).
    pub file: &'a str,
    /// Its first line in that file, 1-based with the header as line 1.
    pub line: Option<i64>,
    /// The record as it was delivered.
    pub raw: &'a str,
    /// The first rule it breaks.
    pub rule: RejectedBy<'a>,
    /// The column at fault, where one is.
    pub column: Option<&'a str>,
    /// A sentence a person understands.
    pub reason: &'a str,
}

/// The rule a row is quarantined under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedBy<'a> {
    /// One of the contract's rules.
    Contract(RuleId),
    /// A configured validation rule, by id.
    Configured(&'a str),
}

/// Collects rejected rows of one entity into quarantine batches and counts them by rule.
#[derive(Debug)]
pub struct Quarantine {
    entity: &'static str,
    run_id: String,
    file: StringBuilder,
    line: Int64Builder,
    raw: StringBuilder,
    rule: StringBuilder,
    column: StringBuilder,
    reason: StringBuilder,
    rows: usize,
    /// Batches taken over from other quarantines ([`Quarantine::absorb`]), and their rows.
    absorbed: Vec<RecordBatch>,
    absorbed_rows: usize,
    counts: BTreeMap<RuleId, u64>,
    configured: BTreeMap<String, u64>,
}

impl Quarantine {
    /// An empty quarantine for `entity`, stamping rows with `run_id`.
    pub fn new(entity: &'static str, run_id: &str) -> Quarantine {
        Quarantine {
            entity,
            run_id: run_id.to_owned(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
            raw: StringBuilder::new(),
            rule: StringBuilder::new(),
            column: StringBuilder::new(),
            reason: StringBuilder::new(),
            rows: 0,
            absorbed: Vec::new(),
            absorbed_rows: 0,
            counts: BTreeMap::new(),
            configured: BTreeMap::new(),
        }
    }

    /// Adds a rejected row.
    pub fn push(&mut self, row: Rejection<'_>) {
        self.file.append_value(row.file);
        self.line.append_option(row.line);
        self.raw.append_value(row.raw);
        match row.rule {
            RejectedBy::Contract(rule) => {
                self.rule.append_value(rule.as_str());
                *self.counts.entry(rule).or_default() += 1;
            }
            RejectedBy::Configured(id) => {
                self.rule.append_value(id);
                *self.configured.entry(id.to_owned()).or_default() += 1;
            }
        }
        self.column.append_option(row.column);
        self.reason.append_value(row.reason);
        self.rows += 1;
    }

    /// Takes over `other`'s rows and counts (a quarantine filled on another thread,
    /// e.g. by a source reading ahead).
    pub fn absorb(&mut self, mut other: Quarantine) -> Result<(), arrow::error::ArrowError> {
        if let Some(batch) = other.take_batch()? {
            self.absorbed_rows += batch.num_rows();
            self.absorbed.push(batch);
        }
        for (rule, rows) in other.counts {
            *self.counts.entry(rule).or_default() += rows;
        }
        for (rule, rows) in other.configured {
            *self.configured.entry(rule).or_default() += rows;
        }
        Ok(())
    }

    /// Rows waiting to be taken as a batch.
    pub fn pending(&self) -> usize {
        self.rows + self.absorbed_rows
    }

    /// Rows quarantined so far under the contract's rules, by rule.
    pub fn counts(&self) -> &BTreeMap<RuleId, u64> {
        &self.counts
    }

    /// Rows quarantined so far under configured rules, by rule id.
    pub fn configured_counts(&self) -> &BTreeMap<String, u64> {
        &self.configured
    }

    /// Takes the pending rows as a batch of the quarantine schema, if there are any.
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let mut batches = std::mem::take(&mut self.absorbed);
        self.absorbed_rows = 0;
        batches.extend(self.take_own_batch()?);
        match batches.len() {
            0 => Ok(None),
            1 => Ok(batches.pop()),
            _ => concat_batches(&quarantine_schema(), &batches).map(Some),
        }
    }

    /// The rows pushed here (not absorbed) as a batch, if there are any.
    fn take_own_batch(&mut self) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let rows = std::mem::take(&mut self.rows);
        let constant = |value: &str| {
            let mut builder = StringBuilder::with_capacity(rows, value.len() * rows);
            (0..rows).for_each(|_| builder.append_value(value));
            Arc::new(builder.finish()) as ArrayRef
        };
        let entity = constant(self.entity);
        let run_id = constant(&self.run_id);
        let columns: Vec<ArrayRef> = vec![
            entity,
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.raw.finish()),
            Arc::new(self.rule.finish()),
            Arc::new(self.column.finish()),
            Arc::new(self.reason.finish()),
            run_id,
        ];
        RecordBatch::try_new(quarantine_schema(), columns).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn batches_carry_every_field_and_counts_by_rule() {
        let mut q = Quarantine::new("transactions", "run-1");
        let row = Rejection {
            file: "t.csv",
            line: Some(3),
            raw: "a,b",
            rule: RejectedBy::Contract(RuleId::MalformedRecord),
            column: None,
            reason: "2 fields, expected 3",
        };
        q.push(row.clone());
        q.push(Rejection {
            rule: RejectedBy::Configured("amount_limit"),
            line: None,
            column: Some("transaction_id"),
            ..row
        });
        let batch = q.take_batch().expect("a valid batch").expect("two rows");
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(4).as_string::<i32>().value(1), "amount_limit");
        assert!(batch.column(2).is_null(1));
        assert_eq!(batch.column(7).as_string::<i32>().value(0), "run-1");
        assert_eq!(q.counts().get(&RuleId::MalformedRecord), Some(&1));
        assert_eq!(q.configured_counts().get("amount_limit"), Some(&1));
        assert!(q.take_batch().expect("no error").is_none());
    }

    #[test]
    fn an_absorbed_quarantine_adds_its_rows_and_counts() {
        let row = |rule| Rejection {
            file: "t.csv",
            line: Some(2),
            raw: "x",
            rule: RejectedBy::Contract(rule),
            column: None,
            reason: "bad",
        };
        let mut main = Quarantine::new("transactions", "run-1");
        main.push(row(RuleId::Duplicate));
        let mut ahead = Quarantine::new("transactions", "run-1");
        ahead.push(row(RuleId::MalformedRecord));
        ahead.push(row(RuleId::MalformedRecord));
        main.absorb(ahead).expect("absorbed");
        assert_eq!(main.pending(), 3);
        assert_eq!(main.counts().get(&RuleId::MalformedRecord), Some(&2));
        assert_eq!(main.counts().get(&RuleId::Duplicate), Some(&1));
        let batch = main.take_batch().expect("a valid batch").expect("rows");
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(main.pending(), 0);
        assert!(main.take_batch().expect("no error").is_none());
    }
}
