//! The reconciliation of the facts derived one-to-one from an entity: as many rows in
//! the fact as in the processed entity, counted in the lake.

use contract::Entity;
use storage::delta;

use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

/// The facts with one row per processed row of an entity.
pub const RECONCILED: [(&str, Entity); 3] = [
    ("fact_transactions", Entity::Transactions),
    ("fact_loans", Entity::Loans),
    ("fact_payments", Entity::Payments),
];

/// A fact that reconciles with its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciliation {
    /// The fact.
    pub table: &'static str,
    /// Its entity.
    pub entity: Entity,
    /// The rows of both.
    pub rows: u64,
}

/// Counts each fact of [`RECONCILED`] and its processed entity under `layout`; fails at
/// the first that differ.
pub async fn reconcile(layout: &DataLayout) -> Result<Vec<Reconciliation>> {
    let mut reconciled = Vec::with_capacity(RECONCILED.len());
    for (table, entity) in RECONCILED {
        let expected = delta::count_rows(&layout.processed(entity).location()?).await?;
        let found = delta::count_rows(&layout.transformed(table).location()?).await?;
        if expected != found {
            return Err(PipelineError::Reconciliation {
                table: table.to_owned(),
                expected,
                found,
            });
        }
        reconciled.push(Reconciliation {
            table,
            entity,
            rows: found,
        });
    }
    Ok(reconciled)
}
