//! The monitoring error type.

/// Why monitoring could not measure or judge.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// A query over a table failed.
    #[error("{table}: {source}")]
    DataFusion {
        /// The table measured or checked.
        table: String,
        /// DataFusion's error.
        source: Box<datafusion::error::DataFusionError>,
    },
    /// The metrics history could not be read or written.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A check is declared in a way that cannot be judged.
    #[error("check `{check}`: {message}")]
    Check {
        /// The check's id.
        check: String,
        /// What is wrong.
        message: String,
    },
}

impl MonitoringError {
    /// A DataFusion failure on `table`.
    pub fn datafusion(table: &str, source: datafusion::error::DataFusionError) -> MonitoringError {
        MonitoringError::DataFusion {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = MonitoringError> = std::result::Result<T, E>;
