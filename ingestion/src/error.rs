//! The ingestion error type.
//!
//! Bad rows are not errors: they are quarantined. These errors stop an entity's
//! ingestion and say what to fix: a file that cannot be read, a configuration or
//! mapping that does not make sense, or a broken invariant.

use std::path::PathBuf;

/// Why ingestion could not go on.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("invalid configuration {path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// Every problem found, with its TOML path.
        message: String,
    },
    /// A column mapping or an entity query is not valid SQL over the source.
    #[error("{entity}: {what} is not valid over the source columns [{available}]: {message}")]
    Mapping {
        /// The entity being mapped.
        entity: String,
        /// The mapping, e.g. "column direction = `CASE …`".
        what: String,
        /// The source's columns.
        available: String,
        /// DataFusion's message.
        message: String,
    },
    /// A configured validation rule does not compile or cannot be judged.
    #[error("{entity}: {source}")]
    Rule {
        /// The entity whose rule it is.
        entity: String,
        /// What is wrong with the rule.
        source: transformation::validation::ValidationError,
    },
    /// A source file is not of the declared format as a whole (not a row of it).
    #[error("{path}: {message}")]
    Source {
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. "not a Parquet file".
        message: String,
    },
    /// An Arrow operation failed (a bug or an exhausted resource, not bad data).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A DataFusion query failed while running.
    #[error("query: {0}")]
    DataFusion(Box<datafusion::error::DataFusionError>),
    /// The thread reading a source ahead could not start, or stopped without a word
    /// (a bug or an exhausted resource, not bad data).
    #[error("{entity}: the reading thread {message}")]
    Reader {
        /// The entity being read.
        entity: String,
        /// What happened to the thread.
        message: String,
    },
    /// Rows were lost between reading and writing: a bug, never bad data.
    #[error(
        "{entity}: conservation broken: {raw} raw rows but {accepted} accepted + {quarantined} quarantined"
    )]
    Conservation {
        /// The entity.
        entity: String,
        /// Rows read.
        raw: u64,
        /// Rows accepted.
        accepted: u64,
        /// Rows quarantined.
        quarantined: u64,
    },
}

impl From<datafusion::error::DataFusionError> for IngestError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        IngestError::DataFusion(Box::new(error))
    }
}

/// The result type of this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
