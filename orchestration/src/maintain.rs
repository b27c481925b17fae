//! `bankpipe maintain`: compaction, vacuum and a checkpoint for every Delta table of
//! the lake.
//!
//! The tables are found, not listed: every folder up to three levels under the lake's
//! root (the data folder, or the configured lake location) that holds a `_delta_log`
//! (`processed/<entity>`, `quarantine/<entity>`, `transformed/<table>`,
//! `transformed/marts/<table>`, `monitoring/metrics`, and any table added later).
//! Each is compacted, vacuumed with the retention asked for (7 days by default, never
//! below the table's own minimum: a shorter one is refused before anything changes),
//! then checkpointed; see [`storage::delta::maintain`].

use std::time::Duration;

use storage::delta::maintain::{self as table_maintenance, MaintenanceOptions, MaintenanceReport};
use storage::delta::{self, TableLocation};

use crate::error::Result;
use crate::layout::DataLayout;

/// How deep under the lake's root tables are looked for (`transformed/marts/<table>`).
const MAX_DEPTH: usize = 3;

/// What to maintain, and how.
#[derive(Debug, Clone)]
pub struct MaintainOptions {
    /// The lake.
    pub layout: DataLayout,
    /// Vacuum deletes the files removed longer ago than this.
    pub retention: Duration,
    /// Change nothing: only list what vacuum would delete.
    pub dry_run: bool,
    /// The run id recorded in the commits maintenance makes.
    pub run_id: String,
}

/// What maintenance did to one table.
#[derive(Debug, Clone)]
pub struct TableMaintenance {
    /// The table's path under the lake's root (`processed/accounts`).
    pub table: String,
    /// Where the table is.
    pub location: TableLocation,
    /// What was done.
    pub report: MaintenanceReport,
}

/// Maintains every table of the lake, one after the other. A retention below a
/// table's minimum is refused before any table changes; any other failure stops at
/// that table (the tables before it are done).
pub async fn maintain(options: &MaintainOptions) -> Result<Vec<TableMaintenance>> {
    let maintenance = MaintenanceOptions {
        retention: options.retention,
        dry_run: options.dry_run,
        metadata: delta::run_metadata(&options.run_id),
        ..MaintenanceOptions::default()
    };
    let tables = delta::find_tables(&options.layout.lake()?, MAX_DEPTH).await?;
    for (_, location) in &tables {
        // Refuse a short retention before changing any table.
        table_maintenance::check_retention(location, options.retention).await?;
    }
    let mut done = Vec::new();
    for (table, location) in tables {
        let report = table_maintenance::maintain(&location, &maintenance).await?;
        done.push(TableMaintenance {
            table,
            location,
            report,
        });
    }
    Ok(done)
}

/// The table of results: per table, its data files before and after compaction, the
/// files vacuum deleted (or would delete, on a dry run), its version and seconds.
pub fn render(tables: &[TableMaintenance]) -> String {
    let total = format!("total ({} tables)", tables.len());
    let width = tables
        .iter()
        .map(|t| t.table.chars().count())
        .chain([total.len()])
        .max()
        .unwrap_or_default();
    let mut out = format!(
        "{:<width$} {:>12} {:>11} {:>17} {:>8} {:>8}\n",
        "table", "files before", "files after", "removed by vacuum", "version", "seconds"
    );
    for table in tables {
        let report = &table.report;
        out.push_str(&format!(
            "{:<width$} {:>12} {:>11} {:>17} {:>8} {:>8.2}\n",
            table.table,
            report.files_before,
            report.files_after,
            report.vacuum.files.len(),
            report.version,
            report.elapsed.as_secs_f64()
        ));
    }
    let before: u64 = tables.iter().map(|t| t.report.files_before).sum();
    let after: u64 = tables.iter().map(|t| t.report.files_after).sum();
    let vacuumed: usize = tables.iter().map(|t| t.report.vacuum.files.len()).sum();
    let seconds: f64 = tables.iter().map(|t| t.report.elapsed.as_secs_f64()).sum();
    out.push_str(&format!(
        "{total:<width$} {before:>12} {after:>11} {vacuumed:>17} {:>8} {seconds:>8.2}\n",
        ""
    ));
    out
}
