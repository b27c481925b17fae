//! Retention: old runs are deleted, so the store does not grow without bound.

use std::time::Duration;

use rusqlite::params;

use super::RunStore;
use super::records::PruneReport;
use super::recovery::before_now;
use super::sql::timestamp;
use crate::runtime::error::Result;

/// The runs that may be deleted: ended, and created before the cutoff.
const PRUNABLE: &str = "SELECT id FROM flow_runs WHERE created_at < ?1 \
     AND state IN ('completed', 'failed', 'cancelled', 'skipped', 'crashed')";

impl RunStore {
    /// Deletes the flow runs created more than `older_than` ago that have ended, with
    /// their task runs and log lines. Runs still going (or scheduled) are kept.
    pub async fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        let cutoff = timestamp(before_now(older_than));
        self.call(move |connection| {
            let transaction = connection.transaction()?;
            let logs = transaction.execute(
                &format!("DELETE FROM logs WHERE flow_run_id IN ({PRUNABLE})"),
                params![cutoff],
            )?;
            let task_runs = transaction.execute(
                &format!("DELETE FROM task_runs WHERE flow_run_id IN ({PRUNABLE})"),
                params![cutoff],
            )?;
            let flow_runs = transaction.execute(
                &format!("DELETE FROM flow_runs WHERE id IN ({PRUNABLE})"),
                params![cutoff],
            )?;
            transaction.commit()?;
            Ok(PruneReport {
                flow_runs: flow_runs as u64,
                task_runs: task_runs as u64,
                logs: logs as u64,
            })
        })
        .await
    }
}
