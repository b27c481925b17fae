//! Retention: old runs are deleted, so the store does not grow without bound.

use std::time::Duration;

use super::RunStore;
use super::backend::{Lock, values};
use super::records::PruneReport;
use super::recovery::before_now;
use crate::runtime::error::Result;

/// The runs that may be deleted: ended, and created before the cutoff.
const PRUNABLE: &str = "SELECT id FROM flow_runs WHERE created_at < ?1 \
     AND state IN ('completed', 'failed', 'cancelled', 'skipped', 'crashed')";

impl RunStore {
    /// Deletes the flow runs created more than `older_than` ago that have ended, with
    /// their task runs and log lines. Runs still going (or scheduled) are kept.
    pub async fn prune(&self, older_than: Duration) -> Result<PruneReport> {
        let cutoff = before_now(older_than);
        self.call(move |store| {
            store.transaction(Lock::Deferred, |store| {
                // The rows of `table` whose `run` column names a prunable run.
                let mut delete = |table: &str, run: &str| {
                    store.execute(
                        &format!("DELETE FROM {table} WHERE {run} IN ({PRUNABLE})"),
                        &values![cutoff],
                    )
                };
                Ok(PruneReport {
                    logs: delete("logs", "flow_run_id")?,
                    task_runs: delete("task_runs", "flow_run_id")?,
                    flow_runs: delete("flow_runs", "id")?,
                })
            })
        })
        .await
    }
}
