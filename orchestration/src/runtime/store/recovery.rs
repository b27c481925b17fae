//! Crash recovery: runs left active by a process that is gone are marked `crashed`,
//! so that no run stays `running` forever.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::RunStore;
use super::backend::{Backend, Lock, values};
use super::records::FlowRunId;
use crate::runtime::error::Result;
use crate::runtime::process::ProcessId;

impl RunStore {
    /// Marks as `crashed` every `pending`, `running` or `retrying` flow run whose
    /// process is gone, or whose heartbeat is older than
    /// [`stale_after`](super::StoreOptions::stale_after): its running task runs become
    /// `crashed`, those not started `cancelled`, and its writer lock is released.
    /// Returns the runs so marked. [`open`](RunStore::open) calls it; a long-lived
    /// process (the dashboard) may call it again.
    pub async fn recover_crashed(&self) -> Result<Vec<FlowRunId>> {
        let stale_after = self.options().stale_after;
        self.call(move |store| {
            store.transaction(Lock::Exclusive, |store| {
                let cutoff = before_now(stale_after);
                let mut crashed = Vec::new();
                for row in store.query(
                    "SELECT id, host, pid, heartbeat_at FROM flow_runs \
                     WHERE state IN ('pending', 'running', 'retrying')",
                    &[],
                )? {
                    let process = ProcessId {
                        host: row.get("host")?,
                        pid: row.get("pid")?,
                    };
                    if let Some(reason) = gone(&process, row.get("heartbeat_at")?, cutoff) {
                        crashed.push((row.get::<FlowRunId>("id")?, reason));
                    }
                }
                for (run, reason) in &crashed {
                    mark_crashed(store, *run, reason)?;
                }
                Ok(crashed.into_iter().map(|(run, _)| run).collect())
            })
        })
        .await
    }
}

/// The time `age` ago (the Unix epoch if that is earlier: no run is older, and both
/// backends can store it).
pub(super) fn before_now(age: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .map_or(DateTime::UNIX_EPOCH, |at| at.max(DateTime::UNIX_EPOCH))
}

/// Why the process that owns a run or a lock is taken as gone, if it is.
pub(super) fn gone(
    process: &ProcessId,
    heartbeat: DateTime<Utc>,
    cutoff: DateTime<Utc>,
) -> Option<String> {
    if process.is_gone() {
        Some(format!("its process ({process}) is gone"))
    } else if heartbeat < cutoff {
        Some(format!(
            "its process ({process}) gave no sign of life since {}",
            heartbeat.to_rfc3339()
        ))
    } else {
        None
    }
}

/// Marks an active flow run `crashed` for `reason`, with its task runs, and releases
/// its lock.
pub(super) fn mark_crashed(store: &mut Backend, run: FlowRunId, reason: &str) -> Result<()> {
    let now = Utc::now();
    let error = format!("crashed: {reason}");
    store.execute(
        "UPDATE flow_runs SET state = 'crashed', error = ?2, ended_at = ?3 \
         WHERE id = ?1 AND state IN ('pending', 'running', 'retrying')",
        &values![run, error.as_str(), now],
    )?;
    store.execute(
        "UPDATE task_runs SET state = 'crashed', error = ?2, ended_at = ?3 \
         WHERE flow_run_id = ?1 AND state IN ('running', 'retrying')",
        &values![run, error, now],
    )?;
    store.execute(
        "UPDATE task_runs SET state = 'cancelled', error = 'not run: the flow run crashed', \
         ended_at = ?2 WHERE flow_run_id = ?1 AND state = 'pending'",
        &values![run, now],
    )?;
    store.execute(
        "DELETE FROM flow_locks WHERE flow_run_id = ?1",
        &values![run],
    )?;
    Ok(())
}
