//! The ingest stage end to end: generated extracts with planted defects into Delta tables.

use std::path::Path;

use arrow::util::pretty::pretty_format_batches;
use contract::Entity;
use ingestion::{EntitySummary, IngestConfig};
use orchestration::generate::{GenerateOptions, generate};
use orchestration::ingest::{IngestOptions, ingest};
use orchestration::{DataLayout, TablePlace, expected};
use storage::delta;

fn generate_into(raw: &Path, defects: f64) {
    let end_date = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    generate(&GenerateOptions {
        out: raw.to_owned(),
        scale: 0.005,
        seed: 7,
        defects,
        end_date,
    })
    .expect("generate");
}

async fn ingest_once(raw: &Path, layout: &DataLayout, run_id: &str) -> Vec<EntitySummary> {
    let options = IngestOptions {
        config: IngestConfig::default(),
        raw: raw.to_owned(),
        layout: layout.clone(),
        run_id: run_id.to_owned(),
    };
    ingest(&options, &|_, _| {}).await.expect("ingest")
}

async fn table_text(place: &TablePlace, sql: &str) -> String {
    let location = place.location().expect("location");
    let batches = delta::query(&location, sql).await.expect("query");
    pretty_format_batches(&batches).expect("format").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_defect_is_quarantined_under_its_rule() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = dir.path().join("raw");
    generate_into(&raw, 0.02);
    let layout = DataLayout::new(dir.path());
    let summaries = ingest_once(&raw, &layout, "run-1").await;

    let expected = expected::read(&raw.join("_generator/expected.json")).expect("expected.json");
    assert_eq!(
        expected::differences(&expected, &summaries),
        Vec::<String>::new()
    );
    let tx = summaries
        .iter()
        .find(|s| s.entity == Entity::Transactions)
        .expect("transactions");
    assert!(
        tx.quarantined.len() >= 9,
        "transactions get every rule: {:?}",
        tx.quarantined
    );

    for summary in &summaries {
        let processed = layout
            .processed(summary.entity)
            .location()
            .expect("location");
        let quarantine = layout
            .quarantine(summary.entity)
            .location()
            .expect("location");
        assert_eq!(
            delta::count_rows(&processed).await.expect("count"),
            summary.accepted,
            "{}",
            summary.entity
        );
        assert_eq!(
            delta::count_rows(&quarantine).await.expect("count"),
            summary.quarantined_total()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingesting_the_same_files_twice_leaves_the_same_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = dir.path().join("raw");
    generate_into(&raw, 0.01);
    let layout = DataLayout::new(dir.path());

    let first_summaries = ingest_once(&raw, &layout, "run-1").await;
    let processed_sql = "SELECT * FROM t ORDER BY _source_file, _source_line";
    let quarantine_sql = "SELECT entity, source_file, line, raw, rule_id, \"column\", reason FROM t ORDER BY source_file, line, raw";
    let mut first = Vec::new();
    for summary in &first_summaries {
        first.push(table_text(&layout.processed(summary.entity), processed_sql).await);
        first.push(table_text(&layout.quarantine(summary.entity), quarantine_sql).await);
    }
    let second_summaries = ingest_once(&raw, &layout, "run-2").await;
    assert_eq!(first_summaries, second_summaries);
    let mut second = Vec::new();
    for summary in &second_summaries {
        second.push(table_text(&layout.processed(summary.entity), processed_sql).await);
        second.push(table_text(&layout.quarantine(summary.entity), quarantine_sql).await);
    }
    assert!(first == second, "the second run changed the tables");
}
