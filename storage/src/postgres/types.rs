//! Arrow → PostgreSQL type mapping: the DDL type name and the wire type of each column.

use arrow::datatypes::{DataType, TimeUnit};
use tokio_postgres::types::Type;

use super::error::PostgresError;

/// The PostgreSQL column type (as written in DDL) for an Arrow type.
///
/// | Arrow | PostgreSQL |
/// |---|---|
/// | `Utf8`, `LargeUtf8`, `Utf8View` | `text` |
/// | `Int16`, `Int32`, `Int64` | `smallint`, `integer`, `bigint` |
/// | `Float32`, `Float64` | `real`, `double precision` |
/// | `Boolean` | `boolean` |
/// | `Date32` | `date` |
/// | `Timestamp(Microsecond, Some(_))` | `timestamptz` |
/// | `Timestamp(Microsecond, None)` | `timestamp` |
/// | `Decimal128(p, s)` | `numeric(p,s)` |
///
/// Any other type is an [`PostgresError::UnsupportedType`] naming it.
pub fn pg_type(data_type: &DataType) -> Result<String, PostgresError> {
    if let DataType::Decimal128(precision, scale) = data_type {
        return Ok(format!("numeric({precision},{scale})"));
    }
    let name = match wire_type(data_type)? {
        Type::TEXT => "text",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::BOOL => "boolean",
        Type::DATE => "date",
        Type::TIMESTAMPTZ => "timestamptz",
        _ => "timestamp",
    };
    Ok(name.to_owned())
}

/// The PostgreSQL type of a column on the wire (binary COPY), for an Arrow type.
pub(crate) fn wire_type(data_type: &DataType) -> Result<Type, PostgresError> {
    Ok(match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Int16 => Type::INT2,
        DataType::Int32 => Type::INT4,
        DataType::Int64 => Type::INT8,
        DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Boolean => Type::BOOL,
        DataType::Date32 => Type::DATE,
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Timestamp(TimeUnit::Microsecond, None) => Type::TIMESTAMP,
        DataType::Decimal128(_, _) => Type::NUMERIC,
        other => return Err(PostgresError::unsupported(other, None)),
    })
}

/// Whether a batch column of type `actual` can be written into a column declared as
/// `declared`: the same wire type, and for decimals the same scale (the precision may
/// differ: the server checks that each value fits).
pub(crate) fn compatible(declared: &DataType, actual: &DataType) -> bool {
    let same_wire = matches!(
        (wire_type(declared), wire_type(actual)),
        (Ok(a), Ok(b)) if a == b
    );
    match (declared, actual) {
        (DataType::Decimal128(_, a), DataType::Decimal128(_, b)) => a == b,
        _ => same_wire,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::Field;

    use super::*;

    #[test]
    fn maps_every_supported_type() {
        let utc = Some(Arc::from("UTC"));
        let cases = [
            (DataType::Utf8, "text"),
            (DataType::LargeUtf8, "text"),
            (DataType::Utf8View, "text"),
            (DataType::Int16, "smallint"),
            (DataType::Int32, "integer"),
            (DataType::Int64, "bigint"),
            (DataType::Float32, "real"),
            (DataType::Float64, "double precision"),
            (DataType::Boolean, "boolean"),
            (DataType::Date32, "date"),
            (
                DataType::Timestamp(TimeUnit::Microsecond, utc),
                "timestamptz",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "timestamp",
            ),
            (DataType::Decimal128(18, 2), "numeric(18,2)"),
            (DataType::Decimal128(38, 6), "numeric(38,6)"),
        ];
        for (arrow, expected) in cases {
            assert_eq!(pg_type(&arrow).ok().as_deref(), Some(expected), "{arrow}");
        }
    }

    #[test]
    fn names_the_unsupported_type() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Int8, true)));
        for arrow in [
            DataType::Int8,
            DataType::UInt64,
            DataType::Date64,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            list,
        ] {
            let message = pg_type(&arrow).map(|_| ()).unwrap_err().to_string();
            assert!(message.contains(&arrow.to_string()), "{message}");
        }
    }

    #[test]
    fn decimal_scale_must_match_but_precision_may_differ() {
        assert!(compatible(
            &DataType::Decimal128(18, 2),
            &DataType::Decimal128(38, 2)
        ));
        assert!(!compatible(
            &DataType::Decimal128(18, 2),
            &DataType::Decimal128(18, 3)
        ));
        assert!(compatible(&DataType::Utf8, &DataType::Utf8View));
        assert!(!compatible(&DataType::Int64, &DataType::Int32));
    }
}
