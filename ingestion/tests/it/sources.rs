//! Every source format and mapping feature, end to end through the ingestor.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use contract::Entity;
use ingestion::{IngestConfig, IngestError};

use crate::{folder, ingest};

#[test]
fn json_lines_with_bad_lines_and_missing_scores() {
    let dir = folder(&[(
        "satisfaction.jsonl",
        "{\"survey_id\":\"S1\",\"client_id\":\"C1\",\"channel\":\"app\",\"answered_at\":\"2024-03-01T10:00:00Z\",\"csat\":5,\"comment\":\"très bien\"}\n\
         {\"survey_id\":\"S2\",\"client_id\":\"C1\",\"channel\":\"web\",\"answered_at\":\"2024-03-01T10:00:00Z\"}\n\
         \n\
         {not json\n\
         {\"survey_id\":\"S3\",\"client_id\":\"C1\",\"channel\":\"web\",\"answered_at\":\"2024-03-01T10:00:00Z\",\"nps\":11}\n\
         {\"survey_id\":\"S4\",\"client_id\":\"C1\",\"channel\":\"phone\",\"answered_at\":\"2024-03-01T10:00:00Z\",\"nps\":9,\"extra\":{\"a\":1}}\n"
            .as_bytes(),
    )]);
    let out = ingest(dir.path(), IngestConfig::default());
    let s = &out[&Entity::Satisfaction];
    let rules: Vec<_> = s
        .rejections()
        .into_iter()
        .map(|(line, rule, _)| (line, rule))
        .collect();
    assert_eq!(
        rules,
        [
            (Some(4), "malformed_record".into()),
            (Some(2), "missing_required".into()),
            (Some(5), "out_of_range".into())
        ]
    );
    assert_eq!(s.accepted_rows(), 2);
    assert_eq!(s.summary.raw_rows, 5, "the blank line is no record");
    let batch = &s.accepted[0];
    assert_eq!(
        batch
            .column_by_name("comment")
            .expect("comment")
            .as_string::<i32>()
            .value(0),
        "très bien"
    );
}

#[test]
fn latin1_headerless_csv_over_several_files_with_sql_mapping() {
    let dir = folder(&[
        (
            "fx_2024_01.txt",
            b"2024-01-01|usd|1,095\n2024-01-02|USD|1,1\n",
        ),
        (
            "fx_2024_02.txt",
            b"2024-02-01|CZK|25,3\n2024-02-01|czk|25,4\n2024-02-02|Z\xe9|1\n",
        ),
    ]);
    let config = IngestConfig::from_toml(
        r#"
        [entities.fx_rates]
        files = ["fx_*.txt"]
        format = "csv"
        options = { delimiter = "|", has_header = false, encoding = "latin-1", decimal_comma = true }
        [entities.fx_rates.columns]
        date = "column_1"
        currency = { sql = "upper(column_2)" }
        per_eur = "column_3"
        "#,
    )
    .expect("config");
    let out = ingest(dir.path(), config);
    let fx = &out[&Entity::FxRates];
    assert_eq!(fx.summary.files.len(), 2);
    assert_eq!(fx.accepted_rows(), 3);
    assert_eq!(
        fx.rejections(),
        [
            (Some(2), "duplicate".into(), Some("date".into())),
            (Some(3), "unknown_code".into(), Some("currency".into())),
        ]
    );
    // The newest delivery (file name order) is read first.
    let per_eur = fx.accepted[0].column_by_name("per_eur").expect("per_eur");
    assert_eq!(per_eur.data_type(), &DataType::Decimal128(18, 6));
    assert_eq!(
        per_eur
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .value(0),
        25_300_000
    );
}

#[test]
fn parquet_source_with_typed_columns() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("product_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("monthly_fee", DataType::Float64, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("active", DataType::Boolean, false),
        Field::new("launched", DataType::Int32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["P1", "P2"])),
            Arc::new(StringArray::from(vec!["Current", "Gold"])),
            Arc::new(StringArray::from(vec!["current_account", "credit_card"])),
            Arc::new(arrow::array::Float64Array::from(vec![2.5, -1.0])),
            Arc::new(StringArray::from(vec!["EUR", "EUR"])),
            Arc::new(arrow::array::BooleanArray::from(vec![true, false])),
            Arc::new(arrow::array::Int32Array::from(vec![2019, 2021])),
        ],
    )
    .expect("batch");
    let dir = tempfile::tempdir().expect("dir");
    let file = std::fs::File::create(dir.path().join("products.parquet")).expect("create");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");

    let config = IngestConfig::from_toml("[entities.products]\nfiles = [\"products.parquet\"]\n")
        .expect("config");
    let out = ingest(dir.path(), config);
    let products = &out[&Entity::Products];
    assert_eq!(products.accepted_rows(), 1);
    assert_eq!(
        products.rejections(),
        [(Some(2), "out_of_range".into(), Some("monthly_fee".into()))]
    );
    let accepted = &products.accepted[0];
    assert!(
        accepted.column_by_name("launched").is_some(),
        "extra columns are carried"
    );
}

#[test]
fn a_bad_mapping_names_the_entity_the_expression_and_the_columns() {
    let dir = folder(&[("fx_rates.csv", b"day,ccy,rate\n2024-01-01,USD,1.1\n")]);
    let config = IngestConfig::from_toml(
        "[entities.fx_rates.columns]\ndate = \"day\"\ncurrency = { sql = \"upper(cur)\" }\nper_eur = \"rate\"\n",
    )
    .expect("config");
    let ingestor = ingestion::Ingestor::new(config, dir.path(), "t");
    let error = ingestor
        .open(Entity::FxRates)
        .err()
        .expect("a mapping error");
    assert!(matches!(error, IngestError::Mapping { .. }));
    let message = error.to_string();
    assert!(
        message.contains("fx_rates")
            && message.contains("upper(cur)")
            && message.contains("day, ccy, rate"),
        "{message}"
    );
}
