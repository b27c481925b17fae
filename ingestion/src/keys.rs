//! Keys seen so far: duplicates and re-deliveries within an entity, and references
//! between entities.
//!
//! A key is kept as a 128-bit hash of its values, with a 64-bit note of the row that
//! holds it (its delivery and a hash of its values), so ten million keys take about
//! 400 MB, whatever their length; a collision is as likely as none in practice
//! (about 10⁻²⁵ for 10⁷ keys).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int32Type, TimestampMicrosecondType};
use arrow::error::ArrowError;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

/// The hash of a key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(u64, u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // A hash already: its low half is as good a bucket as any.
        state.write_u64(self.0);
    }
}

/// The row that holds a key: the delivery (file) it came in and a hash of its values
/// (48 bits: enough to tell a re-delivered row from a changed one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder(u64);

impl Holder {
    /// The row of delivery `delivery` whose values hash to `content`.
    pub fn new(delivery: u16, content: u64) -> Holder {
        Holder(u64::from(delivery) << 48 | (content & 0xffff_ffff_ffff))
    }

    /// The delivery the row came in.
    pub fn delivery(self) -> u16 {
        (self.0 >> 48) as u16
    }

    /// Whether the two rows have the same values.
    pub fn same_values(self, other: Holder) -> bool {
        self.0 << 16 == other.0 << 16
    }
}

/// The keys of one entity, each with the row that holds it.
#[derive(Debug, Default)]
pub struct KeySet(HashMap<Key, Holder, BuildHasherDefault<PassThrough>>);

/// A hasher for keys that are hashes already: it keeps the one `u64` it is given.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Key`; fold anything else in.
        self.0 = bytes
            .iter()
            .fold(self.0, |h, b| h.rotate_left(8) ^ u64::from(*b));
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

impl KeySet {
    /// Adds `key`, held by `holder`, unless it is there already: then returns the
    /// row that holds it (and keeps that one).
    pub fn insert(&mut self, key: Key, holder: Holder) -> Option<Holder> {
        match self.0.entry(key) {
            std::collections::hash_map::Entry::Occupied(held) => Some(*held.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(holder);
                None
            }
        }
    }

    /// Whether the key is there.
    pub fn contains(&self, key: Key) -> bool {
        self.0.contains_key(&key)
    }

    /// Removes a key.
    pub fn remove(&mut self, key: Key) {
        self.0.remove(&key);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the key of every row of `batch` in its columns `key_columns` (in the
    /// key's order; a row with a null in its key has none), such as a parent's
    /// accepted keys read back from its processed table, to check references against.
    /// Text read back in another layout (`Utf8View`, `LargeUtf8`) is
    /// hashed as the text it is, so the keys are those ingestion found.
    pub fn extend_from_batch(
        &mut self,
        batch: &RecordBatch,
        key_columns: &[&str],
    ) -> Result<(), ArrowError> {
        let columns = key_columns
            .iter()
            .map(|name| {
                let column = batch.column(batch.schema_ref().index_of(name)?);
                match column.data_type() {
                    DataType::Utf8View | DataType::LargeUtf8 => cast(column, &DataType::Utf8),
                    _ => Ok(Arc::clone(column)),
                }
            })
            .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
        let columns: Vec<&ArrayRef> = columns.iter().collect();
        let holder = Holder::new(0, 0);
        for row in 0..batch.num_rows() {
            if let Some(key) = key_of(&columns, row) {
                self.insert(key, holder);
            }
        }
        Ok(())
    }
}

/// The hash of row `row`'s values in `columns` (null where a value is null: a key
/// with a null in it is no key). A key of one column, the usual case, is hashed in
/// one call; composite keys value by value, each followed by a separator.
pub fn key_of(columns: &[&ArrayRef], row: usize) -> Option<Key> {
    let digest = match columns {
        [column] if column.is_valid(row) => with_bytes(column, row, xxh3_128)?,
        [_] => return None,
        _ => {
            let mut hasher = Xxh3::new();
            for column in columns {
                if column.is_null(row) || !hash_value(&mut hasher, column, row) {
                    return None;
                }
            }
            hasher.digest128()
        }
    };
    Some(Key(digest as u64, (digest >> 64) as u64))
}

/// A hash of each row's values in `columns`, nulls included, computed column by
/// column (DataFusion's vectorised hashing, with a fixed seed).
pub fn values_hashes(columns: &[ArrayRef], rows: usize) -> Vec<u64> {
    let mut hashes = vec![0; rows];
    let state = RandomState::with_seed(0);
    if create_hashes(columns, &state, &mut hashes).is_err() {
        // A type the vectorised hashing does not know: hash row by row instead.
        for (row, hash) in hashes.iter_mut().enumerate() {
            let mut hasher = Xxh3::new();
            for column in columns {
                hasher.update(&[u8::from(column.is_valid(row))]);
                if column.is_valid(row) {
                    hash_value(&mut hasher, column, row);
                }
            }
            *hash = hasher.digest();
        }
    }
    hashes
}

/// Feeds one non-null value, then a separator; false for a type keys never have.
fn hash_value(hasher: &mut Xxh3, column: &ArrayRef, row: usize) -> bool {
    let fed = with_bytes(column, row, |bytes| hasher.update(bytes)).is_some();
    if fed {
        hasher.update(&[0x1f]);
    }
    fed
}

/// `f` of the bytes of one non-null value; none for a type keys never have.
fn with_bytes<R>(column: &ArrayRef, row: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    Some(match column.data_type() {
        DataType::Utf8 => f(column.as_string::<i32>().value(row).as_bytes()),
        DataType::Date32 => f(&column.as_primitive::<Date32Type>().value(row).to_le_bytes()),
        DataType::Int32 => f(&column.as_primitive::<Int32Type>().value(row).to_le_bytes()),
        DataType::Timestamp(..) => f(&column
            .as_primitive::<TimestampMicrosecondType>()
            .value(row)
            .to_le_bytes()),
        DataType::Decimal128(..) => f(&column
            .as_primitive::<Decimal128Type>()
            .value(row)
            .to_le_bytes()),
        DataType::Boolean => f(&[u8::from(column.as_boolean().value(row))]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, StringArray, StringViewArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn composite_keys_differ_by_any_part_and_nulls_have_none() {
        let ids: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("a"),
            Some("a"),
            None,
        ]));
        let days: ArrayRef = Arc::new(arrow::array::Date32Array::from(vec![1, 2, 1]));
        let first = key_of(&[&ids, &days], 0);
        assert!(first.is_some());
        assert_ne!(first, key_of(&[&ids, &days], 1));
        assert_eq!(key_of(&[&ids, &days], 2), None);
        assert_eq!(key_of(&[&ids], 0), key_of(&[&ids], 1));
    }

    #[test]
    fn a_key_keeps_its_first_holder_and_tells_changed_values() {
        let ids: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["t1", "t1", "t1"]));
        let status: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            Some("booked"),
            Some("booked"),
            None,
        ]));
        let columns = [ids.clone(), status];
        let hashes = values_hashes(&columns, 3);
        let key = key_of(&[&ids], 0).expect("a key");
        let mut keys = KeySet::default();
        let first = Holder::new(7, hashes[0]);
        assert_eq!(keys.insert(key, first), None);
        let held = keys.insert(key, Holder::new(3, hashes[1])).expect("held");
        assert_eq!(held.delivery(), 7);
        assert!(held.same_values(Holder::new(3, hashes[1])));
        assert!(!held.same_values(Holder::new(3, hashes[2])));
        assert!(keys.contains(key) && keys.len() == 1);
    }

    #[test]
    fn keys_read_back_from_a_table_are_the_keys_ingestion_found() {
        let ids = ["c1", "c2", "c1"];
        let typed: ArrayRef = Arc::new(StringArray::from(ids.to_vec()));
        // Read back from Parquet, text may come as views: the keys are the same.
        let schema = Arc::new(Schema::new(vec![
            Field::new("client_id", DataType::Utf8View, true),
            Field::new("opened", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from(vec![Some("c1"), Some("c2"), None])),
                Arc::new(Date32Array::from(vec![1, 2, 3])),
            ],
        )
        .expect("batch");
        let mut keys = KeySet::default();
        keys.extend_from_batch(&batch, &["client_id"])
            .expect("keys");
        assert_eq!(keys.len(), 2, "a null key is no key");
        for row in 0..ids.len() {
            assert!(keys.contains(key_of(&[&typed], row).expect("a key")));
        }
        let other: ArrayRef = Arc::new(StringArray::from(vec!["c3"]));
        assert!(!keys.contains(key_of(&[&other], 0).expect("a key")));
        assert!(keys.extend_from_batch(&batch, &["account_id"]).is_err());
    }
}
