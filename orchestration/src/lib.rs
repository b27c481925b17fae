//! Orchestration: the `bankpipe` pipeline, wiring ingestion, transformation, storage
//! and monitoring together, and the command that runs it.
//!
//! This crate is thin on purpose: each stage's logic lives in its own crate; here
//! are only the order of the stages, where their tables go ([`layout`]) and what the
//! command prints.
#![deny(missing_docs)]

pub mod check;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod expected;
pub mod generate;
pub mod headline;
pub mod ingest;
pub mod layout;
pub mod maintain;
pub mod pipeline;
pub mod publish;
pub mod quality;
pub mod run_alerts;
pub mod runtime;
pub mod schedule;
pub mod serve;
pub mod stages;
pub mod summary;
pub mod transform;

pub use error::{PipelineError, Result};
pub use layout::{DataLayout, TablePlace};
