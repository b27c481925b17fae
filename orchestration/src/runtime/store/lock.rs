//! The writer lock: one run of an exclusive flow at a time, across processes.
//!
//! The lock is a row of `flow_locks`, taken in an immediate (write-locked) transaction,
//! so two processes cannot both take it. A lock whose holder is gone — its process not
//! alive on this host, its heartbeat older than
//! [`stale_after`](super::StoreOptions::stale_after), or its run ended without
//! releasing it — is taken over, and the holder's run marked `crashed`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::RunStore;
use super::records::FlowRunId;
use super::recovery::{before_now, gone, mark_crashed};
use super::sql::{time, timestamp};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::process::ProcessId;
use crate::runtime::state::RunState;

/// What a run does when its flow's lock is held by another run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LockWait {
    /// Gives up at once, naming the run that holds the lock.
    #[default]
    Refuse,
    /// Waits up to this long for the lock, then gives up.
    Wait(Duration),
}

/// How often a waiting run looks at the lock again.
const POLL: Duration = Duration::from_millis(100);

enum Attempt {
    Acquired(Option<FlowRunId>),
    Held {
        holder: FlowRunId,
        process: ProcessId,
        since: DateTime<Utc>,
    },
}

impl RunStore {
    /// Takes flow `flow`'s writer lock for run `run` of process `owner`, refusing or
    /// waiting as `wait` says while another live run holds it. Returns the run whose
    /// stale lock was taken over, if any.
    pub async fn acquire_lock(
        &self,
        flow: &str,
        run: FlowRunId,
        owner: &ProcessId,
        wait: LockWait,
    ) -> Result<Option<FlowRunId>> {
        let started = Instant::now();
        loop {
            match self.try_lock(flow, run, owner).await? {
                Attempt::Acquired(taken_over) => return Ok(taken_over),
                Attempt::Held {
                    holder,
                    process,
                    since,
                } => {
                    let waited = started.elapsed();
                    match wait {
                        LockWait::Wait(timeout) if waited < timeout => {
                            tokio::time::sleep(POLL.min(timeout - waited)).await;
                        }
                        LockWait::Wait(_) => {
                            return Err(RuntimeError::LockTimeout {
                                flow: flow.to_owned(),
                                holder,
                                waited,
                            });
                        }
                        LockWait::Refuse => {
                            return Err(RuntimeError::LockHeld {
                                flow: flow.to_owned(),
                                holder,
                                process,
                                since,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Releases flow `flow`'s writer lock if run `run` holds it.
    pub async fn release_lock(&self, flow: &str, run: FlowRunId) -> Result<()> {
        let flow = flow.to_owned();
        self.call(move |connection| {
            connection.execute(
                "DELETE FROM flow_locks WHERE flow = ?1 AND flow_run_id = ?2",
                params![flow, run],
            )?;
            Ok(())
        })
        .await
    }

    async fn try_lock(&self, flow: &str, run: FlowRunId, owner: &ProcessId) -> Result<Attempt> {
        let (flow, owner) = (flow.to_owned(), owner.clone());
        let stale_after = self.options().stale_after;
        self.call(move |connection| {
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let holder = transaction
                .query_row(
                    "SELECT l.flow_run_id, l.host, l.pid, l.acquired_at, l.heartbeat_at, f.state \
                     FROM flow_locks l LEFT JOIN flow_runs f ON f.id = l.flow_run_id \
                     WHERE l.flow = ?1",
                    params![flow],
                    |row| {
                        Ok((
                            row.get::<_, FlowRunId>(0)?,
                            ProcessId {
                                host: row.get(1)?,
                                pid: row.get(2)?,
                            },
                            time(row, "acquired_at")?,
                            time(row, "heartbeat_at")?,
                            row.get::<_, Option<RunState>>(5)?,
                        ))
                    },
                )
                .optional()?;
            let mut taken_over = None;
            if let Some((holder, process, since, heartbeat, state)) = holder {
                if holder == run {
                    return Ok(Attempt::Acquired(None));
                }
                let reason = match state {
                    Some(state) if state.is_active() => {
                        gone(&process, heartbeat, before_now(stale_after))
                    }
                    Some(state) => Some(format!("its run ended ({state})")),
                    None => Some("its run is no longer in the store".to_owned()),
                };
                let Some(reason) = reason else {
                    return Ok(Attempt::Held {
                        holder,
                        process,
                        since,
                    });
                };
                mark_crashed(&transaction, holder, &reason)?;
                transaction.execute("DELETE FROM flow_locks WHERE flow = ?1", params![flow])?;
                tracing::warn!(
                    "flow `{flow}`: run #{run} takes over the lock of run #{holder}: {reason}"
                );
                taken_over = Some(holder);
            }
            let now = timestamp(Utc::now());
            transaction.execute(
                "INSERT INTO flow_locks (flow, flow_run_id, host, pid, acquired_at, heartbeat_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![flow, run, owner.host, owner.pid, now],
            )?;
            transaction.commit()?;
            Ok(Attempt::Acquired(taken_over))
        })
        .await
    }
}
