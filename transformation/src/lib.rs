//! Transformation: the processed layer in, the analytics warehouse out — the star
//! schema's dimensions and facts, and the marts.
//!
//! Relational work runs as DataFusion plans, so it streams and uses every core.
//! This crate starts with the generic [`star_schema`] builders.
#![deny(missing_docs)]

pub mod error;
pub mod star_schema;

pub use error::{Result, TransformError};
