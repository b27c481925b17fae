//! The transform stage end to end: generated extracts into the star schema.

use std::path::Path;

use arrow::util::pretty::pretty_format_batches;
use orchestration::DataLayout;
use orchestration::config::PipelineConfig;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::headline::fraud_scores;
use orchestration::ingest::{IngestOptions, ingest};
use orchestration::transform::{DEFAULT_MEMORY_LIMIT, TableSummary, TransformOptions, transform};
use storage::delta;
use transformation::banking::ModelParams;

async fn scalar(layout: &DataLayout, table: &str, sql: &str) -> String {
    let location = layout.transformed(table).location().expect("location");
    let batches = delta::query(&location, sql).await.expect("query");
    pretty_format_batches(&batches).expect("format").to_string()
}

/// Whether no row of `table` satisfies `condition`.
async fn none(layout: &DataLayout, table: &str, condition: &str) -> bool {
    let sql = format!("SELECT count(*) AS n FROM t WHERE {condition}");
    scalar(layout, table, &sql).await.contains("| 0 ")
}

/// Ingests `raw` with `config`, then builds the warehouse, as `bankpipe run` does.
pub(crate) async fn run(
    config: PipelineConfig,
    raw: &Path,
    layout: &DataLayout,
    run_id: &str,
    as_of: chrono::NaiveDate,
) -> Vec<TableSummary> {
    let options = IngestOptions {
        config: config.ingest,
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
        model: config.model,
        memory_limit: DEFAULT_MEMORY_LIMIT,
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
    let tables = run(PipelineConfig::default(), &raw, &layout, "run-1", as_of).await;
    let rows = |name: &str| rows_of(&tables, name);

    let processed = delta::count_rows(
        &layout
            .processed(contract::Entity::Transactions)
            .location()
            .expect("loc"),
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
        none(&layout, "fact_transactions", "amount_eur IS NULL").await,
        "every transaction has an amount in EUR"
    );
    assert!(
        none(
            &layout,
            "fact_transactions",
            "direction = 'debit' AND signed_amount >= 0"
        )
        .await,
        "debits are negative"
    );
    let one_current = "SELECT count(*) AS n FROM (SELECT client_id FROM t GROUP BY client_id HAVING sum(CAST(is_current AS INT)) <> 1)";
    assert!(
        scalar(&layout, "dim_clients", one_current)
            .await
            .contains("| 0 "),
        "one current version per client"
    );
    assert!(none(&layout, "dim_clients", "length(client_ref) <> 64").await);
    let columns = scalar(&layout, "dim_clients", "SELECT * FROM t LIMIT 1").await;
    for personal in ["first_name", "last_name", "email", "phone", "birth_date"] {
        assert!(
            !columns.contains(personal),
            "{personal} reaches the warehouse"
        );
    }
    assert!(rows("dim_dates") >= 90);
    for (name, source) in [
        ("fact_transactions", contract::Entity::Transactions),
        ("fact_loans", contract::Entity::Loans),
        ("fact_payments", contract::Entity::Payments),
    ] {
        let summary = tables.iter().find(|t| t.table == name).expect(name);
        assert_eq!(
            summary.source,
            Some((source, summary.rows)),
            "{name} reconciles"
        );
    }

    // The fraud rules find exactly the planted frauds (the generator draws ordinary
    // data so that the default thresholds fire on planted rows only).
    let scores = fraud_scores(&layout, &raw.join("_generator/planted_frauds.csv"))
        .await
        .expect("scores");
    assert_eq!(scores.len(), 6, "{scores:?}");
    for score in &scores {
        assert!(score.planted > 0, "{score:?}");
        assert_eq!((score.precision(), score.recall()), (1.0, 1.0), "{score:?}");
    }
    assert!(
        scalar(
            &layout,
            "fact_fraudes",
            "SELECT count(*) - count(DISTINCT alert_id) AS n FROM t"
        )
        .await
        .contains("| 0 "),
        "alert ids are unique"
    );
    assert!(
        none(
            &layout,
            "fact_fraudes",
            "risk_score < 0 OR risk_score > 100 OR client_key = -1"
        )
        .await,
        "scores within 0–100, every alert finds its client"
    );
    assert_eq!(
        scalar(&layout, "fact_revenue", "SELECT DISTINCT revenue_type FROM t ORDER BY 1").await,
        scalar(&layout, "fact_revenue", "SELECT * FROM (VALUES ('account_fee'), ('fx_fee'), ('interest_income'), ('late_fee')) AS v(revenue_type)").await,
        "every revenue rule produced lines"
    );
    assert_eq!(
        scalar(
            &layout,
            "fact_revenue",
            "SELECT count(*) - count(DISTINCT revenue_id) AS n, \
             count(*) FILTER (WHERE (loan_id IS NULL) <> \
                 (revenue_type IN ('account_fee', 'fx_fee'))) AS m FROM t"
        )
        .await,
        scalar(&layout, "fact_revenue", "SELECT 0 AS n, 0 AS m").await,
        "one id per revenue line; the loan on interest and late-fee lines only"
    );
    assert_eq!(
        scalar(
            &layout,
            "mart_client_monthly",
            "SELECT sum(transaction_count) AS n FROM t"
        )
        .await,
        scalar(
            &layout,
            "fact_transactions",
            "SELECT count(*) AS n FROM t WHERE status = 'booked'"
        )
        .await,
        "the client mart counts every booked transaction once"
    );
    assert_eq!(
        scalar(
            &layout,
            "mart_fraud_daily",
            "SELECT sum(alerts) AS n FROM t"
        )
        .await,
        scalar(&layout, "fact_fraudes", "SELECT count(*) AS n FROM t").await,
        "the fraud mart counts every alert once"
    );
    assert!(
        none(
            &layout,
            "mart_loan_portfolio",
            "par30 < par90 OR par30 > 1 OR outstanding_principal_eur <= 0"
        )
        .await,
        "PAR90 ⊆ PAR30 ≤ 1"
    );
    assert!(
        none(&layout, "fact_loans", "outstanding_principal < 0 OR outstanding_principal > principal OR (status = 'repaid' AND outstanding_principal <> 0)").await,
        "outstanding principal within [0, principal], zero once repaid"
    );
    assert_eq!(
        rows("dim_satisfaction"),
        delta::count_rows(
            &layout
                .processed(contract::Entity::Satisfaction)
                .location()
                .expect("loc")
        )
        .await
        .expect("count")
            + 1,
        "one row per survey, and the unknown member"
    );

    let keys = "SELECT client_id, client_key FROM t ORDER BY client_id, client_key";
    let first_keys = scalar(&layout, "dim_clients", keys).await;
    let fact_keys = "SELECT transaction_id, date_key, account_key, client_key, product_key, amount_eur, is_suspicious FROM t ORDER BY transaction_id";
    let first_facts = scalar(&layout, "fact_transactions", fact_keys).await;
    let first_revenue = scalar(
        &layout,
        "fact_revenue",
        "SELECT revenue_type, sum(amount_eur) AS total FROM t GROUP BY 1 ORDER BY 1",
    )
    .await;
    run(PipelineConfig::default(), &raw, &layout, "run-2", as_of).await;
    assert_eq!(
        scalar(&layout, "dim_clients", keys).await,
        first_keys,
        "a rerun keeps every key"
    );
    assert_eq!(
        scalar(&layout, "fact_transactions", fact_keys).await,
        first_facts,
        "a rerun gives the same facts"
    );
    assert_eq!(
        scalar(
            &layout,
            "fact_revenue",
            "SELECT revenue_type, sum(amount_eur) AS total FROM t GROUP BY 1 ORDER BY 1"
        )
        .await,
        first_revenue,
        "a rerun gives the same revenue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berka_builds_the_star_schema_by_configuration_alone() {
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/berka/bankpipe.toml");
    let config = PipelineConfig::from_file(&config_path).expect("the example's configuration");
    let raw = config
        .ingest
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
        none(
            &layout,
            "fact_transactions",
            "account_key = -1 OR client_key = -1"
        )
        .await,
        "every Berka transaction finds its account and owner"
    );
    assert!(
        none(&layout, "fact_transactions", "amount_eur IS NULL").await,
        "the configured CZK rate converts every amount"
    );
    assert_eq!(rows("fact_loans"), 682);
    assert!(
        none(
            &layout,
            "fact_fraudes",
            "rule_id IN ('night_atm', 'velocity')"
        )
        .await,
        "the example turns off the rules that need a time of day"
    );
    assert!(
        rows("mart_loan_portfolio") >= 12,
        "the portfolio has a row per month of the Berka years"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_account_is_quarantined_then_joins_when_it_arrives() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).expect("raw");
    let write = |name: &str, text: &str| std::fs::write(raw.join(name), text).expect(name);
    write(
        "products.csv",
        "product_id,name,category,monthly_fee,interest_rate,currency,active\n\
         P1,Current,current_account,2.50,,EUR,true\n",
    );
    write(
        "clients.csv",
        "client_id,first_name,last_name,birth_date,gender,email,phone,city,country,segment,kyc_risk,joined_on,updated_at\n\
         C1,Ana,Novak,1980-02-03,F,,,Brno,CZ,retail,low,2020-01-01,2024-01-01T00:00:00Z\n\
         C2,Jan,Dvorak,1975-05-06,M,,,Praha,CZ,retail,low,2020-01-01,2024-01-01T00:00:00Z\n",
    );
    let account_header = "account_id,client_id,product_id,iban,currency,opened_on,closed_on,status,branch_code,updated_at\n";
    write(
        "accounts.csv",
        &format!("{account_header}A1,C1,P1,,EUR,2020-01-01,,active,B1,2024-01-01T00:00:00Z\n"),
    );
    write(
        "transactions.csv",
        "transaction_id,account_id,booked_at,value_date,amount,direction,currency,channel,merchant_name,mcc,counterparty_iban,country,balance_after,status,description\n\
         T1,A1,2024-03-01T10:00:00Z,2024-03-01,10.00,debit,EUR,card,,,,CZ,,booked,\n\
         T2,A2,2024-03-01T11:00:00Z,2024-03-01,20.00,debit,EUR,card,,,,CZ,,booked,\n",
    );
    let layout = DataLayout::new(dir.path());
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 3, 31).expect("date");
    let tables = run(PipelineConfig::default(), &raw, &layout, "day-1", as_of).await;
    assert_eq!(rows_of(&tables, "fact_transactions"), 1);
    let quarantine = layout
        .quarantine(contract::Entity::Transactions)
        .location()
        .expect("location");
    let orphans = delta::query(
        &quarantine,
        "SELECT count(*) AS n FROM t WHERE rule_id = 'orphan_reference'",
    )
    .await
    .expect("quarantine");
    assert!(
        pretty_format_batches(&orphans)
            .expect("format")
            .to_string()
            .contains("| 1 "),
        "T2 waits in quarantine for its account"
    );
    let a1_key = "SELECT account_key FROM t WHERE transaction_id = 'T1'";
    let before = scalar(&layout, "fact_transactions", a1_key).await;

    // The next delivery brings the account: the same run over the raw folder accepts T2.
    write(
        "accounts_2.csv",
        &format!("{account_header}A2,C2,P1,,EUR,2021-01-01,,active,B1,2024-03-02T00:00:00Z\n"),
    );
    let tables = run(PipelineConfig::default(), &raw, &layout, "day-2", as_of).await;
    assert_eq!(rows_of(&tables, "fact_transactions"), 2);
    assert_eq!(
        scalar(&layout, "fact_transactions", a1_key).await,
        before,
        "known members keep their keys"
    );
    assert!(
        none(
            &layout,
            "fact_transactions",
            "account_key = -1 OR client_key = -1 OR product_key = -1"
        )
        .await,
        "T2 finds its account, owner and product"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_deliveries_update_the_warehouse_with_history_and_no_duplicates() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).expect("raw");
    let write = |name: &str, text: &str| std::fs::write(raw.join(name), text).expect(name);
    let client_header = "client_id,first_name,last_name,birth_date,gender,email,phone,city,country,segment,kyc_risk,joined_on,updated_at\n";
    let client = |id: &str, segment: &str, day: u32| {
        format!(
            "{id},Ana,Novak,1980-02-03,F,,,Brno,CZ,{segment},low,2020-01-01,2024-03-0{day}T00:00:00Z\n"
        )
    };
    let tx_header = "transaction_id,account_id,booked_at,value_date,amount,direction,currency,channel,merchant_name,mcc,counterparty_iban,country,balance_after,status,description\n";
    let tx = |id: &str, account: &str, day: u32, status: &str| {
        format!(
            "{id},{account},2024-03-0{day}T10:00:00Z,2024-03-0{day},10.00,debit,EUR,card,,,,CZ,,{status},\n"
        )
    };
    write(
        "products.csv",
        "product_id,name,category,monthly_fee,interest_rate,currency,active\n\
         P1,Current,current_account,2.50,,EUR,true\n",
    );
    write(
        "accounts.csv",
        "account_id,client_id,product_id,iban,currency,opened_on,closed_on,status,branch_code,updated_at\n\
         A1,C1,P1,,EUR,2020-01-01,,active,B1,2024-01-01T00:00:00Z\n\
         A2,C2,P1,,EUR,2020-01-01,,active,B1,2024-01-01T00:00:00Z\n",
    );
    let day1_tx = format!(
        "{tx_header}{}{}",
        tx("T1", "A1", 1, "pending"),
        tx("T2", "A2", 1, "booked")
    );
    write(
        "clients_2024-03-01.csv",
        &format!(
            "{client_header}{}{}",
            client("C1", "retail", 1),
            client("C2", "retail", 1)
        ),
    );
    write("transactions_2024-03-01.csv", &day1_tx);
    let layout = DataLayout::new(dir.path());
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2024, 3, d).expect("date");
    let pipeline = PipelineConfig::default;
    let tables = run(pipeline(), &raw, &layout, "day-1", day(1)).await;
    assert_eq!(rows_of(&tables, "fact_transactions"), 2);
    let c2_key = "SELECT client_key FROM t WHERE client_id = 'C2'";
    let c2_before = scalar(&layout, "dim_clients", c2_key).await;

    // Day 2: C1 moves to premium, T1 is booked, T3 is new, and day 1 is sent again.
    write(
        "clients_2024-03-02.csv",
        &format!("{client_header}{}", client("C1", "premium", 2)),
    );
    write(
        "transactions_2024-03-02.csv",
        &format!(
            "{tx_header}{}{}",
            tx("T1", "A1", 1, "booked"),
            tx("T3", "A1", 2, "booked")
        ),
    );
    write("transactions_2024-03-01_resent.csv", &day1_tx);
    let tables = run(pipeline(), &raw, &layout, "day-2", day(2)).await;
    assert_eq!(
        rows_of(&tables, "fact_transactions"),
        3,
        "T1, T2, T3 once each"
    );

    // Day 3: C1 moves to private; T4.
    write(
        "clients_2024-03-03.csv",
        &format!("{client_header}{}", client("C1", "private", 3)),
    );
    write(
        "transactions_2024-03-03.csv",
        &format!("{tx_header}{}", tx("T4", "A1", 3, "booked")),
    );
    let tables = run(pipeline(), &raw, &layout, "day-3", day(3)).await;
    assert_eq!(rows_of(&tables, "fact_transactions"), 4);

    let history = scalar(
        &layout,
        "dim_clients",
        "SELECT segment, CAST(valid_from AS DATE) AS valid_from, CAST(valid_to AS DATE) AS valid_to, is_current \
         FROM t WHERE client_id = 'C1' ORDER BY client_key",
    )
    .await;
    assert_eq!(
        history,
        "+---------+------------+------------+------------+\n\
         | segment | valid_from | valid_to   | is_current |\n\
         +---------+------------+------------+------------+\n\
         | retail  | 1970-01-01 | 2024-03-02 | false      |\n\
         | premium | 2024-03-02 | 2024-03-03 | false      |\n\
         | private | 2024-03-03 |            | true       |\n\
         +---------+------------+------------+------------+",
        "three runs, three versions of C1, back to back"
    );
    assert_eq!(
        scalar(&layout, "dim_clients", c2_key).await,
        c2_before,
        "an unchanged client keeps its key"
    );
    let facts = "SELECT f.transaction_id, f.status, d.segment FROM t f \
                 JOIN dim_clients d ON f.client_key = d.client_key ORDER BY f.transaction_id";
    let ctx = delta::session();
    for table in ["fact_transactions", "dim_clients"] {
        let location = layout.transformed(table).location().expect("location");
        delta::register(
            &ctx,
            if table == "dim_clients" { table } else { "t" },
            &location,
        )
        .await
        .expect("register");
    }
    let batches = ctx
        .sql(facts)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("facts");
    assert_eq!(
        pretty_format_batches(&batches).expect("format").to_string(),
        "+----------------+--------+---------+\n\
         | transaction_id | status | segment |\n\
         +----------------+--------+---------+\n\
         | T1             | booked | retail  |\n\
         | T2             | booked | retail  |\n\
         | T3             | booked | premium |\n\
         | T4             | booked | private |\n\
         +----------------+--------+---------+",
        "each transaction once, as last delivered, with the client version valid when it was booked"
    );

    // Running day 3 again changes nothing.
    let all_facts = "SELECT * FROM t ORDER BY transaction_id";
    let before = scalar(&layout, "fact_transactions", all_facts).await;
    let dims_before = scalar(
        &layout,
        "dim_clients",
        "SELECT * FROM t ORDER BY client_key",
    )
    .await;
    run(pipeline(), &raw, &layout, "day-3-again", day(3)).await;
    assert_eq!(
        scalar(&layout, "fact_transactions", all_facts).await,
        before
    );
    assert_eq!(
        scalar(
            &layout,
            "dim_clients",
            "SELECT * FROM t ORDER BY client_key"
        )
        .await,
        dims_before
    );
}
