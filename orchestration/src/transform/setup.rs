//! What the tables of one transform share, computed once from the processed layer:
//! the report window and its months, and the daily FX rates.

use arrow::array::RecordBatch;
use arrow::datatypes::Date32Type;
use chrono::{Datelike, NaiveDate};
use contract::Entity;
use datafusion::prelude::SessionContext;
use storage::delta;
use transformation::banking::facts;
use transformation::{fx, star_schema::dates};

use super::days::date_pair;
use super::{TransformOptions, df_error, session};
use crate::error::Result;

/// The processed entities the setup reads.
pub(super) const INPUTS: [Entity; 4] = [
    Entity::Transactions,
    Entity::FxRates,
    Entity::Loans,
    Entity::Payments,
];

/// The report window, its months and the daily FX rates.
#[derive(Debug)]
pub(super) struct Setup {
    /// From the first transaction's day (or the business date without transactions)
    /// to the business date or the last transaction's day, whichever is later.
    pub(super) window: (NaiveDate, NaiveDate),
    /// `report_months`: one row per month of the window.
    pub(super) months: RecordBatch,
    /// `fx_daily`: the as-of rate of every currency and day, from the earliest day a
    /// fact converts (old loans and payments included) to the window's last month end.
    pub(super) fx_daily: RecordBatch,
}

impl Setup {
    /// Computes the setup of `options`' run in a session holding at most
    /// `memory_limit` bytes.
    pub(super) async fn compute(options: &TransformOptions, memory_limit: usize) -> Result<Setup> {
        let ctx = delta::bounded_session(memory_limit);
        for entity in INPUTS {
            session::register_processed(&ctx, &options.layout, entity).await?;
        }
        let as_of = options.params.as_of;
        let range =
            date_pair::<Date32Type>(&ctx, "report_months", facts::TRANSACTION_DATE_RANGE).await?;
        let window = match range {
            Some((first, last)) => (first.min(as_of), last.max(as_of)),
            None => (as_of, as_of),
        };
        Ok(Setup {
            window,
            months: dates::months(window.0, window.1)?,
            fx_daily: daily_fx(&ctx, &options.model.fx, window).await?,
        })
    }
}

/// The daily rates from the processed `fx_rates` (see [`Setup::fx_daily`]).
async fn daily_fx(
    ctx: &SessionContext,
    config: &fx::FxConfig,
    window: (NaiveDate, NaiveDate),
) -> Result<RecordBatch> {
    let error = |e| df_error("fx_daily", e);
    let rates = ctx
        .table("fx_rates")
        .await
        .map_err(error)?
        .select_columns(&["date", "currency", "per_eur"])
        .map_err(error)?
        .collect()
        .await
        .map_err(error)?;
    let earliest = date_pair::<Date32Type>(ctx, "fx_daily", EARLIEST_CONVERTED)
        .await?
        .map_or(window.0, |(first, _)| first.min(window.0));
    let last = window
        .1
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(window.1);
    let day = |date: NaiveDate| (date - NaiveDate::default()).num_days() as i32;
    let days = fx::Days {
        first: day(earliest),
        last: day(last),
    };
    Ok(fx::daily(&rates, days, config)?)
}

/// The earliest day a loan or payment is converted on.
const EARLIEST_CONVERTED: &str = "\
SELECT min(d) AS first, min(d) AS last FROM (SELECT start_date AS d FROM loans UNION ALL SELECT due_date FROM payments)";
