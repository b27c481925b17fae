//! The PostgreSQL loader against a real server: every type round trip, DDL, replace and
//! upsert, failures that must leave the previous content, foreign keys, connection
//! errors and NUMERIC.
//!
//! The server is `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`). Without
//! one a test prints `SKIPPED: …` and passes, unless `BANKPIPE_REQUIRE_PG=1`. Each test works
//! in a schema of its own, dropped when the test ends, even on failure.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use futures::{Stream, StreamExt, stream};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use storage::postgres::{
    self, ConnectFailure, ForeignKey, LoadMode, LoadReport, Numeric, PostgresError, TableSpec,
};
use tokio_postgres::Client;

type Batches = Vec<Result<RecordBatch, ArrowError>>;

// ---------------------------------------------------------------- server and schema

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn try_connect() -> Option<Client> {
    match postgres::connect(&database_url(), 1, Duration::from_millis(10)).await {
        Ok(client) => Some(client),
        Err(error) => {
            crate::server::unavailable(
                "BANKPIPE_REQUIRE_PG",
                "no PostgreSQL at DATABASE_URL (or the default)",
                error,
            );
            None
        }
    }
}

/// A connection (UTC, ISO dates) and a schema of the test's own.
struct TestDb {
    client: Client,
    schema: String,
    // Declared last: dropped after the client has gone.
    _guard: SchemaGuard,
}

impl TestDb {
    async fn new(test: &str) -> Option<TestDb> {
        let client = try_connect().await?;
        client
            .batch_execute("SET TIME ZONE 'UTC'; SET DateStyle = ISO")
            .await
            .expect("session settings");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let schema = format!("t_{test}_{}_{nanos}", std::process::id());
        Some(TestDb {
            client,
            _guard: SchemaGuard(schema.clone()),
            schema,
        })
    }

    fn spec(&self, name: &str, columns: SchemaRef, primary_key: &[&str]) -> TableSpec {
        TableSpec {
            schema: self.schema.clone(),
            name: name.to_owned(),
            columns,
            primary_key: primary_key.iter().map(|k| k.to_string()).collect(),
            foreign_keys: vec![],
            indexes: vec![],
            comments: BTreeMap::new(),
        }
    }

    fn table(&self, name: &str) -> String {
        format!("\"{}\".\"{}\"", self.schema, name.replace('"', "\"\""))
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {}", self.table(table));
        self.client.query_one(&sql, &[]).await.expect(&sql).get(0)
    }

    /// The whole content as one hash (rows in the order of their text).
    async fn fingerprint(&self, table: &str) -> String {
        let sql = format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM {} t",
            self.table(table)
        );
        self.client.query_one(&sql, &[]).await.expect(&sql).get(0)
    }

    /// Staging tables left anywhere (any schema, temporary ones included).
    async fn staging_tables(&self, table: &str) -> i64 {
        let pattern = format!("{table}\\_\\_staging%");
        self.client
            .query_one(
                "SELECT count(*) FROM pg_class WHERE relname LIKE $1",
                &[&pattern],
            )
            .await
            .expect("pg_class")
            .get(0)
    }
}

/// Drops the schema (CASCADE) over a connection of its own when dropped.
struct SchemaGuard(String);

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

async fn load(
    client: &mut Client,
    spec: &TableSpec,
    batches: Batches,
    mode: LoadMode,
) -> Result<LoadReport, PostgresError> {
    postgres::load(client, spec, stream::iter(batches), mode).await
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn decimals(values: Vec<Option<i128>>, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(18, scale)
            .expect("decimal"),
    )
}

// ---------------------------------------------------------------- every type

fn all_types_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("t", DataType::Utf8, true),
        Field::new("lt", DataType::LargeUtf8, true),
        Field::new("tv", DataType::Utf8View, true),
        Field::new("i16", DataType::Int16, true),
        Field::new("i32", DataType::Int32, true),
        Field::new("i64", DataType::Int64, true),
        Field::new("f32", DataType::Float32, true),
        Field::new("f64", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("d", DataType::Date32, true),
        Field::new("tstz", utc(), true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new("n2", DataType::Decimal128(18, 2), true),
        Field::new("n6", DataType::Decimal128(18, 6), true),
    ]))
}

/// The rows of the round trip: row 5 is all nulls.
struct AllTypes {
    text: Vec<Option<String>>,
    i16: Vec<Option<i16>>,
    i32: Vec<Option<i32>>,
    i64: Vec<Option<i64>>,
    f32: Vec<Option<f32>>,
    f64: Vec<Option<f64>>,
    bool: Vec<Option<bool>>,
    date: Vec<Option<i32>>,
    micros: Vec<Option<i64>>,
    n2: Vec<Option<i128>>,
    n6: Vec<Option<i128>>,
}

fn all_types_rows() -> AllTypes {
    let text = ["", "plain", "it's \"quoted\" \\ back", "é 漢字 🚀\n\ttab"]
        .into_iter()
        .map(str::to_owned)
        .chain(["x".repeat(10_000)])
        .map(Some)
        .chain([None])
        .collect();
    AllTypes {
        text,
        i16: vec![
            Some(0),
            Some(i16::MIN),
            Some(i16::MAX),
            Some(-1),
            Some(7),
            None,
        ],
        i32: vec![
            Some(0),
            Some(i32::MIN),
            Some(i32::MAX),
            Some(-1),
            Some(7),
            None,
        ],
        i64: vec![
            Some(0),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(-1),
            Some(7),
            None,
        ],
        f32: vec![
            Some(0.1),
            Some(-0.0),
            Some(f32::MAX),
            Some(f32::NAN),
            Some(1e-45),
            None,
        ],
        f64: vec![
            Some(0.1),
            Some(-0.0),
            Some(f64::MIN_POSITIVE / 4.0),
            Some(f64::INFINITY),
            Some(-1.234_567_890_123_456e300),
            None,
        ],
        bool: vec![
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            Some(true),
            None,
        ],
        // 2024-02-29, 1970-01-01, 1900-01-01, 9999-12-31, 0001-01-01
        date: vec![
            Some(19_782),
            Some(0),
            Some(-25_567),
            Some(2_932_896),
            Some(-719_162),
            None,
        ],
        micros: vec![
            Some(1_709_214_330_123_456), // 2024-02-29 13:45:30.123456
            Some(0),
            Some(946_684_799_999_999),  // 1999-12-31 23:59:59.999999
            Some(-302_486_399_999_999), // 1960-06-01 00:00:00.000001
            Some(946_684_800_000_000),  // 2000-01-01
            None,
        ],
        n2: vec![
            Some(0),
            Some(-1),
            Some(1_000_000),
            Some(999_999_999_999_999_999),
            Some(-999_999_999_999_999_999),
            None,
        ],
        n6: vec![
            Some(123_456),
            Some(-1),
            Some(999_999_999_999_999_999),
            Some(0),
            Some(1_000_000),
            None,
        ],
    }
}

fn all_types_batch(rows: &AllTypes) -> RecordBatch {
    let text: Vec<Option<&str>> = rows.text.iter().map(|t| t.as_deref()).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..rows.text.len() as i64)),
        Arc::new(StringArray::from(text.clone())),
        Arc::new(LargeStringArray::from(text.clone())),
        Arc::new(StringViewArray::from(text)),
        Arc::new(Int16Array::from(rows.i16.clone())),
        Arc::new(Int32Array::from(rows.i32.clone())),
        Arc::new(Int64Array::from(rows.i64.clone())),
        Arc::new(Float32Array::from(rows.f32.clone())),
        Arc::new(Float64Array::from(rows.f64.clone())),
        Arc::new(BooleanArray::from(rows.bool.clone())),
        Arc::new(Date32Array::from(rows.date.clone())),
        Arc::new(TimestampMicrosecondArray::from(rows.micros.clone()).with_timezone("UTC")),
        Arc::new(TimestampMicrosecondArray::from(rows.micros.clone())),
        decimals(rows.n2.clone(), 2),
        decimals(rows.n6.clone(), 6),
    ];
    RecordBatch::try_new(all_types_schema(), columns).expect("batch")
}

fn same_f64(got: Option<f64>, expected: Option<f64>) -> bool {
    match (got, expected) {
        (Some(g), Some(e)) if e.is_nan() => g.is_nan(),
        (Some(g), Some(e)) => g.to_bits() == e.to_bits(),
        (g, e) => g.is_none() && e.is_none(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_exactly() {
    let mut db = test_db!("types");
    let spec = db.spec("all_types", all_types_schema(), &["id"]);
    let rows = all_types_rows();
    let batch = all_types_batch(&rows);
    // Two batches, the second a slice (offsets into the Arrow buffers).
    let batches = vec![Ok(batch.slice(0, 2)), Ok(batch.slice(2, 4))];
    let report = load(&mut db.client, &spec, batches, LoadMode::Replace)
        .await
        .expect("load");
    assert_eq!(report.rows, 6);

    let sql = format!(
        "SELECT t, lt, tv, i16, i32, i64, f32, f64, b, d - DATE '1970-01-01', \
         (extract(epoch FROM tstz) * 1000000)::bigint, \
         (extract(epoch FROM ts) * 1000000)::bigint, n2, n6, \
         d::text, tstz::text, ts::text, n2::text, n6::text \
         FROM {} ORDER BY id",
        db.table("all_types")
    );
    let got = db.client.query(&sql, &[]).await.expect("select");
    assert_eq!(got.len(), 6);
    for (i, row) in got.iter().enumerate() {
        let texts: [Option<String>; 3] = [row.get(0), row.get(1), row.get(2)];
        assert!(
            texts.iter().all(|t| *t == rows.text[i]),
            "row {i}: {texts:?}"
        );
        assert_eq!(row.get::<_, Option<i16>>(3), rows.i16[i], "row {i}");
        assert_eq!(row.get::<_, Option<i32>>(4), rows.i32[i], "row {i}");
        assert_eq!(row.get::<_, Option<i64>>(5), rows.i64[i], "row {i}");
        let f32_got = row.get::<_, Option<f32>>(6).map(f64::from);
        assert!(
            same_f64(f32_got, rows.f32[i].map(f64::from)),
            "row {i}: {f32_got:?}"
        );
        let f64_got = row.get::<_, Option<f64>>(7);
        assert!(same_f64(f64_got, rows.f64[i]), "row {i}: {f64_got:?}");
        assert_eq!(row.get::<_, Option<bool>>(8), rows.bool[i], "row {i}");
        assert_eq!(row.get::<_, Option<i32>>(9), rows.date[i], "row {i}");
        assert_eq!(row.get::<_, Option<i64>>(10), rows.micros[i], "row {i}");
        assert_eq!(row.get::<_, Option<i64>>(11), rows.micros[i], "row {i}");
        let n2 = rows.n2[i].map(|value| Numeric { value, scale: 2 });
        let n6 = rows.n6[i].map(|value| Numeric { value, scale: 6 });
        assert_eq!(row.get::<_, Option<Numeric>>(12), n2, "row {i}");
        assert_eq!(row.get::<_, Option<Numeric>>(13), n6, "row {i}");
    }
    let texts = |i: usize| -> Vec<Option<String>> { (14..19).map(|c| got[i].get(c)).collect() };
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        texts(0),
        [
            some("2024-02-29"),
            some("2024-02-29 13:45:30.123456+00"),
            some("2024-02-29 13:45:30.123456"),
            some("0.00"),
            some("0.123456")
        ]
    );
    assert_eq!(
        texts(1),
        [
            some("1970-01-01"),
            some("1970-01-01 00:00:00+00"),
            some("1970-01-01 00:00:00"),
            some("-0.01"),
            some("-0.000001")
        ]
    );
    assert_eq!(
        texts(3),
        [
            some("9999-12-31"),
            some("1960-06-01 00:00:00.000001+00"),
            some("1960-06-01 00:00:00.000001"),
            some("9999999999999999.99"),
            some("0.000000")
        ]
    );
    assert_eq!(texts(4)[0], some("0001-01-01"));
    assert_eq!(texts(5), [None, None, None, None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_types_and_mismatched_batches_are_refused_with_the_column() {
    let mut db = test_db!("refuse");
    let spec = db.spec("all_types", all_types_schema(), &["id"]);
    load(
        &mut db.client,
        &spec,
        vec![Ok(all_types_batch(&all_types_rows()))],
        LoadMode::Replace,
    )
    .await
    .expect("first load");
    let before = db.fingerprint("all_types").await;

    let unsupported = Arc::new(Schema::new(vec![Field::new("u", DataType::UInt64, true)]));
    let unsupported = db.spec("u", unsupported, &[]);
    let error = load(&mut db.client, &unsupported, vec![], LoadMode::Replace)
        .await
        .expect_err("UInt64 has no mapping");
    assert!(
        matches!(error, PostgresError::UnsupportedType { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("UInt64") && error.to_string().contains("\"u\""));

    // A batch whose numeric column has another scale than the spec.
    let batch = all_types_batch(&all_types_rows());
    let mut columns = batch.columns().to_vec();
    columns[13] = decimals(vec![Some(1); 6], 3);
    let mut fields: Vec<Field> = all_types_schema()
        .fields()
        .iter()
        .map(|f| (**f).clone())
        .collect();
    fields[13] = Field::new("n2", DataType::Decimal128(18, 3), true);
    let other = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch");
    let error = load(&mut db.client, &spec, vec![Ok(other)], LoadMode::Replace)
        .await
        .expect_err("scale 3 into numeric(18,2)");
    assert!(
        matches!(error, PostgresError::InvalidBatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("\"n2\""), "{error}");
    assert_eq!(db.fingerprint("all_types").await, before);
}

// ---------------------------------------------------------------- DDL

fn dimension_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Client \"Key\"", DataType::Int64, false),
        Field::new("segment", DataType::Utf8, true),
    ]))
}

fn fact_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("Client \"Key\"", DataType::Int64, false),
        Field::new("booked_on", DataType::Date32, false),
        Field::new("amount", DataType::Decimal128(18, 2), false),
    ]))
}

fn dimension_spec(db: &TestDb, name: &str) -> TableSpec {
    let mut spec = db.spec(name, dimension_schema(), &["Client \"Key\""]);
    spec.comments.insert(
        "segment".into(),
        "retail, premium… it's \"the\" segment \\ (lower case)".into(),
    );
    spec
}

fn fact_spec(db: &TestDb, dimension: &str) -> TableSpec {
    let mut spec = db.spec("fact_transactions", fact_schema(), &["transaction_id"]);
    spec.foreign_keys.push(ForeignKey {
        columns: vec!["Client \"Key\"".into()],
        references_table: dimension.into(),
        references_columns: vec!["Client \"Key\"".into()],
    });
    spec.indexes.push(vec!["booked_on".into()]);
    spec
}

fn dimension_batch(keys: &[i64]) -> Result<RecordBatch, ArrowError> {
    let segments: Vec<String> = keys
        .iter()
        .map(|k| {
            if *k == -1 {
                "unknown".into()
            } else {
                format!("segment {k}")
            }
        })
        .collect();
    RecordBatch::try_new(
        dimension_schema(),
        vec![
            Arc::new(Int64Array::from(keys.to_vec())),
            Arc::new(StringArray::from(segments)),
        ],
    )
}

fn fact_batch(first: usize, client_keys: &[i64]) -> Result<RecordBatch, ArrowError> {
    let ids: Vec<String> = (first..first + client_keys.len())
        .map(|i| format!("tx{i:06}"))
        .collect();
    let n = client_keys.len();
    RecordBatch::try_new(
        fact_schema(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(Int64Array::from(client_keys.to_vec())),
            Arc::new(Date32Array::from(vec![19_782; n])),
            decimals((0..n as i128).map(|i| Some(i * 101)).collect(), 2),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_creates_keys_indexes_and_comments_with_quoted_names() {
    let mut db = test_db!("ddl");
    let dimension = "Dim \"Clients\"";
    let dim = dimension_spec(&db, dimension);
    let fact = fact_spec(&db, dimension);
    for _ in 0..2 {
        // Twice: every statement is idempotent.
        for spec in [&dim, &fact] {
            for statement in postgres::create_statements(spec).expect("ddl") {
                db.client.batch_execute(&statement).await.expect(&statement);
            }
        }
    }
    let constraints = db
        .client
        .query(
            "SELECT table_name::text, constraint_type::text, is_deferrable::text \
             FROM information_schema.table_constraints \
             WHERE table_schema = $1 AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') \
             ORDER BY 1, 2",
            &[&db.schema],
        )
        .await
        .expect("constraints");
    let constraints: Vec<(String, String, String)> = constraints
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let own = |t: &str, c: &str, d: &str| (t.to_owned(), c.to_owned(), d.to_owned());
    assert_eq!(
        constraints,
        [
            own(dimension, "PRIMARY KEY", "NO"),
            own("fact_transactions", "FOREIGN KEY", "YES"),
            own("fact_transactions", "PRIMARY KEY", "NO"),
        ]
    );
    let indexes: Vec<String> = db
        .client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 \
             ORDER BY indexname",
            &[&db.schema, &"fact_transactions"],
        )
        .await
        .expect("indexes")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
    assert!(
        indexes
            .iter()
            .any(|i| i.ends_with("USING btree (booked_on)")),
        "{indexes:?}"
    );
    assert!(
        indexes
            .iter()
            .any(|i| i.ends_with("(\"Client \"\"Key\"\"\")")),
        "{indexes:?}"
    );
    let comment: Option<String> = db
        .client
        .query_one(
            "SELECT col_description(c.oid, a.attnum) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = 'segment'",
            &[&db.schema, &dimension],
        )
        .await
        .expect("comment")
        .get(0);
    assert_eq!(comment, dim.comments.get("segment").cloned());

    let report = load(
        &mut db.client,
        &dim,
        vec![dimension_batch(&[-1, 1, 2])],
        LoadMode::Replace,
    )
    .await
    .expect("load into a quoted name");
    assert_eq!(report.rows, 3);
    assert_eq!(db.count(dimension).await, 3);
}

// ---------------------------------------------------------------- replace and upsert

fn accounts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("balance", DataType::Decimal128(18, 2), false),
    ]))
}

/// Accounts `ids`, with balance `id × 100 + bump` (in cents).
fn accounts(ids: std::ops::Range<i64>, bump: i128) -> Result<RecordBatch, ArrowError> {
    let names: Vec<Option<String>> = ids
        .clone()
        .map(|i| (i % 7 != 0).then(|| format!("account {i}")))
        .collect();
    let balances = ids
        .clone()
        .map(|i| Some(i128::from(i) * 100 + bump))
        .collect();
    RecordBatch::try_new(
        accounts_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from(names)),
            decimals(balances, 2),
        ],
    )
}

async fn row_versions(db: &TestDb) -> HashMap<i64, String> {
    let sql = format!("SELECT id, xmin::text FROM {}", db.table("accounts"));
    let rows = db.client.query(&sql, &[]).await.expect("xmin");
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_is_idempotent_and_upsert_changes_only_what_changed() {
    let mut db = test_db!("modes");
    let spec = db.spec("accounts", accounts_schema(), &["id"]);
    let batches = || vec![accounts(0..600, 0), accounts(600..1000, 0)];

    load(&mut db.client, &spec, batches(), LoadMode::Replace)
        .await
        .expect("first");
    let first = db.fingerprint("accounts").await;
    let report = load(&mut db.client, &spec, batches(), LoadMode::Replace)
        .await
        .expect("again");
    assert_eq!(report.rows, 1000);
    assert_eq!(db.count("accounts").await, 1000);
    assert_eq!(db.fingerprint("accounts").await, first);

    // Upsert: 0..5 change, 5..10 are the same, 1000..1005 are new.
    let before = row_versions(&db).await;
    let upsert = || {
        vec![
            accounts(0..5, 1),
            accounts(5..10, 0),
            accounts(1000..1005, 0),
        ]
    };
    let report = load(&mut db.client, &spec, upsert(), LoadMode::Upsert)
        .await
        .expect("upsert");
    assert_eq!(report.rows, 15);
    assert_eq!(db.count("accounts").await, 1005);
    let after = row_versions(&db).await;
    let rewritten: Vec<i64> = (0..1000).filter(|id| before[id] != after[id]).collect();
    assert_eq!(
        rewritten,
        [0, 1, 2, 3, 4],
        "only the changed rows get a new version"
    );
    let sql = format!(
        "SELECT balance::text FROM {} WHERE id IN (4, 5, 1004) ORDER BY id",
        db.table("accounts")
    );
    let balances: Vec<String> = db
        .client
        .query(&sql, &[])
        .await
        .expect("balances")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(balances, ["4.01", "5.00", "1004.00"]);

    // The same upsert again rewrites nothing.
    load(&mut db.client, &spec, upsert(), LoadMode::Upsert)
        .await
        .expect("upsert again");
    assert_eq!(row_versions(&db).await, after);

    // Replace with fewer rows leaves exactly those.
    load(
        &mut db.client,
        &spec,
        vec![accounts(0..10, 0)],
        LoadMode::Replace,
    )
    .await
    .expect("fewer");
    assert_eq!(db.count("accounts").await, 10);
    assert_eq!(db.staging_tables("accounts").await, 0);
}

// ---------------------------------------------------------------- failures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_loads_keep_the_previous_content() {
    let mut db = test_db!("fail");
    let spec = db.spec("accounts", accounts_schema(), &["id"]);
    load(
        &mut db.client,
        &spec,
        vec![accounts(0..100, 0)],
        LoadMode::Replace,
    )
    .await
    .expect("load");
    let before = db.fingerprint("accounts").await;

    // The stream fails half-way.
    let failing = [
        accounts(0..50, 7),
        accounts(50..200, 7),
        Err(ArrowError::ComputeError(
            "the source file is truncated".into(),
        )),
        accounts(200..300, 7),
    ];
    for mode in [LoadMode::Replace, LoadMode::Upsert] {
        let error = load(
            &mut db.client,
            &spec,
            failing.iter().map(clone_batch).collect(),
            mode,
        )
        .await
        .expect_err("the stream failed");
        match &error {
            PostgresError::Stream { rows, .. } => assert_eq!(*rows, 200),
            other => panic!("expected a stream error, got {other}"),
        }
        assert!(
            error.to_string().contains("the source file is truncated"),
            "{error}"
        );
        assert_eq!(db.fingerprint("accounts").await, before);
        assert_eq!(db.staging_tables("accounts").await, 0);
    }

    // The server refuses the rows: a repeated key.
    let error = load(
        &mut db.client,
        &spec,
        vec![accounts(0..100, 7), accounts(99..100, 7)],
        LoadMode::Replace,
    )
    .await
    .expect_err("duplicate key");
    assert_eq!(error.sqlstate(), Some("23505"), "{error}");
    assert!(error.to_string().contains("repeated key"), "{error}");

    // A batch with a null in a required column.
    let mut nulls = accounts(0..3, 7).expect("batch").columns().to_vec();
    nulls[2] = decimals(vec![Some(1), None, Some(3)], 2);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("balance", DataType::Decimal128(18, 2), true),
    ]));
    let batch = RecordBatch::try_new(schema, nulls).expect("batch");
    let error = load(&mut db.client, &spec, vec![Ok(batch)], LoadMode::Replace)
        .await
        .expect_err("null balance");
    assert!(
        error.to_string().contains("\"balance\" is required"),
        "{error}"
    );

    assert_eq!(db.fingerprint("accounts").await, before);
    assert_eq!(db.staging_tables("accounts").await, 0);
    // The connection is still usable.
    load(
        &mut db.client,
        &spec,
        vec![accounts(0..100, 0)],
        LoadMode::Replace,
    )
    .await
    .expect("rerun");
    assert_eq!(db.fingerprint("accounts").await, before);
}

fn clone_batch(item: &Result<RecordBatch, ArrowError>) -> Result<RecordBatch, ArrowError> {
    match item {
        Ok(batch) => Ok(batch.clone()),
        Err(error) => Err(ArrowError::ComputeError(error.to_string())),
    }
}

/// 100-row batches of accounts `0..100 × count`, each after a short sleep.
fn slow_accounts(count: i64) -> impl Stream<Item = Result<RecordBatch, ArrowError>> + Unpin {
    Box::pin(stream::iter(0..count).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        accounts(i * 100..(i + 1) * 100, 1)
    }))
}

/// Waits until backend `pid` has copied some rows, then terminates it.
async fn terminate_during_copy(observer: &Client, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let copied: Option<i64> = observer
            .query_opt(
                "SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = $1",
                &[&pid],
            )
            .await
            .expect("progress")
            .map(|r| r.get(0));
        if copied.is_some_and(|n| n > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the COPY never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed: bool = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate")
        .get(0);
    assert!(killed);
}

async fn wait_until_gone(observer: &Client, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while observer
        .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .await
        .expect("activity")
        .is_some()
    {
        assert!(Instant::now() < deadline, "backend {pid} did not exit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_backend_keeps_the_previous_content_and_a_rerun_completes() {
    let mut db = test_db!("kill");
    let spec = db.spec("accounts", accounts_schema(), &["id"]);
    load(
        &mut db.client,
        &spec,
        vec![accounts(0..100, 0)],
        LoadMode::Replace,
    )
    .await
    .expect("load");
    let before = db.fingerprint("accounts").await;

    let mut victim = try_connect().await.expect("second connection");
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let (result, ()) = tokio::join!(
        postgres::load(&mut victim, &spec, slow_accounts(100), LoadMode::Replace),
        terminate_during_copy(&db.client, pid),
    );
    let error = result.expect_err("the backend was terminated");
    assert!(matches!(error, PostgresError::Query { .. }), "{error}");
    assert!(error.to_string().contains("rerun"), "{error}");
    wait_until_gone(&db.client, pid).await;
    assert_eq!(db.fingerprint("accounts").await, before);
    assert_eq!(db.staging_tables("accounts").await, 0);

    let mut fresh = try_connect().await.expect("new connection");
    let report = postgres::load(&mut fresh, &spec, slow_accounts(3), LoadMode::Replace)
        .await
        .expect("rerun");
    assert_eq!(report.rows, 300);
    assert_eq!(db.count("accounts").await, 300);
}

// ---------------------------------------------------------------- foreign keys

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_keys_hold_from_dimension_to_fact() {
    let mut db = test_db!("fk");
    let dim = dimension_spec(&db, "dim_clients");
    let fact = fact_spec(&db, "dim_clients");
    load(
        &mut db.client,
        &dim,
        vec![dimension_batch(&[-1, 1, 2, 3])],
        LoadMode::Replace,
    )
    .await
    .expect("dimension");
    let facts = || {
        vec![
            fact_batch(0, &[1, 2, -1, 3, 1]),
            fact_batch(5, &[-1, -1, 2]),
        ]
    };
    let report = load(&mut db.client, &fact, facts(), LoadMode::Replace)
        .await
        .expect("fact");
    assert_eq!(report.rows, 8);
    let orphans = format!(
        "SELECT count(*) FROM {} f LEFT JOIN {} d USING (\"Client \"\"Key\"\"\") \
         WHERE d.segment IS NULL",
        db.table("fact_transactions"),
        db.table("dim_clients")
    );
    let orphans: i64 = db
        .client
        .query_one(&orphans, &[])
        .await
        .expect("orphans")
        .get(0);
    assert_eq!(orphans, 0);
    let before = db.fingerprint("fact_transactions").await;

    // A fact pointing at no member is refused, and the facts stay.
    let error = load(
        &mut db.client,
        &fact,
        vec![fact_batch(0, &[1, 99])],
        LoadMode::Replace,
    )
    .await
    .expect_err("unknown member 99");
    assert_eq!(error.sqlstate(), Some("23503"), "{error}");
    assert_eq!(db.fingerprint("fact_transactions").await, before);

    // Replacing the dimension that facts refer to works (the check waits for the commit)…
    load(
        &mut db.client,
        &dim,
        vec![dimension_batch(&[-1, 1, 2, 3, 4])],
        LoadMode::Replace,
    )
    .await
    .expect("replace a referenced dimension");
    // …unless a referenced member disappears.
    let dim_before = db.fingerprint("dim_clients").await;
    let error = load(
        &mut db.client,
        &dim,
        vec![dimension_batch(&[-1, 1, 2])],
        LoadMode::Replace,
    )
    .await
    .expect_err("member 3 is referenced");
    assert_eq!(error.sqlstate(), Some("23503"), "{error}");
    assert!(error.to_string().contains("COMMIT"), "{error}");
    assert_eq!(db.fingerprint("dim_clients").await, dim_before);
    assert_eq!(db.fingerprint("fact_transactions").await, before);
}

/// Loads `batches` into `spec`'s table inside `transaction` (see `postgres::load_in`).
async fn load_in(
    transaction: &tokio_postgres::Transaction<'_>,
    spec: &TableSpec,
    batches: Batches,
) -> Result<LoadReport, PostgresError> {
    postgres::load_in(transaction, spec, stream::iter(batches), LoadMode::Replace).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_loaded_in_one_transaction_change_together_with_immediate_keys() {
    let mut db = test_db!("load_in");
    let reader = try_connect().await.expect("a second connection");
    let dim = dimension_spec(&db, "dim_clients");
    let fact = fact_spec(&db, "dim_clients");
    load(
        &mut db.client,
        &dim,
        vec![dimension_batch(&[-1, 1, 2, 3])],
        LoadMode::Replace,
    )
    .await
    .expect("dimension");
    load(
        &mut db.client,
        &fact,
        vec![fact_batch(0, &[1, 2, 3])],
        LoadMode::Replace,
    )
    .await
    .expect("facts");
    let (dim_before, fact_before) = (
        db.fingerprint("dim_clients").await,
        db.fingerprint("fact_transactions").await,
    );
    let count = format!("SELECT count(*) FROM {}", db.table("dim_clients"));

    // Member 3 goes, with the facts that referred to it: facts cleared first, then the
    // dimension, then the new facts, all in one commit.
    let transaction = db.client.transaction().await.expect("begin");
    load_in(&transaction, &fact, vec![]).await.expect("clear");
    load_in(&transaction, &dim, vec![dimension_batch(&[-1, 1, 2])])
        .await
        .expect("a member that nothing refers to any more can go");
    load_in(&transaction, &fact, vec![fact_batch(0, &[1, 2, -1])])
        .await
        .expect("new facts");
    let seen: i64 = reader.query_one(&count, &[]).await.expect("count").get(0);
    assert_eq!(seen, 4, "others see the previous content until the commit");
    transaction.commit().await.expect("commit");
    let seen: i64 = reader.query_one(&count, &[]).await.expect("count").get(0);
    assert_eq!(seen, 3);
    assert_ne!(db.fingerprint("fact_transactions").await, fact_before);
    assert_ne!(db.fingerprint("dim_clients").await, dim_before);
    let (dim_before, fact_before) = (
        db.fingerprint("dim_clients").await,
        db.fingerprint("fact_transactions").await,
    );

    // Keys are checked at the end of each statement (the transaction's immediate mode):
    // a dimension that facts still refer to cannot be cleared, a fact that refers to no
    // member fails its COPY; a rollback keeps every table as it was.
    let transaction = db.client.transaction().await.expect("begin");
    let error = load_in(&transaction, &dim, vec![dimension_batch(&[-1, 1, 2])])
        .await
        .expect_err("facts refer to the members");
    assert_eq!(error.sqlstate(), Some("23503"), "{error}");
    assert!(error.to_string().contains("DELETE"), "{error}");
    transaction.rollback().await.expect("rollback");
    let transaction = db.client.transaction().await.expect("begin");
    load_in(&transaction, &fact, vec![]).await.expect("clear");
    load_in(&transaction, &dim, vec![dimension_batch(&[-1, 1, 2, 5])])
        .await
        .expect("dimension");
    let error = load_in(&transaction, &fact, vec![fact_batch(0, &[1, 99])])
        .await
        .expect_err("member 99 is unknown");
    assert_eq!(error.sqlstate(), Some("23503"), "{error}");
    assert!(error.to_string().contains("COPY"), "{error}");
    transaction.rollback().await.expect("rollback");
    assert_eq!(db.fingerprint("dim_clients").await, dim_before);
    assert_eq!(db.fingerprint("fact_transactions").await, fact_before);

    // A table created in a transaction that rolls back is gone with it.
    let other = db.spec("other", dimension_schema(), &[]);
    let transaction = db.client.transaction().await.expect("begin");
    load_in(&transaction, &other, vec![dimension_batch(&[1])])
        .await
        .expect("other");
    transaction.rollback().await.expect("rollback");
    let exists: bool = db
        .client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{}.other", db.schema)],
        )
        .await
        .expect("to_regclass")
        .get(0);
    assert!(!exists);
}

// ---------------------------------------------------------------- connecting

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_after_the_attempts_naming_host_and_port() {
    let started = Instant::now();
    let error = postgres::connect(
        "postgres://postgres:pw@127.0.0.1:1/test",
        3,
        Duration::from_millis(20),
    )
    .await
    .map(|_| ())
    .expect_err("nothing listens on port 1");
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "two waits: 20 ms then 40 ms"
    );
    assert!(
        matches!(
            error,
            PostgresError::Connect {
                attempts: 3,
                failure: ConnectFailure::Unreachable,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("postgres@127.0.0.1:1/test"), "{message}");
    assert!(message.contains("3 attempt(s)"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert!(!message.contains("pw"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_role_is_an_authentication_failure_without_retries() {
    if try_connect().await.is_none() {
        return;
    }
    let config: tokio_postgres::Config = database_url().parse().expect("DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let url = format!("postgres://no_such_role_bankpipe@{host}:{port}/test");
    let error = postgres::connect(&url, 5, Duration::from_secs(5))
        .await
        .map(|_| ())
        .expect_err("unknown role");
    assert!(
        matches!(
            error,
            PostgresError::Connect {
                attempts: 1,
                failure: ConnectFailure::Authentication,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("no_such_role_bankpipe"),
        "{error}"
    );
}

// ---------------------------------------------------------------- TLS

/// `url` with `params` added to its query.
fn with_params(url: &str, params: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

/// Whether the connection of `url` is encrypted, or the error connecting.
async fn encrypted(url: &str) -> Result<bool, PostgresError> {
    let client = postgres::connect(url, 3, Duration::from_millis(10)).await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    Ok(row.get(0))
}

fn assert_tls_failure(error: &PostgresError) {
    assert!(
        matches!(
            error,
            PostgresError::Connect {
                failure: ConnectFailure::Tls,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_follows_sslmode_as_libpq_does() {
    let Some(client) = try_connect().await else {
        return;
    };
    let settings = client
        .query_one(
            "SELECT current_setting('ssl'), current_setting('ssl_cert_file')",
            &[],
        )
        .await
        .expect("settings");
    let (ssl, cert_file): (String, String) = (settings.get(0), settings.get(1));
    let url = database_url();
    if ssl != "on" {
        eprintln!("SKIPPED: the server at DATABASE_URL has ssl = off");
        let error = encrypted(&with_params(&url, "sslmode=require"))
            .await
            .expect_err("require without TLS on the server");
        assert_tls_failure(&error);
        return;
    }
    assert!(
        !encrypted(&with_params(&url, "sslmode=disable"))
            .await
            .expect("disable")
    );
    assert!(encrypted(&url).await.expect("prefer, the default"));
    assert!(
        encrypted(&with_params(&url, "sslmode=require"))
            .await
            .expect("require")
    );

    // The server's certificate is not signed by a system root (a test server's is
    // self-signed): verify-full refuses it, at once.
    match encrypted(&with_params(&url, "sslmode=verify-full")).await {
        Err(PostgresError::Connect {
            failure: ConnectFailure::Tls,
            attempts: 1,
            message,
            ..
        }) => assert!(message.contains("certificate"), "{message}"),
        other => panic!("verify-full against an unknown issuer: {other:?}"),
    }
    // With the server's own certificate as the root (it is on this machine), the chain
    // holds; the host name holds where the URL names a host the certificate names.
    if !std::path::Path::new(&cert_file).is_file() {
        eprintln!("SKIPPED: the server's certificate {cert_file} is not readable here");
        return;
    }
    let root = format!("sslrootcert={cert_file}");
    assert!(
        encrypted(&with_params(&url, &format!("sslmode=verify-ca&{root}")))
            .await
            .expect("verify-ca with the server's certificate as root")
    );
    let pem = std::fs::read(&cert_file).expect("certificate");
    let config: tokio_postgres::Config = url.parse().expect("DATABASE_URL");
    let port = config.get_ports().first().copied().unwrap_or(5432);
    if String::from_utf8_lossy(&pem).contains("BEGIN CERTIFICATE") {
        let by_name =
            format!("postgres://postgres@localhost:{port}/test?sslmode=verify-full&{root}");
        match encrypted(&by_name).await {
            Ok(on) => assert!(on),
            // A certificate that does not name localhost: the name check refuses it.
            Err(PostgresError::Connect {
                failure, message, ..
            }) => {
                assert_eq!(failure, ConnectFailure::Tls, "{message}");
                assert!(
                    message.contains("Name") || message.contains("name"),
                    "{message}"
                );
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    let error = encrypted(&format!(
        "postgres://postgres@127.0.0.1:{port}/test?sslmode=verify-full&{root}"
    ))
    .await
    .expect_err("127.0.0.1 is not a name in the certificate");
    assert_tls_failure(&error);
}

// ---------------------------------------------------------------- NUMERIC

/// The text PostgreSQL prints for `value × 10^-scale`.
fn decimal_text(value: i128, scale: i8) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let digits = value.unsigned_abs().to_string();
    if scale <= 0 {
        let zeros = if value == 0 {
            0
        } else {
            usize::from(scale.unsigned_abs())
        };
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    }
    let scale = usize::from(scale.unsigned_abs());
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// `value` as PostgreSQL sees it: its text, and the value read back.
async fn through_server(client: &Client, value: Numeric) -> (String, Numeric) {
    let row = client
        .query_one("SELECT $1::numeric::text, $1::numeric", &[&value])
        .await
        .expect("numeric round trip");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_edge_cases_through_the_server() {
    let Some(client) = try_connect().await else {
        return;
    };
    let cases = [
        (0, 0, "0"),
        (0, 2, "0.00"),
        (-1, 2, "-0.01"),
        (10_000, 0, "10000"),
        (999_999_999_999_999_999, 4, "99999999999999.9999"),
        (-123_456_789, 6, "-123.456789"),
        (1, 6, "0.000001"),
        (123, -3, "123000"),
        (i128::MAX, 0, "170141183460469231731687303715884105727"),
        (i128::MIN, 38, "-1.70141183460469231731687303715884105728"),
    ];
    for (value, scale, text) in cases {
        let numeric = Numeric { value, scale };
        let (got, back) = through_server(&client, numeric).await;
        assert_eq!(got, text);
        let expected = match u32::try_from(-i32::from(scale)) {
            Ok(zeros) => Numeric {
                value: value * 10i128.pow(zeros),
                scale: 0,
            },
            Err(_) => numeric,
        };
        assert_eq!(back, expected);
    }
    // Values PostgreSQL made itself (fewer digit groups than the scale implies).
    for (text, value, scale) in [("0.5", 5, 1), ("10000.0000", 100_000_000, 4), ("-7", -7, 0)] {
        let back: Numeric = client
            .query_one("SELECT $1::text::numeric", &[&text])
            .await
            .expect("parse")
            .get(0);
        assert_eq!(back, Numeric { value, scale }, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_round_trips_random_values() {
    let Some(client) = try_connect().await else {
        return;
    };
    const MAX_18: i128 = 999_999_999_999_999_999;
    let handle = tokio::runtime::Handle::current();
    let check = |value: i128, scale: i8| -> Result<(), TestCaseError> {
        let numeric = Numeric { value, scale };
        let (text, back) = handle.block_on(through_server(&client, numeric));
        prop_assert_eq!(text, decimal_text(value, scale));
        prop_assert_eq!(back, numeric);
        Ok(())
    };
    tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(ProptestConfig::with_cases(300));
        runner
            .run(&(-MAX_18..=MAX_18, 0i8..=6), |(v, s)| check(v, s))
            .expect("18 digits, scale 0..=6");
        let mut runner = TestRunner::new(ProptestConfig::with_cases(100));
        runner
            .run(&(any::<i128>(), 0i8..=38), |(v, s)| check(v, s))
            .expect("any i128, scale 0..=38");
    });
}

// ---------------------------------------------------------------- swapping in fresh tables

/// The definition of every table of the schema: columns, constraints, indexes,
/// comments and grants, one line each, sorted.
async fn definitions(db: &TestDb) -> Vec<String> {
    let sql = "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type \
                   || ' ' || is_nullable \
               FROM information_schema.columns WHERE table_schema = $1 \
               UNION ALL \
               SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' \
                   || pg_get_constraintdef(c.oid) \
               FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
               WHERE n.nspname = $1 \
               UNION ALL \
               SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1 \
               UNION ALL \
               SELECT 'comment ' || c.relname || '.' || a.attname || ' ' \
                   || col_description(c.oid, a.attnum) \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               JOIN pg_attribute a ON a.attrelid = c.oid \
               WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 \
                 AND col_description(c.oid, a.attnum) IS NOT NULL \
               UNION ALL \
               SELECT 'grant ' || table_name || ' ' || grantee || ' ' || privilege_type \
               FROM information_schema.role_table_grants \
               WHERE table_schema = $1 AND grantee <> grantor \
               ORDER BY 1";
    db.client
        .query(sql, &[&db.schema])
        .await
        .expect("definitions")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn reader_count(reader: &Client, schema: &str, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM \"{schema}\".\"{table}\"");
    reader.query_one(&sql, &[]).await.expect(&sql).get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_replaces_tables_keeping_their_definition_and_grants() {
    let mut db = test_db!("swap");
    let reader = try_connect().await.expect("a second connection");
    let schema = db.schema.clone();
    let dim = dimension_spec(&db, "dim_clients");
    let fact = fact_spec(&db, "dim_clients");
    let first = [
        (&dim, dimension_batch(&[-1, 1, 2, 3])),
        (&fact, fact_batch(0, &[1, 2, 3])),
    ];
    for (spec, batch) in first {
        load(&mut db.client, spec, vec![batch], LoadMode::Replace)
            .await
            .expect("first load, in place");
    }
    let grant = format!(
        "GRANT SELECT ON {} TO PUBLIC",
        db.table("fact_transactions")
    );
    db.client.batch_execute(&grant).await.expect("grant");
    let defined = definitions(&db).await;
    assert!(
        defined.iter().any(|d| d.starts_with("grant")),
        "{defined:?}"
    );

    // Member 3 goes with the facts that referred to it; readers see the old tables
    // until the commit.
    let transaction = db.client.transaction().await.expect("begin");
    let mut swap = postgres::Swap::new(&transaction);
    let staged = swap
        .stage(&dim, stream::iter(vec![dimension_batch(&[-1, 1, 2])]))
        .await
        .expect("dimension");
    assert_eq!(staged.rows, 3);
    swap.stage(&fact, stream::iter(vec![fact_batch(0, &[1, 2, -1, 2])]))
        .await
        .expect("facts");
    assert_eq!(reader_count(&reader, &schema, "dim_clients").await, 4);
    assert_eq!(reader_count(&reader, &schema, "fact_transactions").await, 3);
    swap.finish().await.expect("swap");
    transaction.commit().await.expect("commit");
    assert_eq!(reader_count(&reader, &schema, "dim_clients").await, 3);
    assert_eq!(reader_count(&reader, &schema, "fact_transactions").await, 4);
    assert_eq!(
        definitions(&db).await,
        defined,
        "same columns, keys, indexes, comments and grants"
    );
    let fingerprints = (
        db.fingerprint("dim_clients").await,
        db.fingerprint("fact_transactions").await,
    );

    // The keys are checked when the staged table gets them; a failure leaves the old
    // tables, and no staged table.
    let transaction = db.client.transaction().await.expect("begin");
    let mut swap = postgres::Swap::new(&transaction);
    swap.stage(&dim, stream::iter(vec![dimension_batch(&[-1, 1])]))
        .await
        .expect("dimension");
    let error = swap
        .stage(&fact, stream::iter(vec![fact_batch(0, &[1, 99])]))
        .await
        .expect_err("member 99 is unknown");
    assert_eq!(error.sqlstate(), Some("23503"), "{error}");
    transaction.rollback().await.expect("rollback");
    let transaction = db.client.transaction().await.expect("begin");
    let mut swap = postgres::Swap::new(&transaction);
    let error = swap
        .stage(&dim, stream::iter(vec![dimension_batch(&[1, 1])]))
        .await
        .expect_err("a duplicate key");
    assert_eq!(error.sqlstate(), Some("23505"), "{error}");
    transaction.rollback().await.expect("rollback");
    assert_eq!(
        (
            db.fingerprint("dim_clients").await,
            db.fingerprint("fact_transactions").await
        ),
        fingerprints
    );
    assert_eq!(definitions(&db).await, defined, "no staged table is left");

    // A view on a table: `dependents` names it, and a swap would fail rather than
    // drop it.
    let view = format!(
        "CREATE VIEW {} AS SELECT * FROM {}",
        db.table("v"),
        db.table("fact_transactions")
    );
    db.client.batch_execute(&view).await.expect("view");
    let found = postgres::dependents(&db.client, &[dim.clone(), fact.clone()])
        .await
        .expect("dependents");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("view ") && found[0].ends_with(".v"),
        "{found:?}"
    );
    let none = postgres::dependents(&db.client, std::slice::from_ref(&dim))
        .await
        .expect("dependents");
    assert_eq!(
        none.len(),
        1,
        "the facts' foreign key depends on the dimension: {none:?}"
    );
    assert!(none[0].starts_with("foreign key "), "{none:?}");
    let transaction = db.client.transaction().await.expect("begin");
    let mut swap = postgres::Swap::new(&transaction);
    swap.stage(&dim, stream::iter(vec![dimension_batch(&[-1, 1, 2])]))
        .await
        .expect("dimension");
    swap.stage(&fact, stream::iter(vec![fact_batch(0, &[1])]))
        .await
        .expect("facts");
    let error = swap
        .finish()
        .await
        .expect_err("the view depends on the facts");
    assert!(error.to_string().contains("depend"), "{error}");
    transaction.rollback().await.expect("rollback");
    assert_eq!(db.count("v").await, 4, "the view is still there");
}
