//! The writer lock: one run of an exclusive flow at a time, across processes.
//!
//! The lock is a row of `flow_locks`, taken in an exclusive transaction (see
//! `backend::Lock`), so two processes cannot both take it. A lock whose holder is gone — its process not
//! alive on this host, its heartbeat older than
//! [`stale_after`](super::StoreOptions::stale_after), or its run ended without
//! releasing it — is taken over, and the holder's run marked `crashed`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::RunStore;
use super::backend::{Backend, Lock, values};
use super::records::FlowRunId;
use super::recovery::{before_now, gone, mark_crashed};
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
        self.call(move |store| {
            store.execute(
                "DELETE FROM flow_locks WHERE flow = ?1 AND flow_run_id = ?2",
                &values![flow, run],
            )?;
            Ok(())
        })
        .await
    }

    async fn try_lock(&self, flow: &str, run: FlowRunId, owner: &ProcessId) -> Result<Attempt> {
        let (flow, owner) = (flow.to_owned(), owner.clone());
        let stale_after = self.options().stale_after;
        self.call(move |store| {
            store.transaction(Lock::Exclusive, |store| {
                take_lock(store, &flow, run, &owner, stale_after)
            })
        })
        .await
    }
}

/// Takes the lock of `flow` for `run`, in an exclusive transaction: unless a live run
/// holds it; a gone holder's run is marked crashed.
fn take_lock(
    store: &mut Backend,
    flow: &str,
    run: FlowRunId,
    owner: &ProcessId,
    stale_after: Duration,
) -> Result<Attempt> {
    let holder = store
        .query_first(
            "SELECT l.flow_run_id, l.host, l.pid, l.acquired_at, l.heartbeat_at, \
             f.state FROM flow_locks l LEFT JOIN flow_runs f ON f.id = l.flow_run_id \
             WHERE l.flow = ?1",
            &values![flow],
        )?
        .map(|row| -> Result<_> {
            Ok((
                row.get::<FlowRunId>("flow_run_id")?,
                ProcessId {
                    host: row.get("host")?,
                    pid: row.get("pid")?,
                },
                row.get::<DateTime<Utc>>("acquired_at")?,
                row.get::<DateTime<Utc>>("heartbeat_at")?,
                row.get::<Option<RunState>>("state")?,
            ))
        })
        .transpose()?;
    let mut taken_over = None;
    if let Some((holder, process, since, heartbeat, state)) = holder {
        if holder == run {
            return Ok(Attempt::Acquired(None));
        }
        let reason = match state {
            Some(state) if state.is_active() => gone(&process, heartbeat, before_now(stale_after)),
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
        mark_crashed(store, holder, &reason)?;
        store.execute("DELETE FROM flow_locks WHERE flow = ?1", &values![flow])?;
        tracing::warn!("flow `{flow}`: run #{run} takes over the lock of run #{holder}: {reason}");
        taken_over = Some(holder);
    }
    store.execute(
        "INSERT INTO flow_locks (flow, flow_run_id, host, pid, acquired_at, heartbeat_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        &values![flow, run, &owner.host, owner.pid, Utc::now()],
    )?;
    Ok(Attempt::Acquired(taken_over))
}
