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
    /// Another writer committed to the table while this operation ran, and its commit
    /// touched what this one read or replaced: this commit was refused, so nothing of
    /// the operation is in the table.
    #[error(
        "delta table {location}: concurrent commit conflict: another writer committed to \
         the table while this operation ran, and its change overlaps the rows this one read \
         or replaced, so this commit was refused and nothing of it was written; rerun the \
         operation on the new version (delta-rs: {source})"
    )]
    ConcurrentCommit {
        /// The table.
        location: String,
        /// delta-rs's error.
        source: Box<deltalake::DeltaTableError>,
    },
    /// A vacuum was asked to keep removed files for less time than the table requires.
    #[error(
        "delta table {location}: vacuum retention of {requested_hours} h is below the \
         table's minimum of {minimum_hours} h (delta.deletedFileRetentionDuration, 7 days \
         unless the table sets it): files removed more recently may still be read by time \
         travel and by readers or writers in flight, so they are kept; ask for at least \
         {minimum_hours} h"
    )]
    RetentionTooShort {
        /// The table.
        location: String,
        /// The retention asked for, in hours.
        requested_hours: f64,
        /// The table's minimum retention, in hours.
        minimum_hours: f64,
    },
    /// Time travel asked for a version the table does not have.
    #[error("delta table {location}: no version {at}")]
    NoSuchVersion {
        /// The table.
        location: String,
        /// The version or time asked for, described.
        at: String,
    },
    /// The operation's arguments do not fit the table or its input.
    #[error("delta table {location}: {message}")]
    Invalid {
        /// The table.
        location: String,
        /// What is wrong.
        message: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
