//! The banking warehouse, declared on the generic builders: which dimensions, which
//! columns they track, and the SQL that shapes each table from the processed layer.
//!
//! The processed entities are expected in the session under their contract names
//! (`clients`, `accounts`, `transactions`, …); the built dimensions under theirs
//! (`dim_clients`, …) before the facts are planned; the daily FX rates as `fx_daily`
//! (see [`crate::fx`]); and the months of the report window as `report_months` (see
//! [`crate::star_schema::dates::months`]).
//!
//! - [`facts`] builds `fact_transactions`, `fact_loans`, `fact_payments` and their helpers;
//! - [`satisfaction`] builds `dim_satisfaction`.

pub mod facts;
pub mod satisfaction;

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

/// The dimensions in build order, with the SQL that shapes their incoming rows
/// (`dim_satisfaction` last: it looks up the clients and products).
pub fn dimensions() -> Vec<(DimensionSpec, String)> {
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
    .into_iter()
    .map(|(spec, sql)| (spec, sql.to_owned()))
    .chain([(satisfaction::spec(), satisfaction::incoming_sql())])
    .collect()
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
