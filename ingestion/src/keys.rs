//! Keys seen so far: duplicates within an entity and references between entities.
//!
//! A key is kept as a 128-bit hash of its values, so ten million keys take about
//! 300 MB, whatever their length; a collision is as likely as none in practice
//! (about 10⁻²⁵ for 10⁷ keys).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Int32Type, TimestampMicrosecondType};
use xxhash_rust::xxh3::Xxh3;

/// The set of keys of one entity.
#[derive(Debug, Default)]
pub struct KeySet(HashSet<u128, BuildHasherDefault<PreHashed>>);

/// A hasher for keys that are hashes already: it keeps their low 64 bits instead of
/// hashing them again.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used for `u128` keys; fold anything else in.
        self.0 = bytes
            .iter()
            .fold(self.0, |h, b| h.rotate_left(8) ^ u64::from(*b));
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

impl KeySet {
    /// Adds a key; false when it was there already.
    pub fn insert(&mut self, key: u128) -> bool {
        self.0.insert(key)
    }

    /// Whether the key is there.
    pub fn contains(&self, key: u128) -> bool {
        self.0.contains(&key)
    }

    /// Removes a key.
    pub fn remove(&mut self, key: u128) {
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
}

/// The hash of row `row`'s values in `columns` (null where a value is null: a key
/// with a null in it is no key).
pub fn key_of(columns: &[&ArrayRef], row: usize) -> Option<u128> {
    let mut hasher = Xxh3::new();
    for column in columns {
        if column.is_null(row) {
            return None;
        }
        match column.data_type() {
            DataType::Utf8 => hasher.update(column.as_string::<i32>().value(row).as_bytes()),
            DataType::Date32 => {
                hasher.update(&column.as_primitive::<Date32Type>().value(row).to_le_bytes())
            }
            DataType::Int32 => {
                hasher.update(&column.as_primitive::<Int32Type>().value(row).to_le_bytes())
            }
            DataType::Timestamp(..) => hasher.update(
                &column
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .to_le_bytes(),
            ),
            DataType::Decimal128(..) => hasher.update(
                &column
                    .as_primitive::<Decimal128Type>()
                    .value(row)
                    .to_le_bytes(),
            ),
            DataType::Boolean => hasher.update(&[u8::from(column.as_boolean().value(row))]),
            _ => return None,
        }
        hasher.update(&[0x1f]);
    }
    Some(hasher.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
}
