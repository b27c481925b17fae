//! The PostgreSQL warehouse: the star schema as tables with primary and foreign keys,
//! loaded from streams of Arrow batches.
//!
//! # Load protocol
//! [`load`] takes a [`TableSpec`] (columns as an Arrow schema, keys, indexes, comments)
//! and a stream of batches:
//!
//! 1. **Ensure the table**: [`create_statements`] (schema, table, indexes, comments, all
//!    `IF NOT EXISTS`) run, each in its own statement.
//! 2. **Stream**, in one transaction with the foreign keys deferred: the whole stream
//!    goes through one binary `COPY … FROM STDIN`, each field written from the Arrow
//!    buffers in PostgreSQL's binary format (no text, no allocation per row; NUMERIC via
//!    [`Numeric`]). [`LoadMode::Replace`] deletes the table's rows and copies straight
//!    into the table; [`LoadMode::Upsert`] copies into a temporary staging table
//!    `<name>__staging` (`LIKE` the table, `ON COMMIT DROP`).
//! 3. **Publish**, in the same transaction: an upsert inserts the staged rows with
//!    `ON CONFLICT (primary key) DO UPDATE` of the rows whose values differ and drops the
//!    staging table; then the transaction commits and the foreign keys are checked.
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
//! - A replace holds the row locks of the old rows until it commits: other writers of
//!   the table wait for it; readers never do.
//!
//! A replace copies straight into the table rather than through a staging table: the
//! transaction already hides the load, and an `INSERT … SELECT` from staging cost more
//! than the COPY itself (1 M rows with a primary key: 1.0 s of COPY into staging plus
//! 2.4 s of insert, against 2.2 s for the whole direct load).
//!
//! # Replacing a whole set of tables fast: [`Swap`]
//! With keys and indexes in place, a COPY is bound by the server checking each row's
//! foreign keys and updating each index row by row. [`Swap`] builds a fresh copy of
//! each table instead (COPY with no constraint, then each key and index built in one
//! pass, each foreign key checked by one join) and swaps the copies in at the end of
//! the caller's transaction. It drops the old tables, so it is for tables nothing else
//! depends on: [`dependents`] names the views and foreign keys that would stop it.
//!
//! [`load_in`] does steps 1 to 3 inside a transaction of the caller's, which commits:
//! several tables then change together, in one commit (the whole warehouse, say), and
//! the foreign keys are checked in the transaction's mode, immediate by default.
//!
//! [`connect`] makes the connection, with bounded retries and errors that name the
//! server (never the password) and tell an unreachable server from refused credentials.
//!
//! # TLS
//! The URL's `sslmode` decides, with libpq's meanings, so the URL that works in `psql`
//! works here: `disable`; `prefer` (the default: TLS when the server offers it) and
//! `require`, which encrypt without checking the certificate; `verify-ca`, which checks
//! its chain, and `verify-full`, its chain and host name, against `sslrootcert=FILE`
//! (PEM) or the system's roots. For a bank's server, use `verify-full`.

mod columns;
mod connect;
mod copy;
mod ddl;
mod error;
mod ident;
mod load;
mod numeric;
mod spec;
mod swap;
mod tls;
mod types;

pub use connect::{connect, describe_url};
pub use ddl::create_statements;
pub use error::{ConnectFailure, PostgresError, StreamError};
pub use load::{LoadMode, LoadReport, load, load_in};
pub use numeric::Numeric;
pub use spec::{ForeignKey, TableSpec};
pub use swap::{Swap, dependents};
pub use types::pg_type;
