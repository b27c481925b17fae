//! Transformation: the processed layer in, the analytics warehouse out — the star
//! schema's dimensions and facts, and the marts.
//!
//! Relational work runs as DataFusion plans, so it streams and uses every core.
//! - [`star_schema`]: generic builders (dimensions with stable keys and history, dates);
//! - [`banking`]: the bank's model declared on them (dimensions and facts);
//! - [`fx`]: daily as-of FX rates for amounts in EUR;
//! - [`fraud`]: the fraud rules behind `fact_fraudes`;
//! - [`revenue`]: the revenue rules behind `fact_revenue`;
//! - [`aggregation`]: the marts;
//! - [`validation`]: the rule engine that judges rows (ingestion runs it too);
//! - [`sql`]: the SQL building blocks they share.
#![deny(missing_docs)]

pub mod aggregation;
pub mod banking;
pub mod error;
pub mod fraud;
pub mod fx;
pub mod revenue;
pub mod sql;
pub mod star_schema;
pub mod validation;

pub use error::{Result, TransformError};
