//! The run store: every flow run, task run and log line, which the dashboard and
//! `bankpipe retry` read. In an embedded SQLite database in the data folder
//! (`<data>/runs.sqlite`) by default, or in a schema of a PostgreSQL database
//! ([`StoreLocation`]); the two behave the same (see `backend`).
//!
//! # Semantics and hazards
//! - **One connection behind a mutex**, used through `spawn_blocking`: store calls
//!   never block the async threads. Several processes may open the same store (SQLite
//!   in WAL mode: readers do not wait for the writer; writers wait up to 10 s for each
//!   other).
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

mod backend;
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

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::Handle;

use super::error::Result;
use backend::Backend;

pub use backend::StoreLocation;
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
    connection: Mutex<Backend>,
    location: StoreLocation,
    options: StoreOptions,
}

impl RunStore {
    /// Opens the store of the data folder `data` (`<data>/runs.sqlite`), creating the
    /// folder and the store if needed.
    pub async fn open_in(data: &Path) -> Result<Self> {
        RunStore::open(&data.join(FILE_NAME), StoreOptions::default()).await
    }

    /// Opens (or creates) the SQLite store at `path` (see [`open_at`](Self::open_at)).
    pub async fn open(path: &Path, options: StoreOptions) -> Result<Self> {
        RunStore::open_at(StoreLocation::Sqlite(path.to_owned()), options).await
    }

    /// Opens (or creates) the store at `location`, migrates its schema, and recovers
    /// the runs of crashed processes.
    pub async fn open_at(location: StoreLocation, options: StoreOptions) -> Result<Self> {
        let runtime = Handle::current();
        let opened = location.clone();
        let connection =
            tokio::task::spawn_blocking(move || Backend::open(&opened, runtime)).await??;
        let store = RunStore {
            inner: Arc::new(Inner {
                connection: Mutex::new(connection),
                location,
                options,
            }),
        };
        let crashed = store.recover_crashed().await?;
        if !crashed.is_empty() {
            tracing::warn!(
                "run store {}: marked {} runs of gone processes as crashed",
                store.location(),
                crashed.len()
            );
        }
        Ok(store)
    }

    /// Where the store is.
    pub fn location(&self) -> &StoreLocation {
        &self.inner.location
    }

    /// Its options.
    pub fn options(&self) -> StoreOptions {
        self.inner.options
    }

    /// Runs `work` on the connection, off the async threads.
    async fn call<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Backend) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut connection = inner
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // A call that panicked inside a transaction left it open: end it first.
            connection.reset()?;
            work(&mut connection)
        })
        .await?
    }
}
