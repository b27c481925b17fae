//! The PostgreSQL backend: the store's tables in one schema of a database, so that a
//! team that already runs PostgreSQL keeps its run history there (backed up, shared by
//! several hosts, readable by its BI tools).
//!
//! - One connection (storage's [`connect`](storage::postgres::connect): TLS after the
//!   URL's `sslmode`, bounded retries), its `search_path` set to the schema. A
//!   connection the server dropped is opened again before the next call (not inside a
//!   transaction: that one fails, and is reported).
//! - Statements are prepared once per connection and cached; `?N` placeholders become
//!   `$N`.
//! - Timestamps are `timestamptz`, flags `boolean`, ids and counts `bigint`.
//! - Exclusive transactions take a transaction-level advisory lock keyed on the
//!   schema: the same one in every process, which is what SQLite's `BEGIN IMMEDIATE`
//!   gives the SQLite store.
//! - The schema version is kept in the table `store_version`; migrations run under the
//!   same lock, so two processes opening a new store do not both create it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use storage::postgres::PostgresError;
use tokio::runtime::Handle;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::Lock;
use super::value::{Row, Value};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::store::schema::POSTGRES_MIGRATIONS;

/// Connection attempts on open and on reconnect, and the first wait between two.
const CONNECT_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// An open connection to a PostgreSQL run store.
pub(crate) struct PostgresConnection {
    client: Client,
    runtime: Handle,
    url: String,
    schema: String,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
}

impl PostgresConnection {
    /// Connects to `url`, creates schema `schema` and the store's tables if needed,
    /// and migrates them. Blocking: call it off the async threads of `runtime`, which
    /// drives the connection.
    pub(crate) fn open(url: &str, schema: &str, runtime: Handle) -> Result<PostgresConnection> {
        let client = connect(&runtime, url, schema)?;
        let mut connection = PostgresConnection {
            client,
            runtime,
            url: url.to_owned(),
            schema: schema.to_owned(),
            statements: HashMap::new(),
            in_transaction: false,
        };
        connection.migrate()?;
        Ok(connection)
    }

    /// Runs a statement; the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let bound = bind(params, statement.params())?;
        self.runtime
            .block_on(self.client.execute(&statement, &borrowed(&bound)))
            .map_err(|source| failed(sql, source))
    }

    /// Runs a query; its rows.
    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        let bound = bind(params, statement.params())?;
        let rows = self
            .runtime
            .block_on(self.client.query(&statement, &borrowed(&bound)))
            .map_err(|source| failed(sql, source))?;
        let columns: Arc<[String]> = statement
            .columns()
            .iter()
            .map(|column| column.name().to_owned())
            .collect();
        rows.iter()
            .map(|row| -> Result<Row> {
                let values = (0..columns.len())
                    .map(|index| value(row, index))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|source| failed(sql, source))?;
                Ok(Row::new(Arc::clone(&columns), values))
            })
            .collect()
    }

    /// Starts a transaction (see [`Lock`]).
    pub(crate) fn begin(&mut self, lock: Lock) -> Result<()> {
        self.batch("BEGIN")?;
        self.in_transaction = true;
        if lock == Lock::Exclusive {
            self.execute(
                "SELECT pg_advisory_xact_lock(?1)",
                &[Value::Int(lock_key(&self.schema))],
            )?;
        }
        Ok(())
    }

    /// Ends the transaction with `COMMIT` or `ROLLBACK`.
    pub(crate) fn end(&mut self, statement: &str) -> Result<()> {
        let ended = self.batch(statement);
        self.in_transaction = false;
        ended
    }

    /// Rolls back a transaction left open by a call that panicked.
    pub(crate) fn reset(&mut self) -> Result<()> {
        if self.in_transaction {
            self.end("ROLLBACK")?;
        }
        Ok(())
    }

    /// Applies the migrations the schema lacks, under the store's lock.
    fn migrate(&mut self) -> Result<()> {
        self.begin(Lock::Exclusive)?;
        let migrated = self.apply_migrations();
        self.end(if migrated.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })?;
        migrated
    }

    fn apply_migrations(&mut self) -> Result<()> {
        let schema = transformation::sql::quote_ident(&self.schema);
        self.batch(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; \
             CREATE TABLE IF NOT EXISTS store_version (version bigint NOT NULL)"
        ))?;
        let found: i64 = self
            .query(
                "SELECT coalesce(max(version), 0) AS version FROM store_version",
                &[],
            )?
            .first()
            .map(|row| row.get("version"))
            .transpose()?
            .unwrap_or(0);
        let supported = POSTGRES_MIGRATIONS.len() as i64;
        if found > supported {
            return Err(RuntimeError::StoreTooNew {
                store: format!("PostgreSQL schema {}", self.schema),
                found,
                supported,
            });
        }
        for migration in &POSTGRES_MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
            self.batch(migration)?;
        }
        if found < supported {
            self.batch("DELETE FROM store_version")?;
            self.execute(
                "INSERT INTO store_version (version) VALUES (?1)",
                &[Value::Int(supported)],
            )?;
        }
        Ok(())
    }

    /// Runs statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<()> {
        self.reconnect_if_dropped()?;
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(|source| failed(sql, source))
    }

    /// The prepared statement of `sql`, prepared on first use.
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        self.reconnect_if_dropped()?;
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .runtime
            .block_on(self.client.prepare(&numbered(sql)))
            .map_err(|source| failed(sql, source))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Opens the connection again if the server dropped it, outside a transaction.
    fn reconnect_if_dropped(&mut self) -> Result<()> {
        if self.client.is_closed() && !self.in_transaction {
            tracing::warn!("run store: the PostgreSQL connection was dropped; reconnecting");
            self.client = connect(&self.runtime, &self.url, &self.schema)?;
            self.statements.clear();
        }
        Ok(())
    }
}

/// Connects, and sets the session's `search_path` to the store's schema.
fn connect(runtime: &Handle, url: &str, schema: &str) -> Result<Client> {
    runtime.block_on(async {
        let client = storage::postgres::connect(url, CONNECT_ATTEMPTS, FIRST_BACKOFF).await?;
        let set = format!(
            "SET search_path TO {}",
            transformation::sql::quote_ident(schema)
        );
        client
            .batch_execute(&set)
            .await
            .map_err(|source| PostgresError::query(&set, source))?;
        Ok::<_, RuntimeError>(client)
    })
}

/// The error of statement `sql`.
fn failed(sql: &str, source: tokio_postgres::Error) -> RuntimeError {
    RuntimeError::Postgres(PostgresError::query(sql, source))
}

/// The advisory-lock key of the store in schema `schema`.
fn lock_key(schema: &str) -> i64 {
    let hash = xxhash_rust::xxh3::xxh3_64(format!("bankpipe run store {schema}").as_bytes());
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// `sql` with SQLite's placeholders (`?N`, and `?` for the next number) as
/// PostgreSQL's (`$N`). The store's statements hold no `?` in a literal.
fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0_usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        let number = digits.parse().unwrap_or(highest + 1);
        highest = highest.max(number);
        out.push('$');
        out.push_str(&number.to_string());
    }
    Cow::Owned(out)
}

/// A bound parameter.
type Bound = Box<dyn ToSql + Sync + Send>;

/// `params` as the statement's parameter types ask: an integer for an `integer`
/// parameter narrowed, a `NULL` typed as its parameter.
fn bind(params: &[Value], types: &[Type]) -> Result<Vec<Bound>> {
    if params.len() != types.len() {
        return Err(RuntimeError::StoreValue {
            column: "(parameters)".to_owned(),
            message: format!(
                "the statement takes {} parameters, {} were given",
                types.len(),
                params.len()
            ),
        });
    }
    params
        .iter()
        .zip(types)
        .map(|(value, ty)| bind_one(value, ty))
        .collect()
}

fn bind_one(value: &Value, ty: &Type) -> Result<Bound> {
    let narrowed = |v: i64| RuntimeError::StoreValue {
        column: format!("(a parameter of type {ty})"),
        message: format!("{v} is out of range"),
    };
    Ok(match (value, ty) {
        (Value::Null, ty) => null(ty),
        (Value::Int(v), &Type::INT4) => Box::new(i32::try_from(*v).map_err(|_| narrowed(*v))?),
        (Value::Int(v), &Type::INT2) => Box::new(i16::try_from(*v).map_err(|_| narrowed(*v))?),
        (Value::Int(v), &Type::FLOAT8) => Box::new(*v as f64),
        (Value::Int(v), _) => Box::new(*v),
        (Value::Real(v), _) => Box::new(*v),
        (Value::Text(v), _) => Box::new(v.clone()),
        (Value::Bool(v), _) => Box::new(*v),
        (Value::Time(v), _) => Box::new(*v),
    })
}

/// A `NULL` of parameter type `ty`.
fn null(ty: &Type) -> Bound {
    match *ty {
        Type::INT8 => Box::new(None::<i64>),
        Type::INT4 => Box::new(None::<i32>),
        Type::INT2 => Box::new(None::<i16>),
        Type::FLOAT8 => Box::new(None::<f64>),
        Type::BOOL => Box::new(None::<bool>),
        Type::TIMESTAMPTZ => Box::new(None::<DateTime<Utc>>),
        _ => Box::new(None::<String>),
    }
}

fn borrowed(bound: &[Bound]) -> Vec<&(dyn ToSql + Sync)> {
    bound
        .iter()
        .map(|value| value.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Column `index` of `row`, after its type.
fn value(row: &tokio_postgres::Row, index: usize) -> Result<Value, tokio_postgres::Error> {
    fn read<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
        into: impl FnOnce(T) -> Value,
    ) -> Result<Value, tokio_postgres::Error> {
        Ok(row
            .try_get::<_, Option<T>>(index)?
            .map_or(Value::Null, into))
    }
    match *row.columns()[index].type_() {
        Type::INT8 => read(row, index, Value::Int),
        Type::INT4 => read(row, index, |v: i32| Value::Int(i64::from(v))),
        Type::INT2 => read(row, index, |v: i16| Value::Int(i64::from(v))),
        Type::FLOAT8 => read(row, index, Value::Real),
        Type::FLOAT4 => read(row, index, |v: f32| Value::Real(f64::from(v))),
        Type::BOOL => read(row, index, Value::Bool),
        Type::TIMESTAMPTZ => read(row, index, Value::Time),
        _ => read(row, index, Value::Text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
        assert_eq!(
            numbered("UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?2"),
            "UPDATE t SET a = $2 WHERE id = $1 AND b = $2"
        );
        assert_eq!(
            numbered("SELECT * FROM t WHERE a = ? AND b = ? LIMIT ? OFFSET ?"),
            "SELECT * FROM t WHERE a = $1 AND b = $2 LIMIT $3 OFFSET $4"
        );
        assert_eq!(numbered("WHERE a = ?3 OR b = ?"), "WHERE a = $3 OR b = $4");
    }

    #[test]
    fn the_lock_key_depends_on_the_schema() {
        assert_eq!(lock_key("runs"), lock_key("runs"));
        assert_ne!(lock_key("runs"), lock_key("other_runs"));
    }
}
