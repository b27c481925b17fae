//! A table's session: what the table reads, registered under its name — processed
//! entities, warehouse tables read back from Delta, the shared views.

use std::sync::Arc;

use arrow::array::RecordBatch;
use contract::Entity;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use storage::delta;
use transformation::banking::facts;

use super::catalog::{Table, View};
use super::{Transform, df_error};
use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

/// Registers in `ctx` what `table` reads: its processed entities, the warehouse
/// tables it reads, and its views (the run's setup taken from `transform`).
pub(super) async fn register(
    ctx: &SessionContext,
    transform: &Transform,
    table: &Table,
) -> Result<()> {
    let layout = &transform.options().layout;
    for entity in table.entities() {
        register_processed(ctx, layout, entity).await?;
    }
    for name in table.reads.tables {
        let place = layout.transformed(name);
        if !delta::register(ctx, name, &place.location()?).await? {
            return Err(PipelineError::MissingTable {
                table: (*name).to_owned(),
                location: place.to_string(),
            });
        }
    }
    for view in table.views() {
        match view {
            View::ReportMonths => {
                register_batch(ctx, view.name(), transform.setup().await?.months.clone())?;
            }
            View::FxDaily => {
                register_batch(ctx, view.name(), transform.setup().await?.fx_daily.clone())?;
            }
            View::TransactionsEur => {
                register_view(ctx, view.name(), facts::TRANSACTIONS_EUR).await?
            }
            View::LoanMonths => register_view(ctx, view.name(), &facts::loan_months()).await?,
        }
    }
    Ok(())
}

/// Registers the processed table of `entity`, or an empty one of its schema when
/// there is none (an optional extract not delivered).
pub(super) async fn register_processed(
    ctx: &SessionContext,
    layout: &DataLayout,
    entity: Entity,
) -> Result<()> {
    let location = layout.processed(entity).location()?;
    if !delta::register(ctx, entity.name(), &location).await? {
        let schema = contract::schema::processed_schema(entity.spec(), &[]);
        let empty =
            MemTable::try_new(schema, vec![vec![]]).map_err(|e| df_error(entity.name(), e))?;
        ctx.register_table(entity.name(), Arc::new(empty))
            .map_err(|e| df_error(entity.name(), e))?;
    }
    Ok(())
}

/// Registers the plan of `sql` as the view `name`.
async fn register_view(ctx: &SessionContext, name: &str, sql: &str) -> Result<()> {
    let view = ctx.sql(sql).await.map_err(|e| df_error(name, e))?;
    ctx.register_table(name, view.into_view())
        .map_err(|e| df_error(name, e))?;
    Ok(())
}

/// Registers `batch` as the in-memory table `name`.
fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    let table =
        MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(|e| df_error(name, e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| df_error(name, e))?;
    Ok(())
}
