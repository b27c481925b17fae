//! The run store: every flow run, task run and log line, in an embedded SQLite
//! database in the data folder (`<data>/runs.sqlite`), which the dashboard and
//! `bankpipe retry` read.
//!
//! # Semantics and hazards
//! - **One connection behind a mutex**, used through `spawn_blocking`: SQLite calls
//!   never block the async threads. Several processes may open the same file (WAL mode:
//!   readers do not wait for the writer; writers wait up to 10 s for each other).
//! - **Crash recovery** on open ([`RunStore::recover_crashed`]): a run left `pending`,
//!   `running` or `retrying` whose process is gone (not alive on this host) or whose
//!   heartbeat is older than [`StoreOptions::stale_after`] is marked `crashed`, with its
//!   running task runs (`crashed`) and those never started (`cancelled`), and its
//!   writer lock is released. Runs of live processes are left alone, so opening the
//!   store from a second process (the dashboard) is safe. (A process id reused by
//!   another process after a reboot looks alive: the heartbeat catches that run.)
//! - **The writer lock** ([`RunStore::acquire_lock`]): one row per flow being run by an
//!   exclusive run. A lock whose holder is gone (as above, or ended) is taken over.
//! - **Retention** ([`RunStore::prune`]) deletes ended runs older than an age, with
//!   their task runs and logs; running runs are never deleted.
//! - **Backfills** ([`RunStore::backfills`]): runs grouped by their
//!   [`BACKFILL_PARAMETER`], read from the stored parameters (no column of their own).
//! - **Deployments** ([`RunStore::deployment_states`]): per deployment of the
//!   scheduler, its paused flag and how far its schedule was handled (see
//!   `deployments.rs`), so pause/resume and the schedule survive restarts.
//! - Timestamps are UTC.

mod backfills;
mod dashboard_queries;
mod deployments;
mod lock;
mod queries;
mod records;
mod recovery;
mod retention;
mod runs;
mod schema;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use super::error::{Result, RuntimeError};

pub use deployments::DeploymentState;
pub use lock::LockWait;
pub use records::{
    BACKFILL_PARAMETER, BackfillSummary, CachedTaskRun, DayCount, FlowRunDetail, FlowRunId,
    FlowRunRecord, LogRecord, LogScope, NewFlowRun, NewLog, PruneReport, RunFilter, TaskRunChange,
    TaskRunId, TaskRunRecord,
};

/// The store's file name in the data folder.
pub const FILE_NAME: &str = "runs.sqlite";

/// How the store judges that a run's process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// A run (or a lock) whose heartbeat is older than this is taken as crashed, even
    /// if its process cannot be seen (another host). Runs beat every tenth of it.
    pub stale_after: Duration,
}

impl Default for StoreOptions {
    /// Five minutes.
    fn default() -> Self {
        StoreOptions {
            stale_after: Duration::from_secs(300),
        }
    }
}

/// The run store. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct RunStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connection: Mutex<Connection>,
    path: PathBuf,
    options: StoreOptions,
}

impl RunStore {
    /// Opens the store of the data folder `data` (`<data>/runs.sqlite`), creating the
    /// folder and the store if needed.
    pub async fn open_in(data: &Path) -> Result<Self> {
        RunStore::open(&data.join(FILE_NAME), StoreOptions::default()).await
    }

    /// Opens (or creates) the store at `path`, migrates its schema, and recovers the
    /// runs of crashed processes.
    pub async fn open(path: &Path, options: StoreOptions) -> Result<Self> {
        let path = path.to_owned();
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || -> Result<Connection> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| RuntimeError::Folder {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            let mut connection = Connection::open(&path).map_err(|source| RuntimeError::Open {
                path: path.clone(),
                source,
            })?;
            schema::prepare(&mut connection, &path)?;
            Ok(connection)
        })
        .await??;
        let store = RunStore {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                path: opened,
                options,
            }),
        };
        let crashed = store.recover_crashed().await?;
        if !crashed.is_empty() {
            tracing::warn!(
                "run store {}: marked {} runs of gone processes as crashed",
                store.path().display(),
                crashed.len()
            );
        }
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Its options.
    pub fn options(&self) -> StoreOptions {
        self.inner.options
    }

    /// Runs `work` on the connection, off the async threads.
    async fn call<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while the mutex was held rolled its transaction back (rusqlite
            // transactions roll back on drop): the connection is usable.
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            work(&mut connection)
        })
        .await?
    }
}
