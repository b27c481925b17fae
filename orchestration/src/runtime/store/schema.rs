//! The store's tables, created and migrated on open: each migration runs once, in
//! order, and the database's `user_version` counts those applied. A new migration is
//! appended, never edited.

use std::path::Path;

use rusqlite::Connection;

use crate::runtime::error::{Result, RuntimeError};

/// The migrations, the first creating the tables, the second the deployments' state.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE flow_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    flow         TEXT NOT NULL,
    deployment   TEXT,
    parameters   TEXT NOT NULL,           -- a JSON object of strings
    state        TEXT NOT NULL,
    retry_of     INTEGER,                 -- the run retried (may have been pruned)
    host         TEXT NOT NULL,           -- the process that runs it
    pid          INTEGER NOT NULL,
    heartbeat_at TEXT NOT NULL,           -- its last sign of life
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    ended_at     TEXT,
    error        TEXT
);
CREATE INDEX flow_runs_by_flow ON flow_runs (flow, id);
CREATE INDEX flow_runs_by_state ON flow_runs (state);
CREATE INDEX flow_runs_by_creation ON flow_runs (created_at);

CREATE TABLE task_runs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_run_id        INTEGER NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
    position           INTEGER NOT NULL,  -- in the flow's order
    task               TEXT NOT NULL,
    state              TEXT NOT NULL,
    attempt            INTEGER NOT NULL DEFAULT 0,
    started_at         TEXT,
    ended_at           TEXT,
    rows_in            INTEGER,
    rows_out           INTEGER,
    bytes              INTEGER,
    fingerprint        TEXT,
    output_fingerprint TEXT,
    note               TEXT,
    error              TEXT,
    UNIQUE (flow_run_id, task)
);
CREATE INDEX task_runs_by_fingerprint ON task_runs (task, fingerprint);

CREATE TABLE logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_run_id INTEGER NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
    task_run_id INTEGER REFERENCES task_runs (id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX logs_by_flow_run ON logs (flow_run_id, id);
CREATE INDEX logs_by_task_run ON logs (task_run_id, id);

-- One row per flow being run by an exclusive run: its writer lock.
CREATE TABLE flow_locks (
    flow         TEXT PRIMARY KEY,
    flow_run_id  INTEGER NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    acquired_at  TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
"#,
    r#"
-- One row per deployment the scheduler has seen (or paused): see `deployments.rs`.
CREATE TABLE deployments (
    name               TEXT PRIMARY KEY,
    paused             INTEGER,           -- NULL: the configuration's `paused` holds
    checked_until      TEXT,              -- occurrences up to here were launched or skipped
    last_scheduled_for TEXT,              -- the latest occurrence launched
    updated_at         TEXT NOT NULL
);
"#,
];

/// Sets the connection up (WAL, foreign keys, a busy timeout for other processes) and
/// applies the migrations it lacks.
pub(super) fn prepare(connection: &mut Connection, path: &Path) -> Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
        row.get::<_, String>(0)
    })?;
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    let supported = MIGRATIONS.len() as i64;
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > supported {
        return Err(RuntimeError::StoreTooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    for migration in &MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
        transaction.execute_batch(migration)?;
    }
    transaction.pragma_update(None, "user_version", supported)?;
    transaction.commit()?;
    Ok(())
}
