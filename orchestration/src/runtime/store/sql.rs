//! Conversions between the store's records and SQLite values: timestamps as RFC 3339
//! text in UTC with microseconds (fixed width, so text order is time order), states and
//! levels by name, ids and counts as integers.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Row, ToSql};

use super::records::{FlowRunId, TaskRunId};
use crate::runtime::logs::LogLevel;
use crate::runtime::state::RunState;

/// A timestamp as stored.
pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored timestamp (text) as a value to read.
pub(super) struct Timestamp(pub(super) DateTime<Utc>);

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .map(|at| Timestamp(at.with_timezone(&Utc)))
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

/// Reads an optional timestamp column.
pub(super) fn optional_time(
    row: &Row<'_>,
    column: &str,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    Ok(row.get::<_, Option<Timestamp>>(column)?.map(|t| t.0))
}

/// Reads a timestamp column.
pub(super) fn time(row: &Row<'_>, column: &str) -> rusqlite::Result<DateTime<Utc>> {
    Ok(row.get::<_, Timestamp>(column)?.0)
}

/// A count as stored (SQLite integers are signed).
pub(super) fn count(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// Reads an optional count column.
pub(super) fn optional_count(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<u64>> {
    Ok(row
        .get::<_, Option<i64>>(column)?
        .and_then(|v| u64::try_from(v).ok()))
}

impl ToSql for RunState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RunState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

impl ToSql for LogLevel {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for LogLevel {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

impl ToSql for FlowRunId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for FlowRunId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_i64().map(FlowRunId)
    }
}

impl ToSql for TaskRunId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for TaskRunId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_i64().map(TaskRunId)
    }
}
