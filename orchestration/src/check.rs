//! `bankpipe check-connections`: whether every store the pipeline uses answers, before
//! a run needs it.
//!
//! - the data folder: listed, and a file created and removed in it; the lake's
//!   location, when the configuration puts it elsewhere: an object written and deleted;
//! - every Delta table of the processed layer and of the warehouse: present and
//!   readable (its version and rows);
//! - the run store, when given: it opens (a PostgreSQL one is created if missing) and
//!   how many runs it holds; an SQLite file not created yet passes (the first run
//!   creates it);
//! - PostgreSQL: reachable (bounded retries), its version, and the right to create a
//!   table in the warehouse's schema (tried in a transaction that is rolled back, so
//!   nothing is left behind).
//!
//! Each check gives one [`Check`]; a missing table, an unreachable server or a refused
//! permission is a failed check, never an error of the command itself. Nothing printed
//! holds a password: PostgreSQL is named by `user@host:port/database`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::datatypes::{DataType, Field, Schema};
use contract::Entity;
use storage::delta;
use storage::postgres::{self, TableSpec};
use tokio_postgres::Client;

use crate::layout::{DataLayout, TablePlace};
use crate::publish::WAREHOUSE;
use crate::runtime::{RunFilter, RunStore, StoreLocation, StoreOptions};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`data folder`, `processed table`, `postgres reachable` …).
    pub check: String,
    /// Where: a path under the data folder, or `user@host:port/database`.
    pub target: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or why it failed and what to do.
    pub detail: String,
}

impl Check {
    fn new(check: &str, target: impl Into<String>, result: Result<String, String>) -> Check {
        let (ok, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        Check {
            check: check.to_owned(),
            target: target.into(),
            ok,
            detail,
        }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The lake.
    pub layout: DataLayout,
    /// The PostgreSQL URL (`None`: that check fails, saying how to give one).
    pub database_url: Option<String>,
    /// The warehouse's schema in PostgreSQL.
    pub schema: String,
    /// The run store to check, if any.
    pub run_store: Option<StoreLocation>,
    /// Connection attempts (at least one).
    pub attempts: u32,
    /// The wait after the first failed attempt (doubling after each).
    pub first_backoff: Duration,
}

/// Runs every check, in order: the data folder, the processed tables, the warehouse
/// tables, the run store, PostgreSQL.
pub async fn check_connections(options: &CheckOptions) -> Vec<Check> {
    let layout = &options.layout;
    let mut checks = vec![data_folder(layout.root())];
    if let Some(lake) = layout.lake_elsewhere() {
        let written = delta::probe_writable(lake)
            .await
            .map(|()| "writable (an object written and deleted)".to_owned())
            .map_err(|e| e.to_string());
        checks.push(Check::new("lake location", lake.to_string(), written));
    }
    for entity in Entity::ALL {
        // Fraud reports are an optional extract: their table may be absent.
        let optional = entity == Entity::FraudReports;
        checks.push(delta_table("processed table", &layout.processed(entity), optional).await);
    }
    for table in &WAREHOUSE {
        checks.push(delta_table("warehouse table", &layout.transformed(table.name), false).await);
    }
    if let Some(location) = &options.run_store {
        checks.push(run_store(location).await);
    }
    checks.extend(postgres_checks(options).await);
    checks
}

/// The run store at `location` opens, and how many runs it holds.
async fn run_store(location: &StoreLocation) -> Check {
    let result = match location {
        StoreLocation::Sqlite(path) if !path.exists() => {
            Ok("not created yet: the first run creates it".to_owned())
        }
        _ => count_runs(location).await.map_err(|e| e.to_string()),
    };
    Check::new("run store", location.to_string(), result)
}

async fn count_runs(location: &StoreLocation) -> crate::runtime::error::Result<String> {
    let store = RunStore::open_at(location.clone(), StoreOptions::default()).await?;
    let latest = RunFilter {
        limit: Some(1),
        ..RunFilter::default()
    };
    let (runs, total) = store.runs_page(latest, 0).await?;
    Ok(match runs.first() {
        Some(run) => format!("{total} runs, the latest #{} ({})", run.id, run.state),
        None => "no run yet".to_owned(),
    })
}

/// The data folder can be listed, and a file created in it and removed.
fn data_folder(root: &Path) -> Check {
    Check::new(
        "data folder",
        root.display().to_string(),
        readable_writable(root),
    )
}

fn readable_writable(root: &Path) -> Result<String, String> {
    if !root.is_dir() {
        return Err("not a folder: create it, or pass --data".to_owned());
    }
    std::fs::read_dir(root).map_err(|e| format!("cannot list it: {e}"))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let probe = root.join(format!(".bankpipe-check-{}-{nanos}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut file| std::io::Write::write_all(&mut file, b"check"))
        .map_err(|e| format!("cannot create a file in it: {e}"))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove {}: {e}", probe.display()))?;
    Ok("readable and writable (a file created and removed)".to_owned())
}

/// The Delta table at `place` is there and its rows can be read.
async fn delta_table(check: &str, place: &TablePlace, optional: bool) -> Check {
    Check::new(check, place.relative(), read_table(place, optional).await)
}

async fn read_table(place: &TablePlace, optional: bool) -> Result<String, String> {
    let absent = || {
        if optional {
            Ok("absent (an optional extract)".to_owned())
        } else {
            Err("no Delta table here: build it with bankpipe run (same --data and lake)".to_owned())
        }
    };
    // A local location is created as a folder: look first, so a check leaves no trace.
    if !place.may_exist() {
        return absent();
    }
    let location = place.location().map_err(|e| e.to_string())?;
    let Some(table) = delta::open(&location).await.map_err(|e| e.to_string())? else {
        return absent();
    };
    let version = table
        .version()
        .map_or_else(|| "?".to_owned(), |v| v.to_string());
    let rows = delta::count_rows(&location)
        .await
        .map_err(|e| format!("version {version}, but reading it failed: {e}"))?;
    Ok(format!("version {version}, {rows} rows"))
}

/// PostgreSQL: reachable, its version, and CREATE in the schema.
async fn postgres_checks(options: &CheckOptions) -> Vec<Check> {
    let Some(url) = options.database_url.as_deref() else {
        return vec![Check::new(
            "postgres reachable",
            "(no URL)",
            Err(crate::PipelineError::NoDatabaseUrl.to_string()),
        )];
    };
    let target = postgres::describe_url(url);
    let started = Instant::now();
    let client = match postgres::connect(url, options.attempts, options.first_backoff).await {
        Ok(client) => client,
        Err(error) => {
            return vec![Check::new(
                "postgres reachable",
                target,
                Err(error.to_string()),
            )];
        }
    };
    let connected = format!("connected in {} ms", started.elapsed().as_millis());
    vec![
        Check::new("postgres reachable", target.clone(), Ok(connected)),
        Check::new("postgres version", target.clone(), version(&client).await),
        Check::new(
            "postgres create",
            format!("{target} schema {}", options.schema),
            can_create(client, &options.schema).await,
        ),
    ]
}

async fn version(client: &Client) -> Result<String, String> {
    let row = client
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .map_err(|e| format!("cannot read the server version: {e}"))?;
    let version: String = row.get(0);
    Ok(format!("PostgreSQL {version}"))
}

/// Creates the schema (if missing) and a table in it, as a load does, in a transaction
/// that is rolled back.
async fn can_create(mut client: Client, schema: &str) -> Result<String, String> {
    let probe = TableSpec {
        schema: schema.to_owned(),
        name: "_bankpipe_check".to_owned(),
        columns: Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, true)])),
        primary_key: vec![],
        foreign_keys: vec![],
        indexes: vec![],
        comments: Default::default(),
    };
    let statements = postgres::create_statements(&probe).map_err(|e| e.to_string())?;
    let transaction = client
        .transaction()
        .await
        .map_err(|e| format!("cannot begin a transaction: {e}"))?;
    for statement in &statements {
        if let Err(error) = transaction.batch_execute(statement).await {
            let _ = transaction.rollback().await;
            let message = error
                .as_db_error()
                .map_or_else(|| error.to_string(), |db| db.message().to_owned());
            return Err(format!(
                "cannot create a table in schema {schema}: {message} (grant CREATE on the \
                 database, or on the schema if it exists)"
            ));
        }
    }
    transaction
        .rollback()
        .await
        .map_err(|e| format!("cannot roll back the probe: {e}"))?;
    Ok("can create tables (tried in a transaction, rolled back)".to_owned())
}

/// The checks as a table: check, target, status (`ok` or `FAILED`), detail.
pub fn render(checks: &[Check]) -> String {
    let width = |f: &dyn Fn(&Check) -> usize, header: &str| {
        checks
            .iter()
            .map(f)
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let check_width = width(&|c| c.check.chars().count(), "check");
    let target_width = width(&|c| c.target.chars().count(), "target");
    let mut out = format!(
        "{:<check_width$}  {:<target_width$}  {:<6}  detail\n",
        "check", "target", "status"
    );
    for check in checks {
        let status = if check.ok { "ok" } else { "FAILED" };
        out.push_str(&format!(
            "{:<check_width$}  {:<target_width$}  {status:<6}  {}\n",
            check.check, check.target, check.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_aligns_columns_and_marks_failures() {
        let checks = [
            Check::new("data folder", "/data", Ok("fine".into())),
            Check::new("postgres reachable", "u@h:1/db", Err("refused".into())),
        ];
        let text = render(&checks);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("check "), "{text}");
        assert!(lines[1].contains("  ok      fine"), "{text}");
        assert!(lines[2].contains("  FAILED  refused"), "{text}");
        let status_column = lines[0].find("status");
        assert_eq!(status_column, lines[2].find("FAILED"), "{text}");
    }

    #[test]
    fn a_missing_folder_is_not_readable() {
        let dir = std::env::temp_dir().join("bankpipe-check-no-such-folder");
        let check = data_folder(&dir);
        assert!(!check.ok);
        assert!(check.detail.contains("not a folder"), "{}", check.detail);
    }
}
