//! The PostgreSQL warehouse: the star schema as tables with primary and foreign keys,
//! loaded from streams of Arrow batches.
//!
//! # Load protocol
//! [`load`] takes a [`TableSpec`] (columns as an Arrow schema, keys, indexes, comments)
//! and a stream of batches:
//!
//! 1. **Ensure the table**: [`create_statements`] (schema, table, indexes, comments, all
//!    `IF NOT EXISTS`) run, each in its own statement.
//! 2. **Stage**: in one transaction, a temporary table `<name>__staging` is created
//!    `LIKE` the table (`ON COMMIT DROP`), and the whole stream goes into it through one
//!    binary `COPY … FROM STDIN`, each field written from the Arrow buffers in
//!    PostgreSQL's binary format (no text, no allocation per row; NUMERIC via
//!    [`Numeric`]).
//! 3. **Publish**, in the same transaction: [`LoadMode::Replace`] deletes the table's
//!    rows and inserts the staged ones; [`LoadMode::Upsert`] inserts them with
//!    `ON CONFLICT (primary key) DO UPDATE` of the rows whose values differ. The staging
//!    table is dropped and the transaction committed.
//!
//! # Guarantees
//! - Readers see the previous content until the commit and the new content after it,
//!   never a half-loaded table.
//! - A failed load (an `Err` from the stream, a batch that does not match the spec, a
//!   value or key the server rejects, a dropped connection or a killed backend) rolls
//!   back: the table keeps its previous content and no staging table is left (it is a
//!   temporary table of the transaction).
//! - Loading the same rows twice leaves the same content; an upsert rewrites only the
//!   rows that changed.
//! - Foreign keys are `DEFERRABLE` and deferred during a load, so a dimension that facts
//!   refer to can be replaced: the keys are checked at commit, against the new rows.
//! - Only quoted identifiers and quoted comments are ever written into SQL text.
//!
//! [`connect`] makes the connection, with bounded retries and errors that name the
//! server (never the password) and tell an unreachable server from refused credentials.

mod columns;
mod connect;
mod ddl;
mod error;
mod ident;
mod load;
mod numeric;
mod spec;
mod types;

pub use connect::connect;
pub use ddl::create_statements;
pub use error::{ConnectFailure, PostgresError, StreamError};
pub use load::{LoadMode, LoadReport, load};
pub use numeric::Numeric;
pub use spec::{ForeignKey, TableSpec};
pub use types::pg_type;
