//! Arrow columns written as binary COPY fields, without going through text.
//!
//! Each column of a batch is downcast once into a [`ColumnWriter`]; a row is then written
//! as one [`Cell`] per column, which appends the field's bytes in PostgreSQL's binary
//! format straight from the Arrow buffers (no allocation per row).

use std::error::Error;
use std::fmt;

use arrow::array::{Array, AsArray, LargeStringArray, StringArray, StringViewArray};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType,
};
use tokio_postgres::types::private::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};

use super::error::PostgresError;
use super::numeric::Numeric;

type BoxError = Box<dyn Error + Sync + Send>;

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One column of a batch, downcast once, ready to write any of its rows.
pub(crate) struct ColumnWriter<'a> {
    name: &'a str,
    nulls: Option<&'a NullBuffer>,
    values: Values<'a>,
    /// Rows of the stream before this batch, for messages.
    first_row: u64,
}

/// The typed values of a column.
enum Values<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Int16(&'a [i16]),
    Int32(&'a [i32]),
    Int64(&'a [i64]),
    Float32(&'a [f32]),
    Float64(&'a [f64]),
    Boolean(&'a BooleanBuffer),
    /// Days since 1970-01-01.
    Date(&'a [i32]),
    /// Microseconds since 1970-01-01 (UTC for `timestamptz`).
    Timestamp(&'a [i64]),
    /// Unscaled values and their scale.
    Numeric(&'a [i128], i8),
}

impl<'a> ColumnWriter<'a> {
    /// The writer of column `name`, whose first row is row `first_row` of the stream.
    pub(crate) fn new(
        name: &'a str,
        array: &'a dyn Array,
        first_row: u64,
    ) -> Result<ColumnWriter<'a>, PostgresError> {
        let values = values(array)
            .ok_or_else(|| PostgresError::unsupported(array.data_type(), Some(name)))?;
        Ok(ColumnWriter {
            name,
            nulls: array.nulls(),
            values,
            first_row,
        })
    }

    /// The field of this column at `row`, to hand to the COPY writer.
    pub(crate) fn cell(&self, row: usize) -> Cell<'_, 'a> {
        Cell { column: self, row }
    }

    /// Appends the binary field of `row` to `out`.
    fn write(&self, row: usize, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.nulls.is_some_and(|nulls| nulls.is_null(row)) {
            return Ok(IsNull::Yes);
        }
        match self.values {
            Values::Utf8(array) => out.extend_from_slice(array.value(row).as_bytes()),
            Values::LargeUtf8(array) => out.extend_from_slice(array.value(row).as_bytes()),
            Values::Utf8View(array) => out.extend_from_slice(array.value(row).as_bytes()),
            Values::Int16(values) => out.extend_from_slice(&values[row].to_be_bytes()),
            Values::Int32(values) => out.extend_from_slice(&values[row].to_be_bytes()),
            Values::Int64(values) => out.extend_from_slice(&values[row].to_be_bytes()),
            Values::Float32(values) => out.extend_from_slice(&values[row].to_be_bytes()),
            Values::Float64(values) => out.extend_from_slice(&values[row].to_be_bytes()),
            Values::Boolean(values) => out.extend_from_slice(&[u8::from(values.value(row))]),
            Values::Date(values) => {
                let days = pg_date(values[row]).ok_or_else(|| self.out_of_range(row, "date"))?;
                out.extend_from_slice(&days.to_be_bytes());
            }
            Values::Timestamp(values) => {
                let micros =
                    pg_timestamp(values[row]).ok_or_else(|| self.out_of_range(row, "timestamp"))?;
                out.extend_from_slice(&micros.to_be_bytes());
            }
            Values::Numeric(values, scale) => Numeric::encode(values[row], scale, out),
        }
        Ok(IsNull::No)
    }

    fn out_of_range(&self, row: usize, what: &str) -> BoxError {
        format!(
            "column \"{}\", row {} of the input: the {what} is outside PostgreSQL's range",
            self.name,
            self.first_row + row as u64 + 1
        )
        .into()
    }
}

/// Downcasts a column by its Arrow type; `None` for a type without a writer.
fn values(array: &dyn Array) -> Option<Values<'_>> {
    Some(match array.data_type() {
        DataType::Utf8 => Values::Utf8(array.as_string_opt::<i32>()?),
        DataType::LargeUtf8 => Values::LargeUtf8(array.as_string_opt::<i64>()?),
        DataType::Utf8View => Values::Utf8View(array.as_string_view_opt()?),
        DataType::Int16 => Values::Int16(array.as_primitive_opt::<Int16Type>()?.values()),
        DataType::Int32 => Values::Int32(array.as_primitive_opt::<Int32Type>()?.values()),
        DataType::Int64 => Values::Int64(array.as_primitive_opt::<Int64Type>()?.values()),
        DataType::Float32 => Values::Float32(array.as_primitive_opt::<Float32Type>()?.values()),
        DataType::Float64 => Values::Float64(array.as_primitive_opt::<Float64Type>()?.values()),
        DataType::Boolean => Values::Boolean(array.as_boolean_opt()?.values()),
        DataType::Date32 => Values::Date(array.as_primitive_opt::<Date32Type>()?.values()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Values::Timestamp(
            array
                .as_primitive_opt::<TimestampMicrosecondType>()?
                .values(),
        ),
        DataType::Decimal128(_, scale) => {
            Values::Numeric(array.as_primitive_opt::<Decimal128Type>()?.values(), *scale)
        }
        _ => return None,
    })
}

/// Days since 2000-01-01, or `None` where it overflows or would read as ±infinity.
fn pg_date(days: i32) -> Option<i32> {
    days.checked_sub(EPOCH_DAYS)
        .filter(|d| *d != i32::MIN && *d != i32::MAX)
}

/// Microseconds since 2000-01-01, or `None` where it overflows or would read as ±infinity.
fn pg_timestamp(micros: i64) -> Option<i64> {
    micros
        .checked_sub(EPOCH_MICROS)
        .filter(|m| *m != i64::MIN && *m != i64::MAX)
}

/// One field of a row: a column and a row index.
pub(crate) struct Cell<'w, 'a> {
    column: &'w ColumnWriter<'a>,
    row: usize,
}

impl fmt::Debug for Cell<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cell({:?}, row {})", self.column.name, self.row)
    }
}

impl ToSql for Cell<'_, '_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.column.write(self.row, out)
    }

    /// The loader checks each column's type once against the table spec, so every
    /// type it writes is accepted here.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.to_sql(ty, out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BooleanArray, BooleanBufferBuilder, Date32Array, Decimal128Array, Int64Array,
        TimestampMicrosecondArray,
    };

    use super::*;

    fn field(array: &ArrayRef, row: usize) -> Option<Vec<u8>> {
        let writer = ColumnWriter::new("c", array.as_ref(), 0).unwrap();
        let mut out = BytesMut::new();
        match writer
            .cell(row)
            .to_sql_checked(&Type::TEXT, &mut out)
            .unwrap()
        {
            IsNull::Yes => None,
            IsNull::No => Some(out.to_vec()),
        }
    }

    #[test]
    fn writes_binary_fields_from_arrow_buffers() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(-2), None]));
        assert_eq!(field(&ints, 0), Some((-2i64).to_be_bytes().to_vec()));
        assert_eq!(field(&ints, 1), None);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["é'x"]));
        assert_eq!(field(&text, 0), Some("é'x".as_bytes().to_vec()));
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(field(&bools, 1), Some(vec![0]));
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![10_957, 0]));
        assert_eq!(field(&dates, 0), Some(0i32.to_be_bytes().to_vec()));
        assert_eq!(field(&dates, 1), Some((-10_957i32).to_be_bytes().to_vec()));
        let stamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![EPOCH_MICROS + 1]));
        assert_eq!(field(&stamps, 0), Some(1i64.to_be_bytes().to_vec()));
    }

    #[test]
    fn sliced_arrays_write_their_own_rows() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let sliced = ints.slice(1, 2);
        assert_eq!(field(&sliced, 0), None);
        assert_eq!(field(&sliced, 1), Some(3i64.to_be_bytes().to_vec()));
        let mut bits = BooleanBufferBuilder::new(3);
        bits.append_slice(&[false, false, true]);
        let bools: ArrayRef = Arc::new(BooleanArray::new(bits.finish(), None));
        assert_eq!(field(&bools.slice(2, 1), 0), Some(vec![1]));
    }

    #[test]
    fn dates_out_of_range_name_column_and_row() {
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![0, i32::MIN]));
        let writer = ColumnWriter::new("opened_on", dates.as_ref(), 10).unwrap();
        let result = writer.cell(1).to_sql(&Type::DATE, &mut BytesMut::new());
        let Err(error) = result else {
            panic!("the date was accepted")
        };
        assert_eq!(
            error.to_string(),
            "column \"opened_on\", row 12 of the input: the date is outside PostgreSQL's range"
        );
    }

    #[test]
    fn decimals_keep_their_scale() {
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![-1])
                .with_precision_and_scale(18, 2)
                .unwrap(),
        );
        assert_eq!(field(&decimals, 0).map(|b| b.len()), Some(10));
    }
}
