//! The data contract of bankpipe, as code.
//!
//! `../shared/spec/data-contract.md` is the source of truth; this crate transcribes
//! it once so every other crate reads the same declarations:
//!
//! - [`Entity`] and [`EntitySpec`]: the raw entities, their columns, types, keys,
//!   references and date-order rules;
//! - [`RuleId`]: the stable ids under which rows are quarantined, in precedence order;
//! - [`schema`]: the Arrow schemas of the processed and quarantine layers;
//! - [`codes`]: the ISO country and currency lists.
//!
//! ```
//! use contract::{Entity, RuleId};
//!
//! let spec = Entity::Transactions.spec();
//! assert_eq!(spec.key, ["transaction_id"]);
//! assert!(RuleId::Duplicate < RuleId::OrphanReference);
//! ```
#![deny(missing_docs)]

pub mod codes;
pub mod entity;
pub mod rules;
pub mod schema;

pub use entity::{Check, Column, ColumnType, DateOrder, Entity, EntitySpec, Reference};
pub use rules::RuleId;
