//! Arrow schemas of the processed and quarantine layers.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::entity::{ColumnType, EntitySpec};

/// Lineage column of the processed layer: the file a row came from.
pub const SOURCE_FILE: &str = "_source_file";
/// Lineage column of the processed layer: the row's first line in that file
/// (1-based, header = line 1; null for rows built by a query over several sources).
pub const SOURCE_LINE: &str = "_source_line";

/// The time zone every timestamp of the warehouse is stored in.
pub const UTC: &str = "UTC";

/// The Arrow type a contract column is stored as once processed.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text | ColumnType::Code(_) | ColumnType::Country | ColumnType::Currency => {
            DataType::Utf8
        }
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        ColumnType::Decimal { scale } => DataType::Decimal128(18, scale),
        ColumnType::Int => DataType::Int32,
        ColumnType::Bool => DataType::Boolean,
    }
}

/// The contract columns of an entity as Arrow fields (required columns are not nullable).
pub fn contract_fields(spec: &EntitySpec) -> Vec<Field> {
    spec.columns
        .iter()
        .map(|c| Field::new(c.name, arrow_type(c.ty), !c.required))
        .collect()
}

/// The processed layer's schema: the contract columns, then the extra input
/// columns (carried as text), then the lineage columns.
pub fn processed_schema(spec: &EntitySpec, extra_columns: &[String]) -> SchemaRef {
    let mut fields = contract_fields(spec);
    fields.extend(
        extra_columns
            .iter()
            .map(|name| Field::new(name, DataType::Utf8, true)),
    );
    fields.push(Field::new(SOURCE_FILE, DataType::Utf8, false));
    fields.push(Field::new(SOURCE_LINE, DataType::Int64, true));
    Arc::new(Schema::new(fields))
}

/// The quarantine layer's schema, the same for every entity.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, true),
        Field::new("raw", DataType::Utf8, false),
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("run_id", DataType::Utf8, false),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Entity;

    #[test]
    fn transactions_schema_has_exact_types() {
        let schema = processed_schema(Entity::Transactions.spec(), &["branch".into()]);
        let amount = schema
            .field_with_name("amount")
            .map(|f| f.data_type().clone());
        assert_eq!(amount.ok(), Some(DataType::Decimal128(18, 2)));
        let booked = schema
            .field_with_name("booked_at")
            .map(|f| f.data_type().clone());
        assert_eq!(
            booked.ok(),
            Some(DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            ))
        );
        assert!(schema.field_with_name("mcc").is_ok_and(|f| f.is_nullable()));
        assert!(schema.field_with_name("branch").is_ok());
        assert_eq!(
            schema.fields().last().map(|f| f.name().as_str()),
            Some(SOURCE_LINE)
        );
    }
}
