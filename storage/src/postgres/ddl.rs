//! DDL from a [`TableSpec`]: schema, table with its keys, indexes and column comments.

use super::error::PostgresError;
use super::ident::{object_name, qualified, quote_ident, quote_list, quote_literal};
use super::spec::{ForeignKey, TableSpec};
use super::types::pg_type;

/// The statements that create `spec`'s schema, table, indexes and column comments, each
/// idempotent (`IF NOT EXISTS`; a comment is set again), in the order to run them.
///
/// Columns are `NOT NULL` where their Arrow field is not nullable. Foreign keys are
/// `DEFERRABLE INITIALLY IMMEDIATE`, so that a load can replace a dimension that facts
/// refer to inside one transaction (see [`load`](super::load)). Every foreign key's
/// columns get an index, as do the spec's `indexes` (a column set equal to the start of
/// the primary key is skipped: the key's index serves it). Every identifier is
/// double-quoted and comments are string literals: no other text reaches the SQL.
pub fn create_statements(spec: &TableSpec) -> Result<Vec<String>, PostgresError> {
    spec.validate()?;
    let mut statements = vec![
        format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&spec.schema)),
        create_table(spec)?,
    ];
    statements.extend(
        index_column_sets(spec)
            .iter()
            .map(|c| create_index(spec, c)),
    );
    statements.extend(
        spec.comments
            .iter()
            .map(|(column, text)| comment(&spec.qualified(), column, text)),
    );
    Ok(statements)
}

fn create_table(spec: &TableSpec) -> Result<String, PostgresError> {
    let mut lines = column_definitions(spec)?;
    if !spec.primary_key.is_empty() {
        lines.push(format!(
            "CONSTRAINT {} {}",
            quote_ident(&primary_key_name(&spec.name)),
            primary_key_clause(spec)
        ));
    }
    lines.extend(spec.foreign_keys.iter().map(|key| {
        format!(
            "CONSTRAINT {} {}",
            quote_ident(&foreign_key_name(&spec.name, key)),
            foreign_key_clause(&qualified(&spec.schema, &key.references_table), key)
        )
    }));
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    {}\n)",
        spec.qualified(),
        lines.join(",\n    ")
    ))
}

/// One `"name" type [NOT NULL]` per column, in order: `NOT NULL` where the Arrow field
/// is not nullable.
pub(crate) fn column_definitions(spec: &TableSpec) -> Result<Vec<String>, PostgresError> {
    spec.columns
        .fields()
        .iter()
        .map(|field| {
            let not_null = if field.is_nullable() { "" } else { " NOT NULL" };
            Ok(format!(
                "{} {}{not_null}",
                quote_ident(field.name()),
                pg_type(field.data_type())?
            ))
        })
        .collect()
}

/// `PRIMARY KEY (<columns>)`.
pub(crate) fn primary_key_clause(spec: &TableSpec) -> String {
    format!("PRIMARY KEY ({})", quote_list(&spec.primary_key))
}

/// `FOREIGN KEY (<columns>) REFERENCES <referenced> (<columns>) DEFERRABLE INITIALLY
/// IMMEDIATE`, `referenced` already quoted.
pub(crate) fn foreign_key_clause(referenced: &str, key: &ForeignKey) -> String {
    format!(
        "FOREIGN KEY ({}) REFERENCES {referenced} ({}) DEFERRABLE INITIALLY IMMEDIATE",
        quote_list(&key.columns),
        quote_list(&key.references_columns)
    )
}

/// The name of the primary key (and its index) of table `table`.
pub(crate) fn primary_key_name(table: &str) -> String {
    object_name(&[table], "pkey")
}

/// The name of a foreign key of table `table`.
pub(crate) fn foreign_key_name(table: &str, key: &ForeignKey) -> String {
    let mut parts = vec![table];
    parts.extend(key.columns.iter().map(String::as_str));
    object_name(&parts, "fkey")
}

/// The name of table `table`'s index on `columns`.
pub(crate) fn index_name(table: &str, columns: &[String]) -> String {
    let mut parts = vec![table];
    parts.extend(columns.iter().map(String::as_str));
    object_name(&parts, "idx")
}

/// The column sets to index: the spec's indexes, then each foreign key's columns, without
/// repeats and without those that the primary key's index already serves.
pub(crate) fn index_column_sets(spec: &TableSpec) -> Vec<&[String]> {
    let mut sets: Vec<&[String]> = Vec::new();
    let candidates = spec
        .indexes
        .iter()
        .map(Vec::as_slice)
        .chain(spec.foreign_keys.iter().map(|k| k.columns.as_slice()));
    for columns in candidates {
        let served_by_key = spec.primary_key.starts_with(columns);
        if !served_by_key && !sets.contains(&columns) {
            sets.push(columns);
        }
    }
    sets
}

fn create_index(spec: &TableSpec, columns: &[String]) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} ({})",
        quote_ident(&index_name(&spec.name, columns)),
        spec.qualified(),
        quote_list(columns)
    )
}

/// `COMMENT ON COLUMN <table>.<column> IS <text>`, `table` already quoted.
pub(crate) fn comment(table: &str, column: &str, text: &str) -> String {
    format!(
        "COMMENT ON COLUMN {table}.{} IS {}",
        quote_ident(column),
        quote_literal(text)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn fact_spec() -> TableSpec {
        let columns = Arc::new(Schema::new(vec![
            Field::new("transaction_id", DataType::Utf8, false),
            Field::new("client_key", DataType::Int64, false),
            Field::new("amount", DataType::Decimal128(18, 2), false),
            Field::new(
                "booked_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("Odd \"Col\"", DataType::Boolean, true),
        ]));
        TableSpec {
            schema: "bank_dw".into(),
            name: "fact_transactions".into(),
            columns,
            primary_key: vec!["transaction_id".into()],
            foreign_keys: vec![ForeignKey {
                columns: vec!["client_key".into()],
                references_table: "dim_clients".into(),
                references_columns: vec!["client_key".into()],
            }],
            indexes: vec![
                vec!["booked_at".into()],
                vec!["client_key".into()],
                vec!["transaction_id".into()],
            ],
            comments: BTreeMap::from([(
                "amount".into(),
                "in the account's currency, 'as is'".into(),
            )]),
        }
    }

    #[test]
    fn creates_schema_table_keys_indexes_and_comments() {
        let statements = create_statements(&fact_spec()).unwrap();
        let expected = [
            "CREATE SCHEMA IF NOT EXISTS \"bank_dw\"",
            "CREATE TABLE IF NOT EXISTS \"bank_dw\".\"fact_transactions\" (\n    \
             \"transaction_id\" text NOT NULL,\n    \
             \"client_key\" bigint NOT NULL,\n    \
             \"amount\" numeric(18,2) NOT NULL,\n    \
             \"booked_at\" timestamptz,\n    \
             \"Odd \"\"Col\"\"\" boolean,\n    \
             CONSTRAINT \"fact_transactions_pkey\" PRIMARY KEY (\"transaction_id\"),\n    \
             CONSTRAINT \"fact_transactions_client_key_fkey\" FOREIGN KEY (\"client_key\") \
             REFERENCES \"bank_dw\".\"dim_clients\" (\"client_key\") \
             DEFERRABLE INITIALLY IMMEDIATE\n)",
            "CREATE INDEX IF NOT EXISTS \"fact_transactions_booked_at_idx\" \
             ON \"bank_dw\".\"fact_transactions\" (\"booked_at\")",
            "CREATE INDEX IF NOT EXISTS \"fact_transactions_client_key_idx\" \
             ON \"bank_dw\".\"fact_transactions\" (\"client_key\")",
            "COMMENT ON COLUMN \"bank_dw\".\"fact_transactions\".\"amount\" \
             IS E'in the account''s currency, ''as is'''",
        ];
        assert_eq!(statements, expected);
    }

    #[test]
    fn rejects_keys_on_missing_columns() {
        let mut spec = fact_spec();
        spec.primary_key = vec!["nope".into()];
        let message = create_statements(&spec).unwrap_err().to_string();
        assert!(message.contains("\"nope\""), "{message}");
        assert!(message.contains("bank_dw.fact_transactions"), "{message}");

        let mut spec = fact_spec();
        spec.foreign_keys[0].references_columns.push("extra".into());
        let message = create_statements(&spec).unwrap_err().to_string();
        assert!(message.contains("refers to 2 column(s)"), "{message}");
    }

    #[test]
    fn rejects_unsupported_types_naming_the_column() {
        let mut spec = fact_spec();
        spec.columns = Arc::new(Schema::new(vec![Field::new("x", DataType::UInt32, true)]));
        spec.primary_key.clear();
        spec.foreign_keys.clear();
        spec.indexes.clear();
        spec.comments.clear();
        let message = create_statements(&spec).unwrap_err().to_string();
        assert!(
            message.contains("UInt32") && message.contains("\"x\""),
            "{message}"
        );
    }
}
