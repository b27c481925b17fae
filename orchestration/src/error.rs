//! The pipeline error type: which stage failed, and why.

/// Why a pipeline command failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Ingestion stopped (a file, the configuration or an invariant).
    #[error(transparent)]
    Ingest(#[from] ingestion::IngestError),
    /// Building the warehouse failed.
    #[error(transparent)]
    Transform(#[from] transformation::TransformError),
    /// Writing or reading a table failed.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// Generating synthetic data failed.
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
    /// A file of the pipeline's own could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A table's rows do not reconcile with its source.
    #[error("{table}: {found} rows where the source has {expected}")]
    Reconciliation {
        /// The table.
        table: String,
        /// Rows in the source.
        expected: u64,
        /// Rows in the table.
        found: u64,
    },
    /// An ingestion did not find the counts its input was generated with.
    #[error("counts differ from the generator's expected.json: {0}")]
    Expected(String),
    /// A background task panicked or was cancelled: a bug.
    #[error("internal error: a pipeline task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The result type of this crate.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
