//! The values the store binds to its statements and reads from their rows, the same
//! for both backends: each backend maps them onto its own types (SQLite stores a
//! timestamp as RFC 3339 text in UTC with microseconds, fixed width so that text order
//! is time order, and a boolean as an integer; PostgreSQL as `timestamptz` and
//! `boolean`).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::logs::LogLevel;
use crate::runtime::state::RunState;
use crate::runtime::store::records::{FlowRunId, TaskRunId};

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (ids, counts, process ids).
    Int(i64),
    /// A floating-point number (averages).
    Real(f64),
    /// Text (names, states, JSON).
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An instant.
    Time(DateTime<Utc>),
}

impl Value {
    /// A timestamp as SQLite stores it.
    pub(crate) fn sqlite_time(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// Binds a list of values: `values![a, b, c]` is `[Value::from(a), …]`.
macro_rules! values {
    ($($value:expr),* $(,)?) => {
        [$($crate::runtime::store::backend::Value::from($value)),*]
    };
}
pub(crate) use values;

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Int(i64::from(value))
    }
}

impl From<u64> for Value {
    /// Saturates at `i64::MAX` (the stores' integers are signed).
    fn from(value: u64) -> Self {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value {
    /// Saturates at `i64::MAX`.
    fn from(value: usize) -> Self {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(value.clone())
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(value: DateTime<Utc>) -> Self {
        Value::Time(value)
    }
}

impl From<FlowRunId> for Value {
    fn from(value: FlowRunId) -> Self {
        Value::Int(value.0)
    }
}

impl From<TaskRunId> for Value {
    fn from(value: TaskRunId) -> Self {
        Value::Int(value.0)
    }
}

impl From<RunState> for Value {
    fn from(value: RunState) -> Self {
        Value::Text(value.as_str().to_owned())
    }
}

impl From<LogLevel> for Value {
    fn from(value: LogLevel) -> Self {
        Value::Text(value.as_str().to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// A type read from a column; the error says what the value was.
pub(crate) trait FromValue: Sized {
    /// The value as `Self`.
    fn from_value(value: Value) -> Result<Self, String>;
}

/// The error of a value that is not the expected type.
fn unexpected<T>(expected: &str, value: &Value) -> Result<T, String> {
    Err(format!("expected {expected}, found {value:?}"))
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Int(v) => Ok(v),
            other => unexpected("an integer", &other),
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: Value) -> Result<Self, String> {
        let v = i64::from_value(value)?;
        u32::try_from(v).map_err(|_| format!("{v} is out of range"))
    }
}

impl FromValue for u64 {
    /// A negative count reads as 0.
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(u64::try_from(i64::from_value(value)?).unwrap_or(0))
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Real(v) => Ok(v),
            // SQLite's average of whole numbers may be an integer.
            Value::Int(v) => Ok(v as f64),
            other => unexpected("a number", &other),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(v) => Ok(v),
            Value::Int(v) => Ok(v != 0),
            other => unexpected("a boolean", &other),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Text(v) => Ok(v),
            other => unexpected("text", &other),
        }
    }
}

impl FromValue for DateTime<Utc> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Time(v) => Ok(v),
            Value::Text(text) => DateTime::parse_from_rfc3339(&text)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|error| format!("{text:?} is not a timestamp: {error}")),
            other => unexpected("a timestamp", &other),
        }
    }
}

impl FromValue for FlowRunId {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(FlowRunId)
    }
}

impl FromValue for TaskRunId {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(TaskRunId)
    }
}

impl FromValue for RunState {
    fn from_value(value: Value) -> Result<Self, String> {
        String::from_value(value)?
            .parse()
            .map_err(|error| format!("{error}"))
    }
}

impl FromValue for LogLevel {
    fn from_value(value: Value) -> Result<Self, String> {
        String::from_value(value)?
            .parse()
            .map_err(|error| format!("{error}"))
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A row read from the store: its values by column name.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of `values`, named by `columns` (shared by the rows of one query).
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The value of column `column`, as a `T`.
    pub(crate) fn get<T: FromValue>(&self, column: &str) -> Result<T> {
        let invalid = |message: String| RuntimeError::StoreValue {
            column: column.to_owned(),
            message,
        };
        let index = self
            .columns
            .iter()
            .position(|name| name == column)
            .ok_or_else(|| invalid("no such column in the result".to_owned()))?;
        T::from_value(self.values[index].clone()).map_err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_their_types_and_mismatches_say_what_was_found() {
        let columns: Arc<[String]> = ["id", "state", "at", "paused", "gone"]
            .map(String::from)
            .into();
        let at = DateTime::parse_from_rfc3339("2026-03-29T01:30:00.000001Z")
            .expect("time")
            .with_timezone(&Utc);
        let row = Row::new(
            columns,
            vec![
                Value::from(FlowRunId(7)),
                Value::from(RunState::Running),
                Value::Text(Value::sqlite_time(&at)),
                Value::Int(1),
                Value::from(None::<String>),
            ],
        );
        assert_eq!(row.get::<FlowRunId>("id").expect("id"), FlowRunId(7));
        assert_eq!(
            row.get::<RunState>("state").expect("state"),
            RunState::Running
        );
        assert_eq!(row.get::<DateTime<Utc>>("at").expect("at"), at);
        assert!(row.get::<bool>("paused").expect("flag"));
        assert_eq!(row.get::<Option<String>>("gone").expect("null"), None);
        let wrong = row.get::<i64>("state").expect_err("text is no integer");
        assert!(wrong.to_string().contains("state"), "{wrong}");
        assert!(row.get::<i64>("nope").is_err());
    }
}
