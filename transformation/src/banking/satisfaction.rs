//! `dim_satisfaction`: one survey answer, with the client (version valid when it was
//! answered) and product keys, its day, and the NPS category.
//!
//! Built with the generic dimension builder (type 1), so a survey keeps its
//! `satisfaction_key` across runs, and a survey first seen with an unknown client is
//! repaired when the client arrives.

use crate::sql::{date_key, valid_at};
use crate::star_schema::{DimensionSpec, History};

/// The declaration of `dim_satisfaction`.
pub fn spec() -> DimensionSpec {
    DimensionSpec {
        table: "dim_satisfaction".into(),
        surrogate_key: "satisfaction_key".into(),
        business_key: "survey_id".into(),
        attributes: [
            "client_key",
            "product_key",
            "date_key",
            "answered_on",
            "channel",
            "csat",
            "nps",
            "nps_category",
            "has_comment",
        ]
        .map(String::from)
        .to_vec(),
        history: History::Type1,
    }
}

/// The incoming rows of `dim_satisfaction` (`{as_of}` is the run's business date).
pub fn incoming_sql() -> String {
    format!(
        "\
SELECT s.survey_id,
       COALESCE(c.client_key, -1) AS client_key,
       COALESCE(p.product_key, -1) AS product_key,
       {date_key} AS date_key,
       CAST(s.answered_at AS DATE) AS answered_on,
       s.channel, s.csat, s.nps,
       CASE WHEN s.nps >= 9 THEN 'promoter' WHEN s.nps >= 7 THEN 'passive'
            WHEN s.nps IS NOT NULL THEN 'detractor' END AS nps_category,
       COALESCE(trim(s.comment) <> '', false) AS has_comment,
       {{as_of}} AS valid_from
FROM satisfaction s
LEFT JOIN dim_clients c ON c.client_id = s.client_id AND {client_valid}
LEFT JOIN dim_products p ON p.product_id = s.product_id",
        date_key = date_key("s.answered_at"),
        client_valid = valid_at("c", "s.answered_at"),
    )
}
