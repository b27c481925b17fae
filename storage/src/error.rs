//! The storage error type.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A table location is not a valid folder or URL.
    #[error("invalid table location '{location}': {message}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong with it.
        message: String,
    },
    /// The Delta Lake operation failed.
    #[error("delta table {location}: {source}")]
    Delta {
        /// The table.
        location: String,
        /// delta-rs's error.
        source: Box<deltalake::DeltaTableError>,
    },
    /// Planning or running the DataFusion plan that feeds or reads a table failed.
    #[error("delta table {location}: {source}")]
    DataFusion {
        /// The table.
        location: String,
        /// DataFusion's error.
        source: Box<datafusion::error::DataFusionError>,
    },
}

/// The result type of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
