//! The transformation error type.

/// Why a transformation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// A DataFusion plan failed (planning or running).
    #[error("{table}: {source}")]
    DataFusion {
        /// The table being built.
        table: String,
        /// DataFusion's error.
        source: Box<datafusion::error::DataFusionError>,
    },
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The input does not have a column the model needs.
    #[error("{table}: the input has no column `{column}` (it has: {available})")]
    MissingColumn {
        /// The table being built.
        table: String,
        /// The column it needs.
        column: String,
        /// The columns it has.
        available: String,
    },
}

impl TransformError {
    /// A DataFusion failure while building `table`.
    pub fn datafusion(table: &str, source: datafusion::error::DataFusionError) -> TransformError {
        TransformError::DataFusion {
            table: table.to_owned(),
            source: Box::new(source),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = TransformError> = std::result::Result<T, E>;
