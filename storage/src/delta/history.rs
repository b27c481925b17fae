//! The commits of a table: what each did, when, and for which run.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use futures::TryStreamExt;
use serde_json::Value;

use super::{CommitMetadata, RUN_ID_KEY, TableLocation, open};
use crate::error::{Result, StorageError};

/// One commit of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The version the commit made.
    pub version: u64,
    /// When the writer made it (its `commitInfo.timestamp`).
    pub timestamp: Option<DateTime<Utc>>,
    /// What it did: `WRITE`, `MERGE`, `DELETE`, `OPTIMIZE`, `VACUUM END` …
    pub operation: String,
    /// The run that made it ([`RUN_ID_KEY`]), when it was bankpipe.
    pub run_id: Option<String>,
    /// The operation's parameters (mode, predicate, partition columns …).
    pub parameters: HashMap<String, Value>,
    /// The operation's metrics (rows and files added, removed, updated …).
    pub metrics: HashMap<String, Value>,
    /// The rest of the commit's information, application metadata included.
    pub metadata: CommitMetadata,
}

/// The latest `limit` commits of the table at `location` (all with `None`), newest
/// first; empty when there is no table. Versions whose log file is gone (log cleanup
/// after a checkpoint) are left out.
pub async fn history(location: &TableLocation, limit: Option<usize>) -> Result<Vec<Commit>> {
    let Some(table) = open(location).await? else {
        return Ok(Vec::new());
    };
    let latest = table.version().unwrap_or_default();
    let oldest = match limit {
        Some(0) => return Ok(Vec::new()),
        Some(limit) => latest.saturating_sub(limit as u64 - 1),
        None => 0,
    };
    let mut commits = Vec::new();
    for version in (oldest..=latest).rev() {
        if let Some(commit) = read_commit(location, &table, version).await? {
            commits.push(commit);
        }
    }
    Ok(commits)
}

/// The application metadata of the table's latest commit (empty when there is no table).
pub async fn latest_commit_metadata(location: &TableLocation) -> Result<CommitMetadata> {
    let Some(table) = open(location).await? else {
        return Ok(CommitMetadata::new());
    };
    let mut history = table.history(Some(1));
    let latest = history
        .try_next()
        .await
        .map_err(|e| location.delta_error(e))?;
    Ok(latest.map(|commit| commit.info).unwrap_or_default())
}

/// The commit of `version`, from the `commitInfo` action of its log file.
async fn read_commit(
    location: &TableLocation,
    table: &DeltaTable,
    version: u64,
) -> Result<Option<Commit>> {
    let Some(bytes) = table
        .log_store()
        .read_commit_entry(version)
        .await
        .map_err(|e| location.delta_error(e))?
    else {
        return Ok(None);
    };
    let invalid = |message: String| StorageError::Invalid {
        location: location.to_string(),
        message: format!("commit {version}: {message}"),
    };
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut action: serde_json::Map<String, Value> =
            serde_json::from_slice(line).map_err(|e| invalid(e.to_string()))?;
        if let Some(Value::Object(info)) = action.remove("commitInfo") {
            return Ok(Some(commit(version, info)));
        }
    }
    Ok(Some(Commit {
        version,
        timestamp: None,
        operation: String::new(),
        run_id: None,
        parameters: HashMap::new(),
        metrics: HashMap::new(),
        metadata: CommitMetadata::new(),
    }))
}

fn commit(version: u64, mut info: serde_json::Map<String, Value>) -> Commit {
    let object = |value: Option<Value>| match value {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => HashMap::new(),
    };
    let timestamp = info
        .remove("timestamp")
        .and_then(|t| t.as_i64())
        .and_then(DateTime::from_timestamp_millis);
    let operation = match info.remove("operation") {
        Some(Value::String(operation)) => operation,
        _ => String::new(),
    };
    let parameters = object(info.remove("operationParameters"));
    let metrics = object(info.remove("operationMetrics"));
    let run_id = info
        .get(RUN_ID_KEY)
        .and_then(Value::as_str)
        .map(str::to_owned);
    Commit {
        version,
        timestamp,
        operation,
        run_id,
        parameters,
        metrics,
        metadata: info.into_iter().collect(),
    }
}
