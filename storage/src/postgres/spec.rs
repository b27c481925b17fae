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

    /// `schema.name`, for messages.
    pub(crate) fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The column names, in order.
    pub(crate) fn column_names(&self) -> Vec<&str> {
        self.columns.fields().iter().map(|f| f.name().as_str()).collect()
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
        self.check_columns("primary key", &self.primary_key)?;
        for key in &self.foreign_keys {
            self.check_foreign_key(key)?;
        }
        for index in &self.indexes {
            self.check_columns("index", index)?;
        }
        for (column, comment) in &self.comments {
            self.check_columns("comment", std::slice::from_ref(column))?;
            check_text("comment", comment).map_err(|m| self.invalid(m))?;
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), PostgresError> {
        check_text("schema name", &self.schema).map_err(|m| self.invalid(m))?;
        check_text("table name", &self.name).map_err(|m| self.invalid(m))?;
        if self.columns.fields().is_empty() {
            return Err(self.invalid("it has no columns"));
        }
        let mut seen = HashSet::new();
        for name in self.column_names() {
            check_text("column name", name).map_err(|m| self.invalid(m))?;
            if !seen.insert(name) {
                return Err(self.invalid(format!("column \"{name}\" appears twice")));
            }
        }
        Ok(())
    }

    fn check_foreign_key(&self, key: &ForeignKey) -> Result<(), PostgresError> {
        self.check_columns("foreign key", &key.columns)?;
        check_text("referenced table name", &key.references_table)
            .map_err(|m| self.invalid(m))?;
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
            check_text("referenced column name", column).map_err(|m| self.invalid(m))?;
        }
        Ok(())
    }

    fn check_columns(&self, what: &str, columns: &[String]) -> Result<(), PostgresError> {
        if columns.is_empty() && what != "primary key" {
            return Err(self.invalid(format!("a {what} lists no column")));
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

/// A name or comment must be non-empty (names) and free of NUL, which PostgreSQL cannot
/// store.
fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() && what != "comment" {
        return Err(format!("the {what} is empty"));
    }
    if text.contains('\0') {
        return Err(format!("the {what} {text:?} contains a NUL character"));
    }
    Ok(())
}
