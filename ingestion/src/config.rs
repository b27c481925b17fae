//! The TOML configuration that maps a bank's extracts onto the contract.
//!
//! Files that follow the contract need no configuration at all. Any other source
//! is onboarded by configuration only:
//!
//! ```toml
//! raw = "../extracts"              # optional; relative to this file
//!
//! [entities.transactions]
//! files = ["trans*.asc"]           # globs, relative to the raw folder
//! format = "csv"                   # csv | jsonl | parquet (default: from the extension)
//! options = { delimiter = ";", date_formats = ["%y%m%d"] }
//!
//! [entities.transactions.columns]
//! transaction_id = "trans_id"                                   # a source column
//! direction = { sql = "CASE type WHEN 'PRIJEM' THEN 'credit' ELSE 'debit' END" }
//!
//! [sources.disp]                    # a named source, for entities built by a query
//! files = ["disp.asc"]
//! options = { delimiter = ";" }
//!
//! [[entities.transactions.rules]]   # the bank's own validation rules
//! id = "amount_limit"
//! severity = "reject"               # reject | warn
//! range = { column = "amount", max = 250000 }
//!
//! [entities.clients]
//! query = "SELECT c.client_id, … FROM client c JOIN disp d ON …"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use transformation::validation::Rule;

use crate::error::IngestError;
use crate::parse::ValueFormat;

/// The whole ingestion configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// The raw folder, relative to the configuration file; `--raw` overrides it.
    pub raw: Option<PathBuf>,
    /// Named sources that entity queries can read (`FROM name`).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Per entity (by contract name): where its rows come from and how they map.
    #[serde(default)]
    pub entities: BTreeMap<String, EntityConfig>,
}

/// A set of files of one format.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Glob patterns relative to the raw folder (absolute paths are kept).
    pub files: Vec<String>,
    /// The format; by default taken from the first file's extension (`.jsonl`,
    /// `.json`, `.parquet`; anything else is CSV).
    pub format: Option<Format>,
    /// How to read the files.
    #[serde(default)]
    pub options: FormatOptions,
}

/// How one entity is fed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityConfig {
    /// Files to read; the contract's pattern (e.g. `transactions*.csv`) by default.
    pub files: Option<Vec<String>>,
    /// The format of those files (see [`SourceConfig::format`]).
    pub format: Option<Format>,
    /// How to read the files and the values in them.
    #[serde(default)]
    pub options: FormatOptions,
    /// An SQL query over the named `[sources]` that yields the entity's rows,
    /// instead of `files` (for joins and unions of several extracts).
    pub query: Option<String>,
    /// Per contract column: a source column name or `{ sql = "…" }`. Unmapped
    /// columns take the source column of the same name, if any.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnSource>,
    /// Whether source columns that are not contract columns are carried into the
    /// processed layer (default true). Turn it off for columns with personal data.
    #[serde(default = "yes")]
    pub keep_extra_columns: bool,
    /// The bank's own rules (`[[entities.<name>.rules]]`), judged after the
    /// contract's value rules on the typed rows: a `reject` rule quarantines a row
    /// under its id, a `warn` rule counts it (see `transformation::validation`).
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn yes() -> bool {
    true
}

/// Where a contract column's value comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ColumnSource {
    /// The value of this source column, as is.
    Column(String),
    /// An SQL expression over the source columns (all text), evaluated by DataFusion.
    Sql {
        /// The expression, e.g. `CASE type WHEN 'PRIJEM' THEN 'credit' END`.
        sql: String,
    },
}

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "json" | "ndjson") => Format::Jsonl,
            Some("parquet") => Format::Parquet,
            _ => Format::Csv,
        }
    }
}

/// Options of a source's files and of the values in them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatOptions {
    /// Field separator (CSV), one ASCII character.
    pub delimiter: char,
    /// Quote character (CSV), one ASCII character.
    pub quote: char,
    /// Whether the first record names the columns (CSV). Without a header the
    /// columns are named `column_1`, `column_2`, …
    pub has_header: bool,
    /// Text encoding: `utf-8` (default), `latin-1`, `windows-1250`, or any WHATWG label.
    pub encoding: String,
    /// Decimals written with a comma (`12,50`).
    pub decimal_comma: bool,
    /// Extra date formats (`chrono` syntax), tried after ISO `YYYY-MM-DD`.
    pub date_formats: Vec<String>,
    /// Extra timestamp formats (`chrono` syntax), tried after ISO 8601; read as UTC.
    pub timestamp_formats: Vec<String>,
    /// Values that mean "no value" besides an empty field, e.g. `["NULL", "N/A"]`
    /// (matched after trimming, case-sensitive; counted as cleaned).
    pub null_values: Vec<String>,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            delimiter: ',',
            quote: '"',
            has_header: true,
            encoding: "utf-8".into(),
            decimal_comma: false,
            date_formats: Vec::new(),
            timestamp_formats: Vec::new(),
            null_values: Vec::new(),
        }
    }
}

impl FormatOptions {
    /// The options that govern how values are parsed.
    pub fn value_format(&self) -> ValueFormat {
        ValueFormat {
            decimal_comma: self.decimal_comma,
            date_formats: self.date_formats.clone(),
            timestamp_formats: self.timestamp_formats.clone(),
            null_values: self.null_values.clone(),
        }
    }
}

/// The top-level tables of a pipeline file that belong to stages after ingestion.
pub const OTHER_STAGES: [&str; 5] = ["model", "quality", "postgres", "deployments", "runs"];

impl IngestConfig {
    /// Reads a configuration file; a relative `raw` is resolved against its folder.
    pub fn from_file(path: &Path) -> Result<IngestConfig, IngestError> {
        let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
            path: path.to_owned(),
            source,
        })?;
        let config = IngestConfig::from_toml(&text).map_err(|e| IngestError::Config {
            path: path.to_owned(),
            message: e,
        })?;
        Ok(config.relative_to(path))
    }

    /// The configuration read from the file at `path`: a relative `raw` is resolved
    /// against the file's folder.
    pub fn relative_to(mut self, path: &Path) -> IngestConfig {
        if let (Some(raw), Some(dir)) = (&self.raw, path.parent()) {
            self.raw = Some(dir.join(raw));
        }
        self
    }

    /// Parses a configuration and checks it; the error lists every problem found.
    /// The tables of the pipeline's other stages that share the file (`[model]`,
    /// `[quality]`, `[postgres]`) are left to them.
    pub fn from_toml(text: &str) -> Result<IngestConfig, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        for other in OTHER_STAGES {
            table.remove(other);
        }
        IngestConfig::from_table(table)
    }

    /// Reads a configuration from TOML already parsed (e.g. a file's tables minus
    /// those of other stages) and checks it.
    pub fn from_table(table: toml::Table) -> Result<IngestConfig, String> {
        let config: IngestConfig = table.try_into().map_err(|e| e.to_string())?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems.join("; "))
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, entity) in &self.entities {
            let Some(known) = contract::Entity::parse(name) else {
                let names: Vec<_> = contract::Entity::ALL.iter().map(|e| e.name()).collect();
                problems.push(format!(
                    "[entities.{name}]: no such entity (expected one of {})",
                    names.join(", ")
                ));
                continue;
            };
            for column in entity.columns.keys() {
                if known.spec().column(column).is_none() {
                    problems.push(format!(
                        "[entities.{name}.columns] {column}: not a column of {name}"
                    ));
                }
            }
            if entity.query.is_some() && entity.files.is_some() {
                problems.push(format!(
                    "[entities.{name}]: give either `files` or `query`, not both"
                ));
            }
        }
        for (name, options) in self
            .sources
            .values()
            .map(|s| &s.options)
            .chain(self.entities.values().map(|e| &e.options))
            .enumerate()
        {
            if !options.delimiter.is_ascii() || !options.quote.is_ascii() {
                problems.push(format!(
                    "options #{name}: delimiter and quote must be ASCII characters"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mapping_and_reports_every_problem() {
        let config = IngestConfig::from_toml(
            r#"
            [entities.transactions]
            files = ["trans.asc"]
            options = { delimiter = ";", date_formats = ["%y%m%d"] }
            [entities.transactions.columns]
            transaction_id = "trans_id"
            direction = { sql = "CASE type WHEN 'PRIJEM' THEN 'credit' ELSE 'debit' END" }
            "#,
        );
        let config = config.unwrap_or_default();
        let tx = &config.entities["transactions"];
        assert_eq!(tx.options.delimiter, ';');
        assert!(tx.options.has_header && tx.keep_extra_columns);
        assert_eq!(
            tx.columns["transaction_id"],
            ColumnSource::Column("trans_id".into())
        );
        assert!(matches!(tx.columns["direction"], ColumnSource::Sql { .. }));

        let bad = IngestConfig::from_toml(
            "[entities.trades]\nfiles=[]\n[entities.loans.columns]\nnope = \"x\"\n",
        );
        let message = bad.err().unwrap_or_default();
        assert!(
            message.contains("[entities.trades]") && message.contains("nope"),
            "{message}"
        );
    }
}
