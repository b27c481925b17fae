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
    /// Loading PostgreSQL, or connecting to it, failed.
    #[error(transparent)]
    Postgres(#[from] storage::postgres::PostgresError),
    /// A table of the warehouse is not in the lake.
    #[error(
        "no Delta table {table} at {location}: build the warehouse first (bankpipe run, or \
         bankpipe demo), with the same --data and lake"
    )]
    MissingTable {
        /// The table.
        table: String,
        /// Where it should be (a folder, or a URL).
        location: String,
    },
    /// No PostgreSQL URL was given.
    #[error(
        "no PostgreSQL URL: pass --database-url postgres://user@host:port/database or set \
         DATABASE_URL"
    )]
    NoDatabaseUrl,
    /// Some connection checks failed.
    #[error("{failed} of {checks} connection checks failed (see the table above)")]
    ChecksFailed {
        /// The checks that failed.
        failed: usize,
        /// The checks made.
        checks: usize,
    },
    /// Measuring or judging the data's quality failed.
    #[error(transparent)]
    Monitoring(#[from] monitoring::MonitoringError),
    /// Error-level quality checks failed: the run stops before anything else uses its data.
    #[error("{0} error-level quality checks failed (see the verdicts above)")]
    QualityBlocked(usize),
    /// The flow runtime or its run store failed (not a task: see [`Self::RunFailed`]).
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A flow run ended without completing.
    #[error("flow run #{run} {state}: {reason}")]
    RunFailed {
        /// The flow run's id.
        run: i64,
        /// Its final state.
        state: crate::runtime::RunState,
        /// The failed tasks with their errors, or the run's own error.
        reason: String,
    },
    /// A run to retry is not a pipeline run (its parameters do not say where its data is).
    #[error("flow run #{0} is not a pipeline run that can be retried here")]
    NotRetriable(i64),
    /// The configuration is inconsistent (a deployment of an unknown flow…).
    #[error("configuration: {0}")]
    Config(String),
    /// A background task panicked or was cancelled: a bug.
    #[error("internal error: a pipeline task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The result type of this crate.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
