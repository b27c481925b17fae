//! The transform stage end to end: generated extracts into the star schema.

use std::path::Path;

use arrow::util::pretty::pretty_format_batches;
use ingestion::IngestConfig;
use orchestration::DataLayout;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::ingest::{IngestOptions, ingest};
use orchestration::transform::{TableSummary, TransformOptions, transform};
use storage::delta::{self, TableLocation};
use transformation::banking::ModelParams;

async fn scalar(layout: &DataLayout, table: &str, sql: &str) -> String {
    let location = TableLocation::local(&layout.transformed(table)).expect("location");
    let batches = delta::query(&location, sql).await.expect("query");
    pretty_format_batches(&batches).expect("format").to_string()
}

/// Ingests `raw` with `config`, then builds the warehouse, as `bankpipe run` does.
async fn run(
    config: IngestConfig,
    raw: &Path,
    layout: &DataLayout,
    run_id: &str,
    as_of: chrono::NaiveDate,
) -> Vec<TableSummary> {
    let options = IngestOptions {
        config,
        raw: raw.to_owned(),
        layout: layout.clone(),
        run_id: run_id.into(),
    };
    ingest(&options, &|_, _| {}).await.expect("ingest");
    let params = ModelParams {
        hash_key: "test-key".into(),
        as_of,
    };
    transform(&TransformOptions {
        layout: layout.clone(),
        run_id: run_id.into(),
        params,
    })
    .await
    .expect("transform")
}

/// The rows of table `name` after a run.
fn rows_of(tables: &[TableSummary], name: &str) -> u64 {
    tables
        .iter()
        .find(|t| t.table == name)
        .map(|t| t.rows)
        .expect(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_star_schema_reconciles_and_rebuilds_with_the_same_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = dir.path().join("raw");
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    generate(&GenerateOptions {
        out: raw.clone(),
        scale: 0.005,
        seed: 3,
        defects: 0.01,
        end_date: as_of,
    })
    .expect("generate");
    let layout = DataLayout::new(dir.path());
    let tables = run(IngestConfig::default(), &raw, &layout, "run-1", as_of).await;
    let rows = |name: &str| rows_of(&tables, name);

    let processed = delta::count_rows(
        &TableLocation::local(&layout.processed(contract::Entity::Transactions)).expect("loc"),
    )
    .await
    .expect("count");
    assert_eq!(
        rows("fact_transactions"),
        processed,
        "one fact per processed transaction"
    );
    assert_eq!(
        scalar(&layout, "fact_transactions", "SELECT count(*) AS unknown FROM t WHERE account_key = -1 OR client_key = -1 OR product_key = -1").await,
        scalar(&layout, "fact_transactions", "SELECT 0 AS unknown").await,
        "every generated transaction's account, client and product is known"
    );
    assert!(
        scalar(
            &layout,
            "fact_transactions",
            "SELECT count(*) AS n FROM t WHERE amount_eur IS NULL"
        )
        .await
        .contains("| 0 "),
        "every transaction has an amount in EUR"
    );
    assert!(
        scalar(
            &layout,
            "fact_transactions",
            "SELECT count(*) AS n FROM t WHERE direction = 'debit' AND signed_amount >= 0"
        )
        .await
        .contains("| 0 "),
        "debits are negative"
    );
    let one_current = "SELECT count(*) AS n FROM (SELECT client_id FROM t GROUP BY client_id HAVING sum(CAST(is_current AS INT)) <> 1)";
    assert!(
        scalar(&layout, "dim_clients", one_current)
            .await
            .contains("| 0 "),
        "one current version per client"
    );
    assert!(
        scalar(
            &layout,
            "dim_clients",
            "SELECT count(*) AS n FROM t WHERE length(client_ref) <> 64"
        )
        .await
        .contains("| 0 ")
    );
    let columns = scalar(&layout, "dim_clients", "SELECT * FROM t LIMIT 1").await;
    for personal in ["first_name", "last_name", "email", "phone", "birth_date"] {
        assert!(
            !columns.contains(personal),
            "{personal} reaches the warehouse"
        );
    }
    assert!(rows("dim_dates") >= 90);

    let keys = "SELECT client_id, client_key FROM t ORDER BY client_id, client_key";
    let first_keys = scalar(&layout, "dim_clients", keys).await;
    run(IngestConfig::default(), &raw, &layout, "run-2", as_of).await;
    assert_eq!(
        scalar(&layout, "dim_clients", keys).await,
        first_keys,
        "a rerun keeps every key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berka_builds_the_star_schema_by_configuration_alone() {
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/berka/bankpipe.toml");
    let config = IngestConfig::from_file(&config_path).expect("the example's configuration");
    let raw = config
        .raw
        .clone()
        .expect("the example names its raw folder");
    let dir = tempfile::tempdir().expect("dir");
    let layout = DataLayout::new(dir.path());
    let as_of = chrono::NaiveDate::from_ymd_opt(1998, 12, 31).expect("date");
    let tables = run(config, &raw, &layout, "berka", as_of).await;
    let rows = |name: &str| rows_of(&tables, name);
    assert_eq!(rows("fact_transactions"), 49_102);
    assert_eq!(
        rows("dim_clients"),
        5_369 + 1,
        "every client and the unknown member"
    );
    assert_eq!(rows("dim_accounts"), 4_500 + 1);
    assert!(
        scalar(
            &layout,
            "fact_transactions",
            "SELECT count(*) AS n FROM t WHERE account_key = -1 OR client_key = -1"
        )
        .await
        .contains("| 0 "),
        "every Berka transaction finds its account and owner"
    );
}
