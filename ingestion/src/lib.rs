//! Ingestion: a bank's raw extracts in, typed and validated Arrow batches out,
//! every rejected row quarantined with its reason.
//!
//! The path of a row:
//!
//! 1. a [`source`] (CSV, JSON Lines, Parquet, or an SQL query over several of them)
//!    splits it into text fields, or quarantines it as `malformed_record` /
//!    `invalid_encoding`;
//! 2. the [`mapping`] from the configuration ([`IngestConfig`]) puts the source's
//!    columns, or SQL expressions over them, in the contract's columns;
//! 3. [`typing`] parses each value to its Arrow type and applies the contract's rules
//!    in order; [`keys`] then finds duplicates and orphan references;
//! 4. the [`Ingestor`] yields accepted rows and quarantined rows as batches, and a
//!    summary whose counts conserve the input: `raw = accepted + quarantined`.
//!
//! Everything streams: memory holds a batch of each stage and the entity's keys.
#![deny(missing_docs)]

pub mod cleaning;
pub mod config;
pub mod error;
pub mod iban;
pub mod ingest;
pub mod keys;
pub mod mapping;
pub mod parse;
pub mod quarantine;
pub mod source;
pub mod typing;

pub use config::IngestConfig;
pub use error::{IngestError, Result};
pub use ingest::{EntityRun, EntitySummary, Ingestor, Output};
