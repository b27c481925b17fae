//! `bankpipe maintain`: every table of the lake compacted, its rows unchanged.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::pretty::pretty_format_batches;
use orchestration::DataLayout;
use orchestration::maintain::{MaintainOptions, maintain, render};
use storage::delta::{self, TableLocation, WriteMode};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// A table of `appends + 1` small files at `path`.
async fn small_files(path: &Path, appends: i64) {
    let location = TableLocation::local(path).expect("location");
    for i in 0..=appends {
        let ids: Vec<i64> = (i * 10..i * 10 + 10).collect();
        let names: Vec<String> = ids.iter().map(|id| format!("n{id}")).collect();
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .map_err(Into::into);
        let mode = if i == 0 {
            WriteMode::Overwrite
        } else {
            WriteMode::Append
        };
        delta::write_stream(
            &location,
            schema(),
            futures::stream::iter(vec![batch]),
            mode,
            &[],
            delta::run_metadata(&format!("w{i}")),
        )
        .await
        .expect("write");
    }
}

async fn contents(path: &Path) -> String {
    let location = TableLocation::local(path).expect("location");
    let batches = delta::query(&location, "SELECT * FROM t ORDER BY id")
        .await
        .expect("query");
    pretty_format_batches(&batches).expect("format").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintain_compacts_every_table_of_the_lake_and_keeps_its_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    let tables = [
        "processed/accounts",
        "quarantine/accounts",
        "transformed/dim_clients",
        "transformed/marts/mart_loan_portfolio",
    ];
    for (i, table) in tables.iter().enumerate() {
        small_files(&root.join(table), 3 + i as i64).await;
    }
    std::fs::create_dir_all(root.join("raw")).expect("raw");
    std::fs::write(root.join("raw/accounts.csv"), "id\n1\n").expect("csv");
    std::fs::create_dir_all(root.join(".bankpipe")).expect("state");

    let mut before = Vec::new();
    for table in &tables {
        before.push(contents(&root.join(table)).await);
    }

    let mut options = MaintainOptions {
        layout: DataLayout::new(root),
        retention: Duration::from_secs(168 * 3600),
        dry_run: true,
        run_id: "maint-dry".into(),
    };
    let dry = maintain(&options).await.expect("dry run");
    assert!(
        dry.iter()
            .all(|t| t.report.files_after == t.report.files_before)
    );

    options.dry_run = false;
    options.run_id = "maint-1".into();
    let done = maintain(&options).await.expect("maintain");
    assert_eq!(
        done.iter().map(|t| t.table.as_str()).collect::<Vec<_>>(),
        tables
    );
    for (i, table) in done.iter().enumerate() {
        let report = &table.report;
        assert_eq!(report.files_before, 4 + i as u64, "{}", table.table);
        assert_eq!(report.files_after, 1, "{}", table.table);
        assert!(report.files_after < report.files_before);
        assert_eq!(report.checkpoint, Some(report.version));
        let folder = table.location.local_path().expect("local");
        assert!(
            folder
                .join(format!(
                    "_delta_log/{:020}.checkpoint.parquet",
                    report.version
                ))
                .is_file()
        );
        let latest = delta::history(&table.location, Some(1))
            .await
            .expect("history");
        assert_eq!(latest[0].operation, "OPTIMIZE");
        assert_eq!(latest[0].run_id.as_deref(), Some("maint-1"));
    }
    for (table, before) in tables.iter().zip(&before) {
        assert_eq!(&contents(&root.join(table)).await, before, "{table}");
    }
    let text = render(&done);
    assert!(text.contains("removed by vacuum"), "{text}");
    assert!(
        text.contains("transformed/marts/mart_loan_portfolio"),
        "{text}"
    );

    options.retention = Duration::from_secs(3600);
    let error = maintain(&options).await.expect_err("1 h is refused");
    assert!(
        error.to_string().contains("below the table's minimum"),
        "{error}"
    );
}
