//! Transformation: the processed layer in, the analytics warehouse out — the star
//! schema's dimensions and facts, and the marts.
//!
//! Relational work runs as DataFusion plans, so it streams and uses every core.
//! - [`star_schema`]: generic builders (dimensions with stable keys and history, dates);
//! - [`banking`]: the bank's model declared on them;
//! - [`fx`]: daily as-of FX rates for amounts in EUR.
#![deny(missing_docs)]

pub mod banking;
pub mod error;
pub mod fx;
pub mod star_schema;

pub use error::{Result, TransformError};
