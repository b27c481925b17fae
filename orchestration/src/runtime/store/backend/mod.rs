//! Where the run store keeps its tables: an embedded SQLite file (the default) or a
//! PostgreSQL schema. The store's statements are written once, in the SQL both
//! understand, with `?N` placeholders and [`Value`]s; what differs is behind
//! [`Backend`]'s methods (binding, reading, transactions, migrations) and
//! [`Dialect`]'s few expressions.
//!
//! Both backends are synchronous and called off the async threads (the store's
//! `call`): SQLite is a library call; PostgreSQL's client is async, so its calls are
//! driven with the runtime's [`Handle::block_on`](tokio::runtime::Handle::block_on)
//! from the blocking thread.

mod postgres;
mod sqlite;
mod value;

use std::fmt;
use std::path::PathBuf;

use tokio::runtime::Handle;

pub(crate) use postgres::PostgresConnection;
pub(crate) use value::{FromValue, Row, Value, values};

use super::records::BACKFILL_PARAMETER;
use crate::runtime::error::Result;

/// Where a run store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A schema of a PostgreSQL database (created if missing).
    Postgres {
        /// The server (`postgres://user@host:port/database`, with libpq's `sslmode`).
        url: String,
        /// The schema that holds the store's tables.
        schema: String,
    },
}

impl fmt::Display for StoreLocation {
    /// The file, or the server (without its password) and the schema.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres { url, schema } => write!(
                f,
                "PostgreSQL {}, schema {schema}",
                storage::postgres::describe_url(url)
            ),
        }
    }
}

/// An open connection to a run store.
pub(crate) enum Backend {
    /// An SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL schema (boxed: its connection is several times SQLite's).
    Postgres(Box<PostgresConnection>),
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite(_) => "Backend::Sqlite",
            Backend::Postgres(_) => "Backend::Postgres",
        })
    }
}

/// How a transaction locks the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// As its statements need.
    Deferred,
    /// The whole store for writing, from its first statement: two such transactions
    /// (from any process) never overlap. SQLite's `BEGIN IMMEDIATE`; on PostgreSQL, an
    /// advisory lock of the store's schema.
    Exclusive,
}

/// The expressions the two SQL dialects write differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// A run's backfill id: the [`BACKFILL_PARAMETER`] of its `parameters` (JSON
    /// text), as text.
    pub(crate) fn backfill(self) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract(parameters, '$.{BACKFILL_PARAMETER}')"),
            Dialect::Postgres => format!("(parameters::jsonb ->> '{BACKFILL_PARAMETER}')"),
        }
    }

    /// The day (UTC) of timestamp column `column`, as `YYYY-MM-DD` text.
    pub(crate) fn day(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({column}, 1, 10)"),
            Dialect::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// The seconds from timestamp column `start` to `end`, as a floating-point number.
    pub(crate) fn seconds_between(self, start: &str, end: &str) -> String {
        match self {
            Dialect::Sqlite => format!("(julianday({end}) - julianday({start})) * 86400.0"),
            Dialect::Postgres => format!("extract(epoch from ({end} - {start}))::float8"),
        }
    }
}

impl Backend {
    /// Opens the store at `location`, creating it (and migrating it) if needed.
    /// Blocking: call it off the async threads of `runtime` (which drives a
    /// PostgreSQL connection).
    pub(crate) fn open(location: &StoreLocation, runtime: Handle) -> Result<Backend> {
        match location {
            StoreLocation::Sqlite(path) => sqlite::open(path).map(Backend::Sqlite),
            StoreLocation::Postgres { url, schema } => {
                PostgresConnection::open(url, schema, runtime)
                    .map(|c| Backend::Postgres(Box::new(c)))
            }
        }
    }

    /// Its dialect.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs statement `sql` with `params`; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Backend::Sqlite(connection) => sqlite::execute(connection, sql, params),
            Backend::Postgres(connection) => connection.execute(sql, params),
        }
    }

    /// Runs query `sql` with `params`; returns its rows.
    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self {
            Backend::Sqlite(connection) => sqlite::query(connection, sql, params),
            Backend::Postgres(connection) => connection.query(sql, params),
        }
    }

    /// The first row of query `sql`, if any.
    pub(crate) fn query_first(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The value of column `column` of the first row of query `sql` (a query that
    /// always returns a row, such as an aggregate's).
    pub(crate) fn query_value<T: FromValue>(
        &mut self,
        sql: &str,
        params: &[Value],
        column: &str,
    ) -> Result<T> {
        match self.query_first(sql, params)? {
            Some(row) => row.get(column),
            None => T::from_value(Value::Null).map_err(|message| {
                crate::runtime::error::RuntimeError::StoreValue {
                    column: column.to_owned(),
                    message: format!("the query returned no row: {message}"),
                }
            }),
        }
    }

    /// Runs `work` in a transaction locked as `lock` says: committed if it returns
    /// `Ok`, rolled back if it returns an error.
    pub(crate) fn transaction<T>(
        &mut self,
        lock: Lock,
        work: impl FnOnce(&mut Backend) -> Result<T>,
    ) -> Result<T> {
        self.begin(lock)?;
        match work(self) {
            Ok(value) => {
                self.end(true)?;
                Ok(value)
            }
            Err(error) => {
                // The work's error is the one to report; a failed rollback leaves
                // the transaction for `reset` to end.
                let _ = self.end(false);
                Err(error)
            }
        }
    }

    /// Ends a transaction left open by a call that panicked, so the connection can
    /// serve the next call.
    pub(crate) fn reset(&mut self) -> Result<()> {
        match self {
            Backend::Sqlite(connection) if !connection.is_autocommit() => {
                Ok(connection.execute_batch("ROLLBACK")?)
            }
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(connection) => connection.reset(),
        }
    }

    fn begin(&mut self, lock: Lock) -> Result<()> {
        match self {
            Backend::Sqlite(connection) => Ok(connection.execute_batch(match lock {
                Lock::Deferred => "BEGIN DEFERRED",
                Lock::Exclusive => "BEGIN IMMEDIATE",
            })?),
            Backend::Postgres(connection) => connection.begin(lock),
        }
    }

    fn end(&mut self, commit: bool) -> Result<()> {
        let statement = if commit { "COMMIT" } else { "ROLLBACK" };
        match self {
            Backend::Sqlite(connection) => Ok(connection.execute_batch(statement)?),
            Backend::Postgres(connection) => connection.end(statement),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_transaction_leaves_nothing_and_a_committed_one_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let location = StoreLocation::Sqlite(dir.path().join("runs.sqlite"));
        let mut backend = Backend::open(&location, Handle::current()).expect("open");
        let insert = "INSERT INTO deployments (name, updated_at) VALUES (?1, ?2)";
        let failed: Result<()> = backend.transaction(Lock::Exclusive, |backend| {
            backend.execute(insert, &values!["kept?", chrono::Utc::now()])?;
            Err(crate::runtime::error::RuntimeError::Launch("no".into()))
        });
        assert!(failed.is_err());
        backend
            .transaction(Lock::Deferred, |backend| {
                backend.execute(insert, &values!["kept", chrono::Utc::now()])
            })
            .expect("commit");
        let names: Vec<String> = backend
            .query("SELECT name FROM deployments ORDER BY name", &[])
            .expect("read")
            .iter()
            .map(|row| row.get("name"))
            .collect::<Result<_>>()
            .expect("names");
        assert_eq!(names, ["kept"]);
        assert_eq!(
            location.to_string(),
            dir.path().join("runs.sqlite").display().to_string()
        );
    }
}
