//! Maintenance: compaction of small files (optimize), deletion of files no version
//! needs any more (vacuum), and checkpoints of the log.
//!
//! A table written by many small appends or merges reads many small files; optimize
//! rewrites them into few (a commit that changes no row: time travel still sees the
//! old files). Files an overwrite, merge, delete or optimize removed stay on disk for
//! time travel until vacuum deletes those removed longer ago than the retention
//! period: 7 days by default, and never less than the table's
//! `delta.deletedFileRetentionDuration` (delta-rs's own check, kept on). A checkpoint
//! sums the log up to a version in one Parquet file, so opening the table reads that
//! file and the few commits after it instead of every commit.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use deltalake::DeltaTable;
use deltalake::operations::vacuum::VacuumMode;
use deltalake::table::config::TablePropertiesExt as _;

use super::write::commit_properties;
use super::{CommitMetadata, TableLocation, open};
use crate::error::{Result, StorageError};

/// The default vacuum retention: 7 days (168 h), Delta's default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptimizeReport {
    /// Data files in the table before.
    pub files_before: u64,
    /// Data files in the table after.
    pub files_after: u64,
    /// Small files rewritten (no longer in the table, still on disk until vacuum).
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
    /// The table version after (the previous one when there was nothing to compact).
    pub version: u64,
}

/// What a vacuum did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacuumReport {
    /// The files deleted, or on a dry run the files that would be, relative to the
    /// table's folder.
    pub files: Vec<String>,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
    /// The table version after (a vacuum that deletes files commits twice: VACUUM
    /// START and VACUUM END).
    pub version: u64,
}

/// Compacts the small files of the table at `location` into files of about
/// `target_size` bytes (`None`: the table's `delta.targetFileSize`, else 100 MiB), per
/// partition, in one commit with `metadata`; no commit when there is nothing to compact.
pub async fn optimize(
    location: &TableLocation,
    target_size: Option<NonZeroU64>,
    metadata: CommitMetadata,
) -> Result<OptimizeReport> {
    let table = open_existing(location).await?;
    let files_before = active_files(location, &table)?;
    let mut optimize = table
        .optimize()
        .with_commit_properties(commit_properties(metadata));
    if let Some(target_size) = target_size {
        optimize = optimize.with_target_size(target_size);
    }
    let (table, metrics) = optimize.await.map_err(|e| location.delta_error(e))?;
    Ok(OptimizeReport {
        files_before,
        files_after: active_files(location, &table)?,
        files_removed: metrics.num_files_removed,
        files_added: metrics.num_files_added,
        version: table.version().unwrap_or_default(),
    })
}

/// Deletes the files of the table at `location` that no version younger than
/// `retention` needs: files removed from the table (by an overwrite, merge, delete or
/// optimize) longer ago than that, and files no commit ever added (left by a failed
/// write) older than that. Time travel to a version older than `retention` no longer
/// works afterwards. With `dry_run`, lists those files and deletes nothing.
///
/// `retention` below the table's minimum (`delta.deletedFileRetentionDuration`,
/// 7 days unless the table sets it) is refused with
/// [`StorageError::RetentionTooShort`]: readers and writers in flight, and time travel
/// within that window, may still need the files.
pub async fn vacuum(
    location: &TableLocation,
    retention: Duration,
    dry_run: bool,
    metadata: CommitMetadata,
) -> Result<VacuumReport> {
    let table = open_existing(location).await?;
    refuse_short_retention(location, &table, retention)?;
    let period = chrono::Duration::from_std(retention).map_err(|e| StorageError::Invalid {
        location: location.to_string(),
        message: format!("vacuum retention {retention:?}: {e}"),
    })?;
    let (table, metrics) = table
        .vacuum()
        .with_retention_period(period)
        .with_enforce_retention_duration(true)
        .with_mode(VacuumMode::Full)
        .with_dry_run(dry_run)
        .with_commit_properties(commit_properties(metadata))
        .await
        .map_err(|e| location.delta_error(e))?;
    Ok(VacuumReport {
        files: metrics.files_deleted,
        dry_run,
        version: table.version().unwrap_or_default(),
    })
}

/// Writes a checkpoint of the table at `location` at its latest version (nothing when
/// that version has one already); the version.
pub async fn checkpoint(location: &TableLocation) -> Result<u64> {
    let table = open_existing(location).await?;
    deltalake::checkpoints::create_checkpoint(&table, None)
        .await
        .map_err(|e| location.delta_error(e))?;
    Ok(table.version().unwrap_or_default())
}

/// How [`maintain`] treats a table.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceOptions {
    /// The size of the files compaction writes (`None`: the table's, else 100 MiB).
    pub target_size: Option<NonZeroU64>,
    /// Vacuum deletes the files removed longer ago than this.
    pub retention: Duration,
    /// Change nothing: no compaction, no checkpoint, and vacuum only lists the files it
    /// would delete.
    pub dry_run: bool,
    /// Metadata (e.g. the run id) for the commits maintenance makes.
    pub metadata: CommitMetadata,
}

impl Default for MaintenanceOptions {
    fn default() -> Self {
        MaintenanceOptions {
            target_size: None,
            retention: DEFAULT_RETENTION,
            dry_run: false,
            metadata: CommitMetadata::new(),
        }
    }
}

/// What [`maintain`] did to a table.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceReport {
    /// Data files in the table before.
    pub files_before: u64,
    /// Data files in the table after compaction.
    pub files_after: u64,
    /// The compaction (`None` on a dry run).
    pub optimize: Option<OptimizeReport>,
    /// The vacuum: the files it deleted (or would, on a dry run).
    pub vacuum: VacuumReport,
    /// The version checkpointed (`None` on a dry run).
    pub checkpoint: Option<u64>,
    /// The table version after.
    pub version: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Compacts, vacuums, then checkpoints the table at `location`. The retention is
/// checked first, so a refused vacuum changes nothing.
pub async fn maintain(
    location: &TableLocation,
    options: &MaintenanceOptions,
) -> Result<MaintenanceReport> {
    let started = Instant::now();
    let table = open_existing(location).await?;
    refuse_short_retention(location, &table, options.retention)?;
    let files_before = active_files(location, &table)?;
    let optimize = if options.dry_run {
        None
    } else {
        Some(optimize(location, options.target_size, options.metadata.clone()).await?)
    };
    let vacuum = vacuum(
        location,
        options.retention,
        options.dry_run,
        options.metadata.clone(),
    )
    .await?;
    let checkpoint = if options.dry_run {
        None
    } else {
        Some(checkpoint(location).await?)
    };
    Ok(MaintenanceReport {
        files_before,
        files_after: optimize.as_ref().map_or(files_before, |o| o.files_after),
        optimize,
        version: checkpoint.unwrap_or(vacuum.version),
        vacuum,
        checkpoint,
        elapsed: started.elapsed(),
    })
}

/// The table at `location`; an error when there is none.
async fn open_existing(location: &TableLocation) -> Result<DeltaTable> {
    open(location).await?.ok_or_else(|| {
        location.delta_error(deltalake::DeltaTableError::NotATable(location.to_string()))
    })
}

/// The data files of the table's loaded version.
fn active_files(location: &TableLocation, table: &DeltaTable) -> Result<u64> {
    let files = table.get_file_uris().map_err(|e| location.delta_error(e))?;
    Ok(files.count() as u64)
}

/// Whether the table at `location` allows a vacuum with `retention`: an error
/// ([`StorageError::RetentionTooShort`]) when it is below the table's
/// `delta.deletedFileRetentionDuration` (7 days unless the table sets one).
pub async fn check_retention(location: &TableLocation, retention: Duration) -> Result<()> {
    let table = open_existing(location).await?;
    refuse_short_retention(location, &table, retention)
}

/// Refuses a retention below the table's `delta.deletedFileRetentionDuration`.
fn refuse_short_retention(
    location: &TableLocation,
    table: &DeltaTable,
    retention: Duration,
) -> Result<()> {
    let snapshot = table.snapshot().map_err(|e| location.delta_error(e))?;
    let minimum = snapshot.table_config().deleted_file_retention_duration();
    if retention < minimum {
        return Err(StorageError::RetentionTooShort {
            location: location.to_string(),
            requested_hours: hours(retention),
            minimum_hours: hours(minimum),
        });
    }
    Ok(())
}

fn hours(duration: Duration) -> f64 {
    duration.as_secs_f64() / 3600.0
}
