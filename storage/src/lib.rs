//! Storage: the layers of the lake as Delta Lake tables.
//!
//! [`delta`] writes streams of Arrow batches as Delta tables in one commit each, with
//! the run's metadata in the commit, and reads them back through DataFusion.
//! [`postgres`] creates the warehouse's tables in PostgreSQL from Arrow schemas and
//! loads streams of batches into them with binary COPY, atomically.
#![deny(missing_docs)]

pub mod delta;
pub mod error;
pub mod postgres;

pub use delta::{TableLocation, WriteMode, WriteReport};
pub use error::{Result, StorageError};
