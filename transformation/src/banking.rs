//! The banking warehouse, declared on the generic builders: which dimensions, which
//! columns they track, and the SQL that shapes each table from the processed layer.
//!
//! The processed entities are expected in the session under their contract names
//! (`clients`, `accounts`, `transactions`, …); the built dimensions under theirs
//! (`dim_clients`, …) before the facts are planned; and the daily FX rates as
//! `fx_daily` (see [`crate::fx`]).

use chrono::{Datelike, NaiveDate};
use datafusion::common::ScalarValue;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::error::{Result, TransformError};
use crate::star_schema::{DimensionSpec, History};

/// What a build of the model depends on besides the data.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// The secret key of `client_ref`, the keyed hash of `client_id` (from configuration
    /// or the environment, never from the code).
    pub hash_key: String,
    /// The run's business date: age bands are computed at it, and type 1 changes take
    /// effect on it.
    pub as_of: NaiveDate,
}

/// The dimensions in build order, with the SQL that shapes their incoming rows.
pub fn dimensions() -> Vec<(DimensionSpec, &'static str)> {
    let spec =
        |table: &str, key: &str, business_key: &str, attributes: &[&str], history| DimensionSpec {
            table: table.into(),
            surrogate_key: key.into(),
            business_key: business_key.into(),
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            history,
        };
    vec![
        (
            spec(
                "dim_products",
                "product_key",
                "product_id",
                &[
                    "name",
                    "category",
                    "monthly_fee",
                    "interest_rate",
                    "currency",
                    "active",
                ],
                History::Type1,
            ),
            "SELECT product_id, name, category, monthly_fee, interest_rate, currency, active, \
                    {as_of} AS valid_from FROM products",
        ),
        (
            spec(
                "dim_clients",
                "client_key",
                "client_id",
                &[
                    "client_ref",
                    "birth_year",
                    "age_band",
                    "gender",
                    "city",
                    "country",
                    "segment",
                    "kyc_risk",
                ],
                History::Type2,
            ),
            "SELECT client_id, encode(sha256(concat($1, client_id)), 'hex') AS client_ref, \
                    CAST(date_part('year', birth_date) AS INT) AS birth_year, \
                    CASE WHEN {year} - date_part('year', birth_date) < 25 THEN '<25' \
                         WHEN {year} - date_part('year', birth_date) < 35 THEN '25-34' \
                         WHEN {year} - date_part('year', birth_date) < 45 THEN '35-44' \
                         WHEN {year} - date_part('year', birth_date) < 55 THEN '45-54' \
                         WHEN {year} - date_part('year', birth_date) < 65 THEN '55-64' \
                         ELSE '65+' END AS age_band, \
                    gender, city, country, segment, kyc_risk, updated_at AS valid_from \
             FROM clients",
        ),
        (
            spec(
                "dim_accounts",
                "account_key",
                "account_id",
                &[
                    "client_id",
                    "product_id",
                    "currency",
                    "status",
                    "branch_code",
                    "opened_on",
                    "closed_on",
                ],
                History::Type2,
            ),
            "SELECT account_id, client_id, product_id, currency, status, branch_code, opened_on, closed_on, \
                    updated_at AS valid_from FROM accounts",
        ),
    ]
}

/// The incoming rows of a dimension, from its shaping SQL.
pub async fn incoming(
    ctx: &SessionContext,
    spec: &DimensionSpec,
    sql: &str,
    params: &ModelParams,
) -> Result<DataFrame> {
    let error = |source| TransformError::datafusion(&spec.table, source);
    let as_of = format!(
        "arrow_cast(DATE '{}', 'Timestamp(Microsecond, Some(\"UTC\"))')",
        params.as_of
    );
    let sql = sql
        .replace("{as_of}", &as_of)
        .replace("{year}", &params.as_of.year().to_string());
    let frame = ctx.sql(&sql).await.map_err(error)?;
    if sql.contains("$1") {
        frame
            .with_param_values(vec![ScalarValue::Utf8(Some(params.hash_key.clone()))])
            .map_err(error)
    } else {
        Ok(frame)
    }
}

/// `fact_transactions`: one row per processed transaction, with the keys of the
/// account, client (versions valid at booking time) and product, the signed amount
/// and the amount in EUR at the day's rate.
pub const FACT_TRANSACTIONS: &str = "\
SELECT t.transaction_id,
       CAST(to_char(t.booked_at, '%Y%m%d') AS INT) AS date_key,
       COALESCE(a.account_key, -1) AS account_key,
       COALESCE(c.client_key, -1) AS client_key,
       COALESCE(p.product_key, -1) AS product_key,
       t.amount,
       CASE WHEN t.direction = 'debit' THEN -t.amount ELSE t.amount END AS signed_amount,
       CAST(CASE WHEN t.currency = 'EUR' THEN t.amount ELSE t.amount / f.per_eur END AS DECIMAL(18, 2)) AS amount_eur,
       t.currency, t.direction, t.channel, t.status, t.mcc, t.country,
       t.country <> COALESCE(c.country, t.country) AS is_international,
       false AS is_suspicious,
       t.booked_at
FROM transactions t
LEFT JOIN dim_accounts a ON a.account_id = t.account_id
     AND t.booked_at >= a.valid_from AND (a.valid_to IS NULL OR t.booked_at < a.valid_to)
LEFT JOIN dim_clients c ON c.client_id = a.client_id
     AND t.booked_at >= c.valid_from AND (c.valid_to IS NULL OR t.booked_at < c.valid_to)
LEFT JOIN dim_products p ON p.product_id = a.product_id
LEFT JOIN fx_daily f ON f.currency = t.currency AND f.date = t.value_date";

/// The first and last day the facts use (booking and value dates), if there are facts.
pub const FACT_DATE_RANGE: &str = "\
SELECT min(d) AS first, max(d) AS last FROM (
  SELECT CAST(booked_at AS DATE) AS d FROM transactions
  UNION ALL SELECT value_date FROM transactions)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dimension_tracks_columns_its_sql_selects() {
        for (spec, sql) in dimensions() {
            for column in spec.attributes.iter().chain([&spec.business_key]) {
                assert!(sql.contains(column.as_str()), "{}: {column}", spec.table);
            }
            assert!(sql.contains("AS valid_from"), "{}", spec.table);
        }
    }
}
