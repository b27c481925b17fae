//! A generic dimension builder: stable integer surrogate keys, type 1 or type 2
//! history, and the `-1` unknown member.
//!
//! A run hands the builder the dimension as it was (`previous`, possibly empty) and the
//! business rows delivered now (`incoming`: the business key, the attributes and the
//! time the version takes effect). The builder returns the whole new dimension:
//!
//! - a business key seen for the first time gets the next key (`max(key) + 1`, in
//!   business-key order, so a rebuild from the same deliveries gives the same keys);
//! - type 2: a business key's first version is valid from the beginning of time (so
//!   facts older than the dimension's first delivery find it); a key whose attributes
//!   changed gets a new version (a new key) valid from the incoming time; the old version is closed (`valid_to`, `is_current = false`);
//!   an unchanged key keeps its row as it was. Type 1: the row keeps its key and takes
//!   the new attributes;
//! - business keys absent from `incoming` keep their rows: a delivery is not a deletion;
//! - the unknown member (`key = -1`, business key `unknown`) is always there, so facts
//!   never lose a row for want of a dimension row.
//!
//! The merge is one DataFusion SQL plan: it streams and uses every core.

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{DataFrame, SessionContext};

use crate::error::{Result, TransformError};
use crate::sql::quote_ident;

/// How a dimension keeps history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// One row per business key; a change overwrites it.
    Type1,
    /// One row per version: `valid_from`, `valid_to` (null while current), `is_current`.
    Type2,
}

/// The declaration of one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionSpec {
    /// The table, e.g. `dim_clients`.
    pub table: String,
    /// The surrogate key column, e.g. `client_key`.
    pub surrogate_key: String,
    /// The business key column, e.g. `client_id` (text).
    pub business_key: String,
    /// The attribute columns, in output order; with type 2, a change in any of them
    /// makes a new version.
    pub attributes: Vec<String>,
    /// The history kept.
    pub history: History,
}

/// The business key of the unknown member.
pub const UNKNOWN_BUSINESS_KEY: &str = "unknown";

/// The surrogate key of the unknown member.
pub const UNKNOWN_KEY: i64 = -1;

impl DimensionSpec {
    /// Builds the new dimension. `incoming` has the business key, the attributes and a
    /// `valid_from` timestamp (µs, UTC); `previous` is the dimension as it was, or `None`
    /// on the first run. Both are registered under private names in `ctx` for the plan.
    pub async fn build(
        &self,
        ctx: &SessionContext,
        incoming: DataFrame,
        previous: Option<DataFrame>,
    ) -> Result<DataFrame> {
        let error = |source| TransformError::datafusion(&self.table, source);
        let schema = incoming.schema().clone();
        for column in self
            .attributes
            .iter()
            .chain([&self.business_key, &"valid_from".to_owned()])
        {
            if schema.field_with_unqualified_name(column).is_err() {
                return Err(TransformError::MissingColumn {
                    table: self.table.clone(),
                    column: column.clone(),
                    available: schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let incoming_name = format!("__incoming_{}", self.table);
        let previous_name = format!("__previous_{}", self.table);
        ctx.register_table(incoming_name.as_str(), incoming.into_view())
            .map_err(error)?;
        let has_previous = previous.is_some();
        if let Some(previous) = previous {
            ctx.register_table(previous_name.as_str(), previous.into_view())
                .map_err(error)?;
        }
        let types: Vec<DataType> = self
            .attributes
            .iter()
            .map(|a| {
                schema
                    .field_with_unqualified_name(a)
                    .map(|f| f.data_type().clone())
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(error)?;
        let sql = self.merge_sql(
            &incoming_name,
            has_previous.then_some(previous_name.as_str()),
            &types,
        );
        let result = ctx.sql(&sql).await.map_err(error);
        ctx.deregister_table(incoming_name.as_str())
            .map_err(error)?;
        if has_previous {
            ctx.deregister_table(previous_name.as_str())
                .map_err(error)?;
        }
        result
    }

    /// The merge as SQL over the tables `incoming` and `previous`.
    fn merge_sql(&self, incoming: &str, previous: Option<&str>, types: &[DataType]) -> String {
        let key = quote_ident(&self.surrogate_key);
        let bk = quote_ident(&self.business_key);
        let attrs: Vec<String> = self.attributes.iter().map(|a| quote_ident(a)).collect();
        let prefixed = |table: &str| {
            attrs
                .iter()
                .map(|a| format!("{table}.{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unchanged = attrs
            .iter()
            .map(|a| format!("(i.{a} IS NOT DISTINCT FROM c.{a})"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let nulls = types
            .iter()
            .map(|t| format!("arrow_cast(NULL, '{t}')"))
            .collect::<Vec<_>>();
        let (previous_rows, empty_previous) = match previous {
            Some(previous) => (
                format!("SELECT * FROM {previous} WHERE {key} <> {UNKNOWN_KEY}"),
                false,
            ),
            None => (String::new(), true),
        };
        // The previous versions, or an empty relation of the same shape on the first run.
        let prev_cte = if empty_previous {
            format!(
                "SELECT arrow_cast(0, 'Int64') AS {key}, i.{bk}, {}, i.valid_from, i.valid_from AS valid_to, true AS is_current \
                 FROM {incoming} i WHERE false",
                prefixed("i")
            )
        } else {
            previous_rows
        };
        let unknown = format!(
            "SELECT arrow_cast({UNKNOWN_KEY}, 'Int64') AS {key}, '{UNKNOWN_BUSINESS_KEY}' AS {bk}, {}, \
             arrow_cast(0, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_from, \
             arrow_cast(NULL, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_to, true AS is_current",
            nulls
                .iter()
                .zip(&attrs)
                .map(|(n, a)| format!("{n} AS {a}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let next_key = format!(
            "CAST((SELECT COALESCE(MAX({key}), 0) FROM prev) + ROW_NUMBER() OVER (ORDER BY i.{bk}) AS BIGINT)"
        );
        match self.history {
            History::Type2 => format!(
                "WITH prev AS ({prev_cte}), \
                 cur AS (SELECT * FROM prev WHERE is_current), \
                 changed AS (SELECT i.*, c.{bk} IS NULL AS __is_new FROM {incoming} i LEFT JOIN cur c ON i.{bk} = c.{bk} \
                             WHERE c.{bk} IS NULL OR NOT ({unchanged})) \
                 SELECT p.{key}, p.{bk}, {pattrs}, p.valid_from, \
                        CASE WHEN p.is_current AND ch.{bk} IS NOT NULL THEN ch.valid_from ELSE p.valid_to END AS valid_to, \
                        p.is_current AND ch.{bk} IS NULL AS is_current \
                 FROM prev p LEFT JOIN changed ch ON p.{bk} = ch.{bk} \
                 UNION ALL \
                 SELECT {next_key} AS {key}, i.{bk}, {iattrs}, \
                        CASE WHEN i.__is_new THEN {beginning} ELSE i.valid_from END AS valid_from, \
                        arrow_cast(NULL, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_to, true AS is_current \
                 FROM changed i \
                 UNION ALL {unknown}",
                beginning = "arrow_cast(0, 'Timestamp(Microsecond, Some(\"UTC\"))')",
                pattrs = prefixed("p"),
                iattrs = prefixed("i"),
            ),
            History::Type1 => format!(
                "WITH prev AS ({prev_cte}), \
                 new_keys AS (SELECT i.{bk}, {next_key} AS {key} FROM {incoming} i \
                              LEFT JOIN prev p ON i.{bk} = p.{bk} WHERE p.{bk} IS NULL) \
                 SELECT COALESCE(p.{key}, n.{key}) AS {key}, COALESCE(i.{bk}, p.{bk}) AS {bk}, {merged}, \
                        COALESCE(p.valid_from, i.valid_from) AS valid_from, \
                        arrow_cast(NULL, 'Timestamp(Microsecond, Some(\"UTC\"))') AS valid_to, true AS is_current \
                 FROM {incoming} i FULL OUTER JOIN prev p ON i.{bk} = p.{bk} \
                 LEFT JOIN new_keys n ON i.{bk} = n.{bk} \
                 UNION ALL {unknown}",
                merged = attrs
                    .iter()
                    .map(|a| format!("CASE WHEN i.{bk} IS NULL THEN p.{a} ELSE i.{a} END AS {a}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }
    }
}
