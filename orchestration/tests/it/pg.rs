//! The warehouse into PostgreSQL (`bankpipe load-postgres`) and the connection checks
//! (`bankpipe check-connections`), against a real server.
//!
//! The server is `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! Without one a test prints `SKIPPED: …` and passes, unless `BANKPIPE_REQUIRE_PG=1`.
//! Each test loads into a schema of its own, dropped when the test ends, even on failure.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orchestration::DataLayout;
use orchestration::check::{CheckOptions, check_connections};
use orchestration::config::PipelineConfig;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::publish::{Method, WAREHOUSE, publish};
use orchestration::runtime::StoreLocation;
use storage::delta;
use storage::postgres;
use tokio_postgres::Client;

use crate::transform::run;

/// The test server: `DATABASE_URL`, else the local default.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A connection to the test server; `None` (with `SKIPPED: …` printed) when it is
/// unreachable, a panic instead when `BANKPIPE_REQUIRE_PG=1`.
pub async fn try_connect() -> Option<Client> {
    match postgres::connect(&database_url(), 1, Duration::from_millis(10)).await {
        Ok(client) => Some(client),
        Err(error) if std::env::var("BANKPIPE_REQUIRE_PG").as_deref() == Ok("1") => {
            panic!("BANKPIPE_REQUIRE_PG=1 but PostgreSQL is not reachable: {error}")
        }
        Err(error) => {
            eprintln!("SKIPPED: no PostgreSQL at DATABASE_URL (or the default): {error}");
            None
        }
    }
}

/// A connection and a schema name of the test's own, dropped with it.
struct TestDb {
    client: Client,
    schema: String,
    // Declared last: dropped after the client has gone.
    _guard: SchemaGuard,
}

impl TestDb {
    async fn new(test: &str) -> Option<TestDb> {
        let client = try_connect().await?;
        let schema = test_schema(test);
        Some(TestDb {
            client,
            _guard: SchemaGuard(schema.clone()),
            schema,
        })
    }

    fn table(&self, name: &str) -> String {
        format!("\"{}\".\"{name}\"", self.schema)
    }

    async fn scalar_i64(&self, sql: &str) -> i64 {
        self.client.query_one(sql, &[]).await.expect(sql).get(0)
    }

    async fn count(&self, table: &str) -> i64 {
        self.scalar_i64(&format!("SELECT count(*) FROM {}", self.table(table)))
            .await
    }

    /// Every table's rows and a hash of its whole content (rows in the order of
    /// their text, so a table without a key hashes the same whatever its order).
    async fn snapshot(&self) -> BTreeMap<&'static str, (i64, String)> {
        let mut tables = BTreeMap::new();
        for table in &WAREHOUSE {
            let sql = format!(
                "SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') \
                 FROM {} t",
                self.table(table.name)
            );
            let row = self.client.query_one(&sql, &[]).await.expect(&sql);
            tables.insert(table.name, (row.get(0), row.get(1)));
        }
        tables
    }

    /// The fact (and dimension) rows whose foreign key finds no row, per key.
    async fn orphans(&self) -> Vec<String> {
        let mut found = Vec::new();
        for table in &WAREHOUSE {
            for (column, referenced, key) in table.foreign_keys {
                let sql = format!(
                    "SELECT count(*) FROM {} f LEFT JOIN {} d ON d.\"{key}\" = f.\"{column}\" \
                     WHERE f.\"{column}\" IS NOT NULL AND d.\"{key}\" IS NULL",
                    self.table(table.name),
                    self.table(referenced)
                );
                let orphans = self.scalar_i64(&sql).await;
                if orphans > 0 {
                    found.push(format!("{}.{column}: {orphans}", table.name));
                }
            }
        }
        found
    }
}

/// A schema name for test `test` that no other test (or run of it) uses, short enough
/// for PostgreSQL's 63-byte names.
pub fn test_schema(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let short: String = test.chars().take(30).collect();
    format!("t_{short}_{}_{nanos}", std::process::id())
}

/// Drops the schema (CASCADE) over a connection of its own when dropped.
pub struct SchemaGuard(pub String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let sql = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.0
        );
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = postgres::connect(&database_url(), 3, Duration::from_millis(50))
                    .await
                    .map_err(std::io::Error::other)?;
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.0);
        }
    }
}

macro_rules! test_db {
    ($name:expr) => {
        match TestDb::new($name).await {
            Some(db) => db,
            None => return,
        }
    };
}

/// Generates a small bank whose data ends on `end` (`yyyy-mm-dd`) under `dir`, and
/// builds its warehouse as of that day.
async fn build_warehouse(dir: &Path, end: &str) -> DataLayout {
    let raw = dir.join("raw");
    let as_of: chrono::NaiveDate = end.parse().expect("date");
    generate(&GenerateOptions {
        out: raw.clone(),
        scale: 0.005,
        seed: 3,
        defects: 0.01,
        end_date: as_of,
    })
    .expect("generate");
    let layout = DataLayout::new(dir);
    run(PipelineConfig::default(), &raw, &layout, "run-1", as_of).await;
    layout
}

/// Each warehouse table's rows in Delta.
async fn delta_rows(layout: &DataLayout) -> BTreeMap<&'static str, i64> {
    let mut rows = BTreeMap::new();
    for table in &WAREHOUSE {
        let location = layout.transformed(table.name).location().expect("location");
        let count = delta::count_rows(&location).await.expect("count");
        rows.insert(table.name, i64::try_from(count).expect("rows"));
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warehouse_loads_with_its_keys_and_a_second_load_changes_nothing() {
    let mut db = test_db!("publish");
    let dir = tempfile::tempdir().expect("dir");
    let layout = build_warehouse(dir.path(), "2026-11-24").await;
    let expected = delta_rows(&layout).await;

    let report = publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("load");
    assert_eq!(
        report.method,
        Method::Swap,
        "nothing else depends on the tables"
    );
    let loaded: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    let declared: Vec<&str> = WAREHOUSE.iter().map(|t| t.name).collect();
    assert_eq!(loaded, declared, "every table, in load order");
    let snapshot = db.snapshot().await;
    for (table, rows) in &expected {
        assert_eq!(
            snapshot[table].0, *rows,
            "{table}: rows in PostgreSQL = in Delta"
        );
        let reported = report.tables.iter().find(|t| t.table == *table).expect("");
        assert_eq!(reported.rows as i64, *rows, "{table}: reported rows");
    }
    assert!(expected["fact_transactions"] > 1000);
    assert!(expected["fact_fraudes"] > 0 && expected["fact_revenue"] > 0);
    assert_eq!(db.orphans().await, Vec::<String>::new(), "no orphan row");
    let unknown = format!(
        "SELECT count(*) FROM {} WHERE client_key = -1",
        db.table("dim_clients")
    );
    assert_eq!(
        db.scalar_i64(&unknown).await,
        1,
        "the unknown member is loaded"
    );

    // The keys, indexes and comments are there.
    let constraints = |kind: &str| {
        format!(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = '{}' AND c.contype = '{kind}'",
            db.schema
        )
    };
    let foreign_keys: usize = WAREHOUSE.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(db.scalar_i64(&constraints("f")).await, foreign_keys as i64);
    let primary_keys = WAREHOUSE
        .iter()
        .filter(|t| !t.primary_key.is_empty())
        .count();
    assert_eq!(db.scalar_i64(&constraints("p")).await, primary_keys as i64);
    let deferrable = format!(
        "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = '{}' AND c.contype = 'f' AND c.condeferrable",
        db.schema
    );
    assert_eq!(db.scalar_i64(&deferrable).await, foreign_keys as i64);
    let indexed = format!(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = '{}' \
         AND tablename = 'fact_transactions' AND indexdef LIKE '%(date_key)'",
        db.schema
    );
    assert_eq!(db.scalar_i64(&indexed).await, 1, "the date key is indexed");
    let comment = format!(
        "SELECT col_description('{}'::regclass, 1)",
        db.table("fact_transactions")
    );
    let text: Option<String> = db.client.query_one(&comment, &[]).await.expect("").get(0);
    assert_eq!(text.as_deref(), Some("the transaction's business id"));

    // Loading the same lake again leaves the same content.
    publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("second load");
    assert_eq!(
        db.snapshot().await,
        snapshot,
        "a second load changes nothing"
    );

    // Every check passes against this lake and server.
    let checks = check_connections(&CheckOptions {
        layout: layout.clone(),
        database_url: Some(database_url()),
        schema: db.schema.clone(),
        run_store: Some(StoreLocation::Postgres {
            url: database_url(),
            schema: db.schema.clone(),
        }),
        attempts: 1,
        first_backoff: Duration::from_millis(10),
    })
    .await;
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(checks.len(), 1 + 9 + WAREHOUSE.len() + 1 + 3);
    let runs = checks.iter().find(|c| c.check == "run store").expect("");
    assert_eq!(runs.detail, "no run yet", "created in the schema: {runs:?}");
}

/// Moves the data files of the Delta table `table` aside (`hide`) or back.
fn move_data_files(layout: &DataLayout, table: &str, hide: bool) {
    let (from, to) = if hide {
        ("parquet", "parquet.hidden")
    } else {
        ("parquet.hidden", "parquet")
    };
    let folder = layout
        .transformed(table)
        .folder()
        .expect("local")
        .to_owned();
    let mut moved = 0;
    for entry in std::fs::read_dir(&folder).expect("table folder") {
        let path = entry.expect("entry").path();
        let name = path.to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(from).filter(|s| s.ends_with('.')) {
            std::fs::rename(&path, format!("{stem}{to}")).expect("rename");
            moved += 1;
        }
    }
    assert!(moved > 0, "no data file in {}", folder.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_leaves_every_table_as_it_was() {
    let mut db = test_db!("publish_fail");
    let dir = tempfile::tempdir().expect("dir");
    let layout = build_warehouse(dir.path(), "2026-11-24").await;
    publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("load");
    let fraudes = db.table("fact_fraudes");
    let transactions = db.table("fact_transactions");
    db.client
        .batch_execute(&format!(
            "DELETE FROM {fraudes}; DELETE FROM {transactions} WHERE transaction_id IN \
             (SELECT transaction_id FROM {transactions} ORDER BY 1 LIMIT 10)"
        ))
        .await
        .expect("delete");
    let before = db.snapshot().await;

    // The last table loaded cannot be read from the lake: the whole load rolls back.
    move_data_files(&layout, "mart_fraud_daily", true);
    let error = publish(&layout, &mut db.client, &db.schema)
        .await
        .expect_err("mart_fraud_daily cannot be read");
    assert!(error.to_string().contains("mart_fraud_daily"), "{error}");
    assert_eq!(db.snapshot().await, before, "nothing changed");
    move_data_files(&layout, "mart_fraud_daily", false);
    let report = publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("a rerun completes");
    assert_eq!(report.method, Method::Swap);
    let expected = delta_rows(&layout).await;
    assert_eq!(
        db.count("fact_transactions").await,
        expected["fact_transactions"]
    );
    assert_eq!(db.count("fact_fraudes").await, expected["fact_fraudes"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_on_the_warehouse_is_kept_by_loading_in_place() {
    let mut db = test_db!("publish_view");
    let dir = tempfile::tempdir().expect("dir");
    let layout = build_warehouse(dir.path(), "2026-11-24").await;
    publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("load");
    let view = format!(
        "CREATE VIEW {} AS SELECT count(*) AS n FROM {}",
        db.table("analyst_view"),
        db.table("fact_transactions")
    );
    db.client.batch_execute(&view).await.expect("view");
    let snapshot = db.snapshot().await;

    let report = publish(&layout, &mut db.client, &db.schema)
        .await
        .expect("a load in place");
    match &report.method {
        Method::InPlace { dependents } => {
            assert_eq!(dependents.len(), 1, "{dependents:?}");
            assert!(dependents[0].contains("analyst_view"), "{dependents:?}");
        }
        Method::Swap => panic!("a swap would have dropped the view"),
    }
    assert_eq!(db.snapshot().await, snapshot, "the same content");
    let seen = format!("SELECT n FROM {}", db.table("analyst_view"));
    assert_eq!(
        db.scalar_i64(&seen).await,
        snapshot["fact_transactions"].0,
        "the view still reads the facts"
    );

    // In place too, a table that refuses its rows rolls the whole load back.
    db.client
        .batch_execute(&format!("DELETE FROM {}", db.table("fact_fraudes")))
        .await
        .expect("delete");
    let before = db.snapshot().await;
    let refuse = format!(
        "ALTER TABLE {} ADD CONSTRAINT refuse_all CHECK (alerts < 0) NOT VALID",
        db.table("mart_fraud_daily")
    );
    db.client.batch_execute(&refuse).await.expect("constraint");
    let error = publish(&layout, &mut db.client, &db.schema)
        .await
        .expect_err("mart_fraud_daily refuses its rows");
    assert!(error.to_string().contains("refuse_all"), "{error}");
    assert_eq!(db.snapshot().await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_lake_replaces_the_warehouse_even_where_dimension_rows_disappear() {
    let mut db = test_db!("publish_other");
    let first_dir = tempfile::tempdir().expect("dir");
    let first = build_warehouse(first_dir.path(), "2026-05-31").await;
    publish(&first, &mut db.client, &db.schema)
        .await
        .expect("first lake");
    let days = format!("SELECT date_key FROM {} ORDER BY 1", db.table("dim_dates"));
    let first_days: Vec<i32> = db
        .client
        .query(&days, &[])
        .await
        .expect("days")
        .iter()
        .map(|r| r.get(0))
        .collect();

    let second_dir = tempfile::tempdir().expect("dir");
    let second = build_warehouse(second_dir.path(), "2026-11-24").await;
    publish(&second, &mut db.client, &db.schema)
        .await
        .expect("the second lake replaces the first");
    let second_days: Vec<i32> = db
        .client
        .query(&days, &[])
        .await
        .expect("days")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        first_days.iter().any(|d| !second_days.contains(d)),
        "the premise: days the first lake's loans referred to are gone"
    );
    let snapshot = db.snapshot().await;
    for (table, rows) in delta_rows(&second).await {
        assert_eq!(snapshot[table].0, rows, "{table}");
    }
    assert_eq!(db.orphans().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_connections_reports_an_unreachable_server_quickly() {
    let dir = tempfile::tempdir().expect("dir");
    let started = Instant::now();
    let checks = check_connections(&CheckOptions {
        layout: DataLayout::new(dir.path()),
        database_url: Some("postgres://postgres:s3cret@127.0.0.1:1/test".to_owned()),
        schema: "bank_dw".to_owned(),
        run_store: Some(StoreLocation::Sqlite(dir.path().join("runs.sqlite"))),
        attempts: 3,
        first_backoff: Duration::from_millis(20),
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded retries: {:?}",
        started.elapsed()
    );
    let server = checks
        .iter()
        .find(|c| c.check == "postgres reachable")
        .expect("a PostgreSQL check");
    assert!(!server.ok);
    assert_eq!(server.target, "postgres@127.0.0.1:1/test");
    assert!(server.detail.contains("unreachable"), "{}", server.detail);
    assert!(server.detail.contains("3 attempt(s)"), "{}", server.detail);
    for check in &checks {
        assert!(
            !check.detail.contains("s3cret") && !check.target.contains("s3cret"),
            "{check:?}"
        );
    }
    let folder = checks.iter().find(|c| c.check == "data folder").expect("");
    assert!(folder.ok, "{folder:?}");
    let runs = checks.iter().find(|c| c.check == "run store").expect("");
    assert!(
        runs.ok && runs.detail.contains("not created yet"),
        "{runs:?}"
    );
    let missing = checks
        .iter()
        .find(|c| c.target == "transformed/fact_transactions")
        .expect("the fact table's check");
    assert!(!missing.ok && missing.detail.contains("no Delta table"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "the checks leave nothing behind: {left:?}");

    let no_url = check_connections(&CheckOptions {
        database_url: None,
        layout: DataLayout::new(dir.path()),
        schema: "bank_dw".to_owned(),
        run_store: None,
        attempts: 1,
        first_backoff: Duration::from_millis(1),
    })
    .await;
    let server = no_url.last().expect("checks");
    assert!(
        !server.ok && server.detail.contains("DATABASE_URL"),
        "{server:?}"
    );
}
