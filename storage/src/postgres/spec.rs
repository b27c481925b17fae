//! What a warehouse table looks like: columns, keys, indexes and comments.

use std::collections::{BTreeMap, HashSet};

use arrow::datatypes::SchemaRef;

use super::error::PostgresError;
use super::ident::qualified;
use super::types::pg_type;

/// A table of the warehouse: its Arrow columns (in order) and its constraints.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The PostgreSQL schema (e.g. `bank_dw`), created if missing.
    pub schema: String,
    /// The table's name.
    pub name: String,
    /// The columns: names, Arrow types (see [`pg_type`]) and nullability (`NOT NULL`
    /// where the field is not nullable).
    pub columns: SchemaRef,
    /// The primary key's columns (may be empty; [`LoadMode::Upsert`] needs one).
    ///
    /// [`LoadMode::Upsert`]: super::LoadMode::Upsert
    pub primary_key: Vec<String>,
    /// Foreign keys to other tables of the same schema.
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes to create, each a list of columns (every foreign key gets one anyway).
    pub indexes: Vec<Vec<String>>,
    /// Column comments: column name → comment.
    pub comments: BTreeMap<String, String>,
}

/// A foreign key: `columns` of this table refer to `references_columns` of
/// `references_table` in the same schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// The referring columns of this table.
    pub columns: Vec<String>,
    /// The referred table, in the same schema.
    pub references_table: String,
    /// The referred columns (its primary key or another unique key), in the same order.
    pub references_columns: Vec<String>,
}

impl TableSpec {
    /// `"schema"."name"`, quoted for SQL.
    pub(crate) fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// Whether `other` is the same table (same schema and name).
    pub(crate) fn same_table(&self, other: &TableSpec) -> bool {
        self.schema == other.schema && self.name == other.name
    }

    /// `schema.name`, for messages.
    pub(crate) fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The column names, in order.
    pub(crate) fn column_names(&self) -> Vec<&str> {
        self.columns
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> PostgresError {
        PostgresError::InvalidSpec {
            table: self.display_name(),
            message: message.into(),
        }
    }

    /// Checks that the spec is consistent: names are usable, every column has a type,
    /// and every key, index and comment names existing columns.
    pub(crate) fn validate(&self) -> Result<(), PostgresError> {
        self.check_names()?;
        for field in self.columns.fields() {
            pg_type(field.data_type())
                .map_err(|_| PostgresError::unsupported(field.data_type(), Some(field.name())))?;
        }
        if !self.primary_key.is_empty() {
            self.check_columns("primary key", &self.primary_key)?;
        }
        for key in &self.foreign_keys {
            self.check_foreign_key(key)?;
        }
        for index in &self.indexes {
            self.check_columns("index", index)?;
        }
        for (column, comment) in &self.comments {
            self.check_columns("comment", std::slice::from_ref(column))?;
            check_no_nul("comment", comment).map_err(|m| self.invalid(m))?;
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), PostgresError> {
        check_name("schema name", &self.schema).map_err(|m| self.invalid(m))?;
        check_name("table name", &self.name).map_err(|m| self.invalid(m))?;
        if self.columns.fields().is_empty() {
            return Err(self.invalid("it has no columns"));
        }
        let mut seen = HashSet::new();
        for name in self.column_names() {
            check_name("column name", name).map_err(|m| self.invalid(m))?;
            if !seen.insert(name) {
                return Err(self.invalid(format!("column \"{name}\" appears twice")));
            }
        }
        Ok(())
    }

    fn check_foreign_key(&self, key: &ForeignKey) -> Result<(), PostgresError> {
        self.check_columns("foreign key", &key.columns)?;
        check_name("referenced table name", &key.references_table).map_err(|m| self.invalid(m))?;
        if key.columns.len() != key.references_columns.len() {
            return Err(self.invalid(format!(
                "foreign key ({}) lists {} column(s) but refers to {} column(s) of {}",
                key.columns.join(", "),
                key.columns.len(),
                key.references_columns.len(),
                key.references_table
            )));
        }
        for column in &key.references_columns {
            check_name("referenced column name", column).map_err(|m| self.invalid(m))?;
        }
        Ok(())
    }

    fn check_columns(&self, what: &str, columns: &[String]) -> Result<(), PostgresError> {
        if columns.is_empty() {
            return Err(self.invalid(format!("an empty {what}: it lists no column")));
        }
        match columns.iter().find(|c| self.columns.index_of(c).is_err()) {
            Some(missing) => Err(self.invalid(format!(
                "the {what} names column \"{missing}\", which is not among the columns ({})",
                self.column_names().join(", ")
            ))),
            None => Ok(()),
        }
    }
}

/// A name must be non-empty and free of NUL.
fn check_name(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    check_no_nul(what, text)
}

/// PostgreSQL cannot store a NUL character in a name or a comment.
fn check_no_nul(what: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err(format!("the {what} {text:?} contains a NUL character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn spec(columns: &[&str]) -> TableSpec {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(*c, DataType::Int64, true))
            .collect();
        TableSpec {
            schema: "s".into(),
            name: "t".into(),
            columns: Arc::new(Schema::new(fields)),
            primary_key: vec![],
            foreign_keys: vec![],
            indexes: vec![],
            comments: BTreeMap::new(),
        }
    }

    fn problem(spec: &TableSpec) -> String {
        spec.validate()
            .map(|()| "valid".to_owned())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn a_table_without_keys_is_valid() {
        assert_eq!(problem(&spec(&["a"])), "valid");
    }

    #[test]
    fn refuses_empty_repeated_and_nul_names() {
        assert!(problem(&spec(&[])).contains("no columns"));
        assert!(problem(&spec(&["a", "a"])).contains("\"a\" appears twice"));
        assert!(problem(&spec(&["a\0b"])).contains("NUL"));
        let mut empty_name = spec(&["a"]);
        empty_name.name.clear();
        assert!(problem(&empty_name).contains("table name is empty"));
    }

    #[test]
    fn comments_may_be_empty_but_not_hold_nul() {
        let mut with_comment = spec(&["a"]);
        with_comment.comments.insert("a".into(), String::new());
        assert_eq!(problem(&with_comment), "valid");
        with_comment.comments.insert("a".into(), "x\0".into());
        assert!(problem(&with_comment).contains("NUL"));
        with_comment.comments = BTreeMap::from([("b".into(), "c".into())]);
        assert!(problem(&with_comment).contains("the comment names column \"b\""));
    }

    #[test]
    fn an_index_needs_columns() {
        let mut spec = spec(&["a"]);
        spec.indexes.push(vec![]);
        assert!(problem(&spec).contains("an empty index"));
    }
}
