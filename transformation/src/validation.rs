//! A rule engine over record batches: declared data-quality rules, each with an id, a
//! severity and a message, evaluated batch by batch.
//!
//! Ingestion runs an entity's configured rules after the contract's own (typing,
//! bounds, codes, dates) and before its key checks; rejected rows go to the quarantine
//! under the rule's id, warnings are counted. Every check but `unique` compiles once
//! into a DataFusion physical expression, so a batch is judged column-wise, never row
//! by row.
//!
//! A rule is judged like an SQL `CHECK` constraint: a row breaks it when its
//! condition is false; a null condition (a null value under `range`, say) passes.
//! Use `not_null` where a value is needed.
//!
//! In TOML, one table per rule, with exactly one check:
//!
//! ```toml
//! [[entities.transactions.rules]]
//! id = "amount_limit"
//! severity = "reject"                 # reject | warn
//! range = { column = "amount", max = 250000 }
//! message = "above the bank's single-transaction limit"
//!
//! [[entities.transactions.rules]]
//! id = "value_date_after_booking"
//! severity = "warn"
//! sql = "value_date >= CAST(booked_at AS DATE)"
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, SortField};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::sql::{quote_ident, quote_literal};

/// What happens to a row that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is rejected (quarantined under the rule's id).
    Reject,
    /// The row is kept; the break is counted.
    Warn,
}

/// A bound of a `range` check: a number, or text for dates and timestamps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    /// An integer.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// Text that the column's type parses (`"2020-01-01"`).
    Text(String),
}

impl Bound {
    fn sql(&self) -> String {
        match self {
            Bound::Int(n) => n.to_string(),
            Bound::Float(x) => format!("{x:?}"),
            Bound::Text(t) => quote_literal(t),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Int(n) => write!(f, "{n}"),
            Bound::Float(x) => write!(f, "{x}"),
            Bound::Text(t) => f.write_str(t),
        }
    }
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The column has a value.
    NotNull(String),
    /// The column's value is one of these (compared as text).
    AcceptedValues {
        /// The column.
        column: String,
        /// The accepted values.
        values: Vec<String>,
    },
    /// The column's value lies within the bounds (both included; either may be absent).
    Range {
        /// The column.
        column: String,
        /// The lowest accepted value.
        min: Option<Bound>,
        /// The highest accepted value.
        max: Option<Bound>,
    },
    /// The column's text matches the regular expression (anywhere: anchor it with
    /// `^…$` to match the whole value).
    Regex {
        /// The column.
        column: String,
        /// The pattern (Rust `regex` syntax).
        pattern: String,
    },
    /// No two rows (within the data the validator sees) share these columns' values.
    /// Rows with a null in them are not compared. The first row wins.
    Unique(Vec<String>),
    /// An SQL predicate over the row's columns (cross-column checks, custom rules).
    Sql(String),
}

impl Check {
    /// The column the check is about, where there is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Check::NotNull(column)
            | Check::AcceptedValues { column, .. }
            | Check::Range { column, .. }
            | Check::Regex { column, .. } => Some(column),
            Check::Unique(columns) => columns.first().map(String::as_str),
            Check::Sql(_) => None,
        }
    }

    /// The predicate a passing row satisfies, as SQL (`None` for `unique`).
    fn predicate(&self) -> Option<String> {
        Some(match self {
            Check::NotNull(column) => format!("{} IS NOT NULL", quote_ident(column)),
            Check::AcceptedValues { column, values } => format!(
                "CAST({} AS VARCHAR) IN ({})",
                quote_ident(column),
                values
                    .iter()
                    .map(|v| quote_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Check::Range { column, min, max } => {
                let column = quote_ident(column);
                let mut terms: Vec<String> = Vec::new();
                if let Some(min) = min {
                    terms.push(format!("{column} >= {}", min.sql()));
                }
                if let Some(max) = max {
                    terms.push(format!("{column} <= {}", max.sql()));
                }
                if terms.is_empty() {
                    "true".into()
                } else {
                    terms.join(" AND ")
                }
            }
            Check::Regex { column, pattern } => format!(
                "regexp_like(CAST({} AS VARCHAR), {})",
                quote_ident(column),
                quote_literal(pattern)
            ),
            Check::Unique(_) => return None,
            Check::Sql(sql) => format!("({sql})"),
        })
    }

    /// What a passing row satisfies, in words.
    fn describe(&self) -> String {
        match self {
            Check::NotNull(column) => format!("{column} is required"),
            Check::AcceptedValues { column, values } => {
                format!("{column} must be one of {}", values.join(", "))
            }
            Check::Range { column, min, max } => match (min, max) {
                (Some(min), Some(max)) => format!("{column} must be between {min} and {max}"),
                (Some(min), None) => format!("{column} must be at least {min}"),
                (None, Some(max)) => format!("{column} must be at most {max}"),
                (None, None) => format!("{column} has no bounds"),
            },
            Check::Regex { column, pattern } => format!("{column} must match {pattern}"),
            Check::Unique(columns) => format!("{} must be unique", columns.join(", ")),
            Check::Sql(sql) => format!("rows must satisfy {sql}"),
        }
    }
}

impl Check {
    /// A query over `table` that returns the rows breaking the check (for `unique`,
    /// one row per repeated value, with its count): what a data-quality check of a
    /// whole table runs, with the same definition as validation's.
    pub fn failing_rows_sql(&self, table: &str) -> String {
        let table = quote_ident(table);
        match (self, self.predicate()) {
            (Check::Unique(columns), _) => {
                let columns = columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "SELECT {columns}, count(*) AS repeated FROM {table} \
                     GROUP BY {columns} HAVING count(*) > 1"
                )
            }
            // A null passes every check but not_null, as in validation.
            (Check::NotNull(_), Some(predicate)) => {
                format!("SELECT * FROM {table} WHERE NOT ({predicate})")
            }
            (check, Some(predicate)) => {
                let column = check
                    .column()
                    .map(|c| format!("{} IS NOT NULL AND ", quote_ident(c)))
                    .unwrap_or_default();
                format!("SELECT * FROM {table} WHERE {column}NOT ({predicate})")
            }
            (_, None) => format!("SELECT * FROM {table} WHERE false"),
        }
    }
}

/// A check as written in TOML, exactly one of its fields set: `not_null = "column"`,
/// `accepted_values = { column, values }`, `range = { column, min, max }`,
/// `regex = { column, pattern }`, `unique = ["column", …]`, `sql = "predicate"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    not_null: Option<String>,
    accepted_values: Option<ColumnValues>,
    range: Option<ColumnRange>,
    regex: Option<ColumnPattern>,
    unique: Option<Vec<String>>,
    sql: Option<String>,
}

impl TryFrom<CheckSpec> for Check {
    type Error = String;

    fn try_from(raw: CheckSpec) -> Result<Check, String> {
        let mut checks = Vec::new();
        if let Some(column) = raw.not_null {
            checks.push(Check::NotNull(column));
        }
        if let Some(ColumnValues { column, values }) = raw.accepted_values {
            checks.push(Check::AcceptedValues { column, values });
        }
        if let Some(ColumnRange { column, min, max }) = raw.range {
            checks.push(Check::Range { column, min, max });
        }
        if let Some(ColumnPattern { column, pattern }) = raw.regex {
            checks.push(Check::Regex { column, pattern });
        }
        if let Some(columns) = raw.unique {
            checks.push(Check::Unique(columns));
        }
        if let Some(sql) = raw.sql {
            checks.push(Check::Sql(sql));
        }
        if checks.len() != 1 {
            return Err(format!(
                "needs exactly one check of not_null, accepted_values, range, regex, unique, sql (it has {})",
                checks.len()
            ));
        }
        Ok(checks.remove(0))
    }
}

/// One declared rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RuleToml")]
pub struct Rule {
    /// A stable id (what the quarantine's `rule_id` and the reports carry).
    pub id: String,
    /// Reject the row, or only count it.
    pub severity: Severity,
    /// What the rule checks.
    pub check: Check,
    /// The reason given for a breaking row (a description of the check by default).
    pub message: Option<String>,
}

impl Rule {
    /// The reason given for a row that breaks the rule.
    pub fn reason(&self) -> String {
        self.message
            .clone()
            .unwrap_or_else(|| self.check.describe())
    }
}

/// A rule as written in TOML: `id`, `severity`, `message` and exactly one check.
/// The check's fields repeat [`CheckSpec`]'s rather than `#[serde(flatten)]` it:
/// serde ignores `deny_unknown_fields` under `flatten`, and a typo must be an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    id: String,
    severity: Severity,
    message: Option<String>,
    not_null: Option<String>,
    accepted_values: Option<ColumnValues>,
    range: Option<ColumnRange>,
    regex: Option<ColumnPattern>,
    unique: Option<Vec<String>>,
    sql: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnValues {
    column: String,
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnRange {
    column: String,
    min: Option<Bound>,
    max: Option<Bound>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnPattern {
    column: String,
    pattern: String,
}

impl TryFrom<RuleToml> for Rule {
    type Error = String;

    fn try_from(raw: RuleToml) -> Result<Rule, String> {
        let spec = CheckSpec {
            not_null: raw.not_null,
            accepted_values: raw.accepted_values,
            range: raw.range,
            regex: raw.regex,
            unique: raw.unique,
            sql: raw.sql,
        };
        let id = raw.id;
        let check = Check::try_from(spec).map_err(|message| format!("rule `{id}` {message}"))?;
        Ok(Rule {
            id,
            severity: raw.severity,
            check,
            message: raw.message,
        })
    }
}

/// Why rules could not be compiled or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// A rule does not compile against the data's columns.
    #[error("rule `{rule}`: {message} (columns: {available})")]
    Compile {
        /// The rule's id.
        rule: String,
        /// What is wrong.
        message: String,
        /// The columns the data has.
        available: String,
    },
    /// Evaluating a rule on a batch failed.
    #[error("rule `{rule}`: {message}")]
    Evaluate {
        /// The rule's id.
        rule: String,
        /// What went wrong.
        message: String,
    },
}

/// How one rule is judged.
enum Judge {
    Predicate(Arc<dyn PhysicalExpr>),
    Unique {
        columns: Vec<usize>,
        converter: RowConverter,
        seen: HashSet<u128>,
    },
}

/// The outcome of a batch: per row, the first rejecting rule it breaks (an index
/// into [`Validator::rules`]); per rule, the rows that broke it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Per row: the index of the first `reject` rule it breaks, if any.
    pub rejected_by: Vec<Option<usize>>,
    /// Per rule: how many of the judged rows broke it (warnings included).
    pub broken: Vec<u64>,
}

/// Rules compiled against one schema, ready to judge its batches.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int32Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use transformation::validation::{Check, Rule, Severity, Validator};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("csat", DataType::Int32, true)]));
/// let rules = vec![Rule {
///     id: "csat_scale".into(),
///     severity: Severity::Reject,
///     check: Check::Sql("csat BETWEEN 1 AND 5".into()),
///     message: None,
/// }];
/// let mut validator = Validator::compile(rules, &schema)?;
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![Some(3), Some(9), None]))])?;
/// let verdict = validator.judge(&batch, &[true, true, true])?;
/// assert_eq!(verdict.rejected_by, [None, Some(0), None]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Validator {
    rules: Vec<Rule>,
    judges: Vec<Judge>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Compiles `rules` against `schema`: every column they name must be there, and
    /// every predicate must be valid SQL of a boolean type.
    pub fn compile(rules: Vec<Rule>, schema: &SchemaRef) -> Result<Validator, ValidationError> {
        let ctx = SessionContext::new();
        let available = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let df_schema =
            DFSchema::try_from(schema.as_ref().clone()).map_err(|e| ValidationError::Compile {
                rule: String::new(),
                message: e.to_string(),
                available: available(),
            })?;
        let mut judges = Vec::with_capacity(rules.len());
        for rule in &rules {
            let invalid = |message: String| ValidationError::Compile {
                rule: rule.id.clone(),
                message,
                available: available(),
            };
            let judge = match (&rule.check, rule.check.predicate()) {
                (Check::Unique(names), _) => {
                    let columns = names
                        .iter()
                        .map(|name| {
                            schema
                                .index_of(name)
                                .map_err(|_| invalid(format!("no column `{name}`")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let fields = columns
                        .iter()
                        .map(|&i| SortField::new(schema.field(i).data_type().clone()))
                        .collect();
                    let converter =
                        RowConverter::new(fields).map_err(|e| invalid(e.to_string()))?;
                    Judge::Unique {
                        columns,
                        converter,
                        seen: HashSet::new(),
                    }
                }
                (_, Some(sql)) => {
                    let expr = ctx
                        .parse_sql_expr(&sql, &df_schema)
                        .map_err(|e| invalid(e.to_string()))?;
                    let expr = ctx
                        .create_physical_expr(expr, &df_schema)
                        .map_err(|e| invalid(e.to_string()))?;
                    let ty = expr
                        .data_type(schema.as_ref())
                        .map_err(|e| invalid(e.to_string()))?;
                    if ty != DataType::Boolean {
                        return Err(invalid(format!("`{sql}` is of type {ty}, not boolean")));
                    }
                    Judge::Predicate(expr)
                }
                (_, None) => return Err(invalid("the check has no predicate".into())),
            };
            judges.push(judge);
        }
        Ok(Validator { rules, judges })
    }

    /// The rules, in the order they are judged.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Judges the rows of `batch` for which `eligible` is true (rows already rejected
    /// elsewhere are not judged). Rules run in their declared order; a row rejected by
    /// one is not judged by the later ones, and a `unique` rule only remembers the
    /// rows still kept when it judges them.
    pub fn judge(
        &mut self,
        batch: &RecordBatch,
        eligible: &[bool],
    ) -> Result<Verdict, ValidationError> {
        let rows = batch.num_rows();
        let mut live: Vec<bool> = (0..rows)
            .map(|row| eligible.get(row).copied().unwrap_or(false))
            .collect();
        let mut verdict = Verdict {
            rejected_by: vec![None; rows],
            broken: vec![0; self.rules.len()],
        };
        for (index, (rule, judge)) in self.rules.iter().zip(&mut self.judges).enumerate() {
            let failure = |message: String| ValidationError::Evaluate {
                rule: rule.id.clone(),
                message,
            };
            let breaks: Vec<bool> = match judge {
                Judge::Predicate(expr) => {
                    let value = expr
                        .evaluate(batch)
                        .and_then(|v| v.into_array(rows))
                        .map_err(|e| failure(e.to_string()))?;
                    let passes: &BooleanArray = value
                        .as_boolean_opt()
                        .ok_or_else(|| failure("the check is not boolean".into()))?;
                    (0..rows)
                        .map(|row| live[row] && passes.is_valid(row) && !passes.value(row))
                        .collect()
                }
                Judge::Unique {
                    columns,
                    converter,
                    seen,
                } => {
                    let arrays: Vec<ArrayRef> =
                        columns.iter().map(|&i| batch.column(i).clone()).collect();
                    let keys = converter
                        .convert_columns(&arrays)
                        .map_err(|e| failure(e.to_string()))?;
                    (0..rows)
                        .map(|row| {
                            let has_null = arrays.iter().any(|a| a.is_null(row));
                            live[row] && !has_null && !seen.insert(xxh3_128(keys.row(row).as_ref()))
                        })
                        .collect()
                }
            };
            for (row, broken) in breaks.into_iter().enumerate() {
                if !broken {
                    continue;
                }
                verdict.broken[index] += 1;
                if rule.severity == Severity::Reject {
                    verdict.rejected_by[row] = Some(index);
                    live[row] = false;
                }
            }
        }
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Decimal128Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("amount", DataType::Decimal128(18, 2), true),
            Field::new("opened_on", DataType::Date32, true),
            Field::new("closed_on", DataType::Date32, true),
            Field::new("channel", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![
                Some("a1"),
                Some("a2"),
                Some("a1"),
                None,
            ])),
            Arc::new(
                Decimal128Array::from(vec![Some(1000), Some(-5), None, Some(99_999_999)])
                    .with_precision_and_scale(18, 2)
                    .expect("decimal"),
            ),
            Arc::new(Date32Array::from(vec![
                Some(100),
                Some(100),
                Some(100),
                None,
            ])),
            Arc::new(Date32Array::from(vec![Some(200), Some(50), None, None])),
            Arc::new(StringArray::from(vec![
                Some("atm"),
                Some("card"),
                Some("teleport"),
                None,
            ])),
        ];
        RecordBatch::try_new(schema, columns).expect("batch")
    }

    fn rule(id: &str, severity: Severity, check: Check) -> Rule {
        Rule {
            id: id.into(),
            severity,
            check,
            message: None,
        }
    }

    fn breaks(check: Check) -> Vec<bool> {
        let batch = batch();
        let mut validator =
            Validator::compile(vec![rule("r", Severity::Reject, check)], &batch.schema())
                .expect("compiles");
        let verdict = validator.judge(&batch, &[true; 4]).expect("judged");
        verdict.rejected_by.iter().map(Option::is_some).collect()
    }

    #[test]
    fn each_check_breaks_the_rows_it_should() {
        assert_eq!(
            breaks(Check::NotNull("id".into())),
            [false, false, false, true]
        );
        assert_eq!(
            breaks(Check::AcceptedValues {
                column: "channel".into(),
                values: vec!["atm".into(), "card".into()],
            }),
            [false, false, true, false],
            "a null is not judged"
        );
        assert_eq!(
            breaks(Check::Range {
                column: "amount".into(),
                min: Some(Bound::Int(0)),
                max: Some(Bound::Float(100_000.0)),
            }),
            [false, true, false, true]
        );
        assert_eq!(
            breaks(Check::Range {
                column: "opened_on".into(),
                min: Some(Bound::Text("1970-05-01".into())),
                max: None,
            }),
            [true, true, true, false]
        );
        assert_eq!(
            breaks(Check::Regex {
                column: "id".into(),
                pattern: "^a[0-9]$".into(),
            }),
            [false, false, false, false]
        );
        assert_eq!(
            breaks(Check::Regex {
                column: "channel".into(),
                pattern: "^(atm|card)$".into(),
            }),
            [false, false, true, false]
        );
        assert_eq!(
            breaks(Check::Unique(vec!["id".into()])),
            [false, false, true, false],
            "the first row wins; a null key is not compared"
        );
        assert_eq!(
            breaks(Check::Sql("closed_on >= opened_on".into())),
            [false, true, false, false],
            "cross-column"
        );
    }

    #[test]
    fn warnings_are_counted_and_rejects_stop_later_rules() {
        let batch = batch();
        let mut validator = Validator::compile(
            vec![
                rule(
                    "positive",
                    Severity::Reject,
                    Check::Sql("amount > 0".into()),
                ),
                rule(
                    "known_channel",
                    Severity::Warn,
                    Check::NotNull("channel".into()),
                ),
                rule(
                    "unique_id",
                    Severity::Reject,
                    Check::Unique(vec!["id".into()]),
                ),
            ],
            &batch.schema(),
        )
        .expect("compiles");
        let verdict = validator
            .judge(&batch, &[true, true, true, false])
            .expect("judged");
        assert_eq!(verdict.rejected_by, [None, Some(0), Some(2), None]);
        assert_eq!(verdict.broken, [1, 0, 1], "row 3 is not judged at all");
        // Uniqueness holds across batches.
        let again = validator.judge(&batch, &[true; 4]).expect("judged");
        assert_eq!(again.rejected_by[0], Some(2));
    }

    #[test]
    fn bad_rules_are_refused_with_their_id_and_the_columns() {
        let schema = batch().schema();
        for (check, needle) in [
            (Check::Sql("nope > 1".into()), "nope"),
            (Check::Sql("amount + 1".into()), "not boolean"),
            (Check::Unique(vec!["nope".into()]), "no column `nope`"),
        ] {
            let error = Validator::compile(vec![rule("bad", Severity::Warn, check)], &schema)
                .expect_err("refused")
                .to_string();
            assert!(error.contains("rule `bad`"), "{error}");
            assert!(error.contains(needle), "{error}");
            assert!(error.contains("opened_on"), "{error}");
        }
    }

    #[test]
    fn rules_read_from_toml_with_exactly_one_check() {
        #[derive(Deserialize)]
        struct File {
            rules: Vec<Rule>,
        }
        let file: File = toml::from_str(
            r#"
            [[rules]]
            id = "limit"
            severity = "reject"
            range = { column = "amount", max = 250000 }
            [[rules]]
            id = "order"
            severity = "warn"
            sql = "closed_on >= opened_on"
            message = "closed before opened"
            "#,
        )
        .expect("parses");
        assert_eq!(file.rules[0].reason(), "amount must be at most 250000");
        assert_eq!(file.rules[1].reason(), "closed before opened");
        assert_eq!(file.rules[1].severity, Severity::Warn);
        let two = toml::from_str::<File>(
            "[[rules]]\nid = \"x\"\nseverity = \"warn\"\nsql = \"true\"\nnot_null = \"id\"\n",
        );
        assert!(
            two.err()
                .is_some_and(|e| e.to_string().contains("exactly one check"))
        );
    }
}
