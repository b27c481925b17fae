//! Finding the Delta tables under a location: every folder that holds a `_delta_log`,
//! listed through the location's object store, so that a local lake and a bucket are
//! searched the same way.

use deltalake::logstore::store_for;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use super::TableLocation;
use crate::error::{Result, StorageError};

/// Every Delta table at most `max_depth` levels under `root`, by its path relative to
/// `root` (`processed/accounts`), sorted. Folders whose name starts with `.` or `_`,
/// and the insides of tables, are not searched. A root that does not exist holds none.
pub async fn find_tables(
    root: &TableLocation,
    max_depth: usize,
) -> Result<Vec<(String, TableLocation)>> {
    let store =
        store_for(root.url(), root.storage_options()).map_err(|source| root.delta_error(source))?;
    let mut found = Vec::new();
    // Each folder is listed once: it is a table if it holds a `_delta_log`, else its
    // subfolders are searched (the root itself is searched, never taken as a table).
    let mut folders: Vec<(Option<StorePath>, usize)> = vec![(None, 0)];
    while let Some((folder, depth)) = folders.pop() {
        let listing = store
            .list_with_delimiter(folder.as_ref())
            .await
            .map_err(|source| StorageError::Location {
                location: root.to_string(),
                message: format!(
                    "cannot list {}: {source}",
                    folder.clone().unwrap_or_default()
                ),
            })?;
        let holds_log = listing
            .common_prefixes
            .iter()
            .any(|child| child.filename() == Some("_delta_log"));
        match folder {
            Some(table) if holds_log => found.push(table.to_string()),
            _ if depth >= max_depth => {}
            _ => folders.extend(
                listing
                    .common_prefixes
                    .into_iter()
                    .filter(|child| child.filename().is_some_and(|n| !n.starts_with(['.', '_'])))
                    .map(|child| (Some(child), depth + 1)),
            ),
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|relative| Ok((relative.clone(), root.join(&relative)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::{WriteMode, run_metadata, write_stream};
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    async fn table_at(location: &TableLocation) {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])
            .expect("batch");
        let input = futures::stream::iter(vec![Ok(batch)]);
        write_stream(
            location,
            schema,
            input,
            WriteMode::Overwrite,
            &[],
            run_metadata("t"),
        )
        .await
        .expect("write");
    }

    #[tokio::test]
    async fn tables_are_found_to_the_depth_asked_and_hidden_folders_are_skipped() {
        let dir = tempfile::tempdir().expect("dir");
        let root = TableLocation::local(dir.path()).expect("root");
        for table in [
            "processed/accounts",
            "transformed/dim_clients",
            "transformed/marts/mart_loans",
            ".bankpipe/hidden",
            "a/b/c/too_deep",
        ] {
            table_at(&root.join(table).expect("child")).await;
        }
        std::fs::create_dir_all(dir.path().join("raw/extracts")).expect("raw");
        std::fs::write(dir.path().join("raw/extracts/x.csv"), "id\n").expect("csv");
        let found: Vec<String> = find_tables(&root, 3)
            .await
            .expect("find")
            .into_iter()
            .map(|(relative, location)| {
                assert!(location.url().as_str().ends_with(&format!("{relative}/")));
                relative
            })
            .collect();
        assert_eq!(
            found,
            [
                "processed/accounts",
                "transformed/dim_clients",
                "transformed/marts/mart_loans"
            ]
        );
        let empty = TableLocation::local(&dir.path().join("nothing")).expect("empty");
        assert!(find_tables(&empty, 3).await.expect("none").is_empty());
    }
}
