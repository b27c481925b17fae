//! The SQLite backend: a file in the data folder, in WAL mode (readers do not wait for
//! the writer; writers from several processes wait up to 10 s for each other), its
//! schema version kept in `user_version`.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior, params_from_iter};

use super::value::{Row, Value};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::store::schema::SQLITE_MIGRATIONS;

/// Opens (or creates) the file at `path`, with its folder, and migrates it.
pub(super) fn open(path: &Path) -> Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| RuntimeError::Folder {
            path: parent.to_owned(),
            source,
        })?;
    }
    let mut connection = Connection::open(path).map_err(|source| RuntimeError::Open {
        path: path.to_owned(),
        source,
    })?;
    prepare(&mut connection, path)?;
    Ok(connection)
}

/// Sets the connection up (WAL, foreign keys, a busy timeout for other processes) and
/// applies the migrations it lacks.
fn prepare(connection: &mut Connection, path: &Path) -> Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
        row.get::<_, String>(0)
    })?;
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    let supported = SQLITE_MIGRATIONS.len() as i64;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > supported {
        return Err(RuntimeError::StoreTooNew {
            store: path.display().to_string(),
            found,
            supported,
        });
    }
    for migration in &SQLITE_MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
        transaction.execute_batch(migration)?;
    }
    transaction.pragma_update(None, "user_version", supported)?;
    transaction.commit()?;
    Ok(())
}

/// Runs a statement; the rows it changed.
pub(super) fn execute(connection: &Connection, sql: &str, params: &[Value]) -> Result<u64> {
    let mut statement = connection.prepare_cached(sql)?;
    Ok(statement.execute(params_from_iter(params))? as u64)
}

/// Runs a query; its rows.
pub(super) fn query(connection: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
    let mut statement = connection.prepare_cached(sql)?;
    let columns: Arc<[String]> = statement.column_names().map(str::to_owned).collect();
    let mut rows = statement.query(params_from_iter(params))?;
    let mut read = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|index| row.get_ref(index).map(value))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        read.push(Row::new(Arc::clone(&columns), values));
    }
    Ok(read)
}

/// A value as SQLite returned it.
fn value(stored: ValueRef<'_>) -> Value {
    match stored {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Real(v),
        // The store writes no blobs; text is UTF-8 (what it wrote).
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Value::Text(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::from(rusqlite::types::Null),
            Value::Int(v) => ToSqlOutput::from(*v),
            Value::Real(v) => ToSqlOutput::from(*v),
            Value::Text(v) => ToSqlOutput::from(v.as_str()),
            Value::Bool(v) => ToSqlOutput::from(*v),
            Value::Time(at) => ToSqlOutput::from(Value::sqlite_time(at)),
        })
    }
}
