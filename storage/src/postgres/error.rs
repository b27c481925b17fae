//! The error type of the PostgreSQL loader: every message says what failed and what to do.

use std::fmt;

use arrow::datatypes::DataType;

/// The boxed error of a failed input stream.
pub type StreamError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a connection could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The URL does not parse as a PostgreSQL connection string.
    InvalidUrl,
    /// Nothing answered at the address, or the network failed or timed out.
    Unreachable,
    /// The server answered but refused the user or its credentials.
    Authentication,
    /// The server answered and refused the connection for another reason (unknown
    /// database, too many connections, starting up…).
    Rejected,
    /// TLS could not be set up: the server does not offer it where the URL requires
    /// it, or its certificate failed the URL's `sslmode=verify-ca|verify-full` check.
    Tls,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::InvalidUrl => {
                "the URL is not a valid PostgreSQL URL: write it as \
                 postgres://user[:password]@host:port/database"
            }
            ConnectFailure::Unreachable => {
                "the server is unreachable: check that PostgreSQL runs and listens on that \
                 host and port (pg_isready -h HOST -p PORT) and that no firewall is in the way"
            }
            ConnectFailure::Authentication => {
                "authentication failed: check the user and password in the URL and the \
                 server's pg_hba.conf"
            }
            ConnectFailure::Rejected => {
                "the server refused the connection: read its message, fix the cause (database \
                 name, connection limit…) and retry"
            }
            ConnectFailure::Tls => {
                "TLS failed: check that the server has ssl = on, and for sslmode=verify-ca or \
                 verify-full that sslrootcert=FILE holds the CA that signed the server's \
                 certificate (and, for verify-full, that the URL's host is a name in it)"
            }
        })
    }
}

/// Why a PostgreSQL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// An Arrow type has no PostgreSQL column type here.
    #[error(
        "Arrow type {data_type}{} has no PostgreSQL mapping: cast it to one of Utf8, Int16/32/64, \
         Float32/64, Boolean, Date32, Timestamp(µs) or Decimal128 before loading",
        column.as_deref().map(|c| format!(" of column \"{c}\"")).unwrap_or_default()
    )]
    UnsupportedType {
        /// The Arrow type.
        data_type: DataType,
        /// The column that has it, where known.
        column: Option<String>,
    },
    /// The table specification is inconsistent (a key on a missing column…).
    #[error("table spec {table}: {message}; fix the spec and rerun")]
    InvalidSpec {
        /// The table, as `schema.name`.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// A batch of the input does not match the table specification.
    #[error(
        "loading {table}: {message}; nothing was published (the table keeps its previous \
         content): make the batches match the table spec and rerun"
    )]
    InvalidBatch {
        /// The table, as `schema.name`.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// No connection could be made.
    #[error(
        "cannot connect to PostgreSQL at {target} after {attempts} attempt(s): {failure}. \
         Last error: {message}"
    )]
    Connect {
        /// `user@host:port/database`, without any password.
        target: String,
        /// How many attempts were made.
        attempts: u32,
        /// What kind of failure the last attempt was.
        failure: ConnectFailure,
        /// The message of the last failure (the server's, or the network's).
        message: String,
    },
    /// A statement failed (on the server, or because the connection was lost).
    #[error("PostgreSQL failed on `{statement}`: {message}. {advice}")]
    Query {
        /// The first line of the statement.
        statement: String,
        /// The server's message (severity, SQLSTATE, message, detail, hint).
        message: String,
        /// What to do about it.
        advice: &'static str,
        /// tokio-postgres's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The input stream of batches yielded an error.
    #[error(
        "the input stream for {table} failed after {rows} row(s): {source}. Nothing was \
         published (the table keeps its previous content): fix the input and rerun"
    )]
    Stream {
        /// The table, as `schema.name`.
        table: String,
        /// The rows read before the failure.
        rows: u64,
        /// The stream's error.
        #[source]
        source: StreamError,
    },
}

impl PostgresError {
    pub(crate) fn unsupported(data_type: &DataType, column: Option<&str>) -> PostgresError {
        PostgresError::UnsupportedType {
            data_type: data_type.clone(),
            column: column.map(str::to_owned),
        }
    }

    /// A failed statement: keeps its first line, the server's message and advice.
    pub fn query(statement: &str, source: tokio_postgres::Error) -> PostgresError {
        PostgresError::Query {
            statement: statement
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            message: server_message(&source),
            advice: advice(&source),
            source,
        }
    }

    /// The SQLSTATE of a server error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            PostgresError::Query { source, .. } => source.as_db_error().map(|e| e.code().code()),
            _ => None,
        }
    }
}

/// The server's message of an error in full (severity, SQLSTATE, message, detail, hint,
/// context), or tokio-postgres's own message and its causes for an error that is not the
/// server's (tokio-postgres's `Display` leaves the causes out).
pub(crate) fn server_message(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        return with_causes(error);
    };
    let mut message = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        message.push_str(&format!(" (detail: {detail})"));
    }
    if let Some(hint) = db.hint() {
        message.push_str(&format!(" (hint: {hint})"));
    }
    if let Some(context) = db.where_() {
        message.push_str(&format!(" (where: {context})"));
    }
    message
}

/// An error's message followed by those of its causes, `: `-separated.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    message
}

/// What to do about a failed statement, from its SQLSTATE class.
fn advice(error: &tokio_postgres::Error) -> &'static str {
    const ROLLED_BACK: &str =
        "No rows were published (the table keeps its previous content): fix the cause and rerun";
    let class = error.as_db_error().and_then(|db| db.code().code().get(..2));
    match class {
        None if error.is_closed() => {
            "The connection was lost; no rows were published (the transaction rolled back): \
             rerun the load once the server is reachable"
        }
        Some("08" | "57") => {
            "The server closed the connection; no rows were published (the transaction \
             rolled back): rerun the load once the server is back"
        }
        Some("23") => {
            "The rows break a constraint (a repeated key, a null in a required column, or a \
             reference to a missing row: load dimensions before facts). No rows were \
             published: fix the data and rerun"
        }
        Some("22") => {
            "A value does not fit its column. No rows were published: check the values and \
             the column types, then rerun"
        }
        Some("42") => {
            "The database does not match the spec (a missing table or column, a different \
             column type, or missing privileges). No rows were published: align the table \
             with the spec (or drop it to have it recreated) and rerun"
        }
        _ => ROLLED_BACK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_type_names_type_and_column() {
        let error = PostgresError::unsupported(&DataType::UInt8, Some("age"));
        let message = error.to_string();
        assert!(message.contains("UInt8"), "{message}");
        assert!(message.contains("\"age\""), "{message}");
        assert!(message.contains("cast it"), "{message}");
    }
}
