//! Several deliveries of an entity, and the bank's own validation rules.

use arrow::array::{Array, AsArray, RecordBatch};
use contract::{Entity, RuleId};
use ingestion::{IngestConfig, IngestError};

use crate::{folder, ingest};

const HEADER: &str = "transaction_id,account_id,booked_at,value_date,amount,direction,currency,channel,merchant_name,mcc,counterparty_iban,country,balance_after,status,description\n";

fn tx(id: &str, amount: &str, status: &str) -> String {
    format!(
        "{id},A1,2024-03-01T08:00:00Z,2024-03-01,{amount},debit,EUR,card,Shop,5411,,FR,90.00,{status},\n"
    )
}

fn file(rows: &[String]) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    rows.iter().for_each(|r| text.push_str(r));
    text.into_bytes()
}

/// (transaction_id, status, source file) of the accepted rows, sorted by id.
fn accepted(batches: &[RecordBatch]) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for batch in batches {
        let column = |name: &str| batch.column_by_name(name).expect(name).as_string::<i32>();
        let (id, status, source) = (
            column("transaction_id"),
            column("status"),
            column(contract::schema::SOURCE_FILE),
        );
        for row in 0..batch.num_rows() {
            let file = source.value(row).rsplit('/').next().unwrap_or_default();
            rows.push((
                id.value(row).to_owned(),
                status.value(row).to_owned(),
                file.to_owned(),
            ));
        }
    }
    rows.sort();
    rows
}

#[test]
fn the_latest_delivery_wins_and_a_day_delivered_twice_is_counted_once() {
    let day1 = file(&[tx("T1", "10.00", "pending"), tx("T2", "20.00", "booked")]);
    let day2 = file(&[
        tx("T1", "10.00", "booked"),
        tx("T2", "20.00", "booked"),
        tx("T3", "30.00", "booked"),
        tx("T3", "31.00", "booked"),
    ]);
    let dir = folder(&[
        ("transactions_2024-03-01.csv", &day1),
        ("transactions_2024-03-02.csv", &day2),
    ]);
    let out = ingest(dir.path(), IngestConfig::default());
    let tx = &out[&Entity::Transactions];
    assert_eq!(
        accepted(&tx.accepted),
        [
            (
                "T1".into(),
                "booked".into(),
                "transactions_2024-03-02.csv".into()
            ),
            (
                "T2".into(),
                "booked".into(),
                "transactions_2024-03-02.csv".into()
            ),
            (
                "T3".into(),
                "booked".into(),
                "transactions_2024-03-02.csv".into()
            ),
        ],
        "each transaction once, as last delivered"
    );
    let mut rejected = tx.rejections();
    rejected.sort();
    assert_eq!(
        rejected,
        [
            // T1 pending (day 1) is replaced by its booked re-delivery.
            (Some(2), "superseded".into(), Some("transaction_id".into())),
            // T2 came again unchanged on day 2.
            (Some(3), "duplicate".into(), Some("transaction_id".into())),
            // T3 twice in one file: the first row wins.
            (Some(5), "duplicate".into(), Some("transaction_id".into())),
        ]
    );
    assert_eq!(tx.summary.quarantined.get(&RuleId::Superseded), Some(&1));
    assert_eq!(tx.summary.duplicates(), 2);
    assert_eq!(tx.summary.raw_rows, 6);
}

#[test]
fn configured_rules_reject_or_warn_under_their_ids() {
    let rows = file(&[
        tx("T1", "10.00", "booked"),
        tx("T2", "900000.00", "booked"),
        tx("T3", "20.00", "pending"),
        tx("T4", "30.00", "booked"),
    ]);
    let dir = folder(&[("transactions.csv", &rows)]);
    let config = IngestConfig::from_toml(
        r#"
        [[entities.transactions.rules]]
        id = "amount_limit"
        severity = "reject"
        range = { column = "amount", max = 250000 }
        message = "above the single-transaction limit"

        [[entities.transactions.rules]]
        id = "pending_review"
        severity = "warn"
        sql = "status <> 'pending'"
        "#,
    )
    .expect("config");
    let out = ingest(dir.path(), config);
    let tx = &out[&Entity::Transactions];
    assert_eq!(tx.accepted_rows(), 3, "warnings keep their rows");
    assert_eq!(
        tx.rejections(),
        [(Some(3), "amount_limit".into(), Some("amount".into()))]
    );
    let reason = tx.quarantined[0]
        .column_by_name("reason")
        .expect("reason")
        .as_string::<i32>();
    assert_eq!(reason.value(0), "above the single-transaction limit");
    assert_eq!(tx.summary.rejected_by_rules.get("amount_limit"), Some(&1));
    assert_eq!(tx.summary.warnings.get("pending_review"), Some(&1));
    assert_eq!(tx.summary.quarantined_total(), 1);
    assert!(
        tx.quarantined[0]
            .column_by_name("rule_id")
            .is_some_and(|c| c.null_count() == 0)
    );
}

#[test]
fn a_rule_over_an_unknown_column_names_the_entity_and_the_rule() {
    let dir = folder(&[("transactions.csv", &file(&[tx("T1", "10.00", "booked")]))]);
    let config = IngestConfig::from_toml(
        r#"
        [[entities.transactions.rules]]
        id = "typo"
        severity = "warn"
        sql = "amont > 0"
        "#,
    )
    .expect("config");
    let ingestor = ingestion::Ingestor::new(config, dir.path(), "run");
    let error = ingestor.open(Entity::Transactions).err().expect("refused");
    assert!(matches!(error, IngestError::Rule { .. }));
    let message = error.to_string();
    assert!(
        message.starts_with("transactions: rule `typo`"),
        "{message}"
    );
    assert!(message.contains("amount"), "lists the columns: {message}");
}
