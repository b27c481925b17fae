//! The scheduler's sense of time: the system's clock, or a manual one that tests move
//! by hand (no real waiting).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

/// What time it is, and a way to wait for a time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Completes once [`now`](Self::now) is at or past `at` (at once if it already is).
    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()> + Send;
}

/// The system's clock (`Utc::now`, tokio's timer).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        // A negative wait (the time has come) does not convert: no sleep.
        if let Ok(wait) = (at - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A clock that moves only when told to ([`set`](Self::set), [`advance`](Self::advance)),
/// for tests: sleepers wake as soon as it reaches their time, and
/// [`until_idle`](Self::until_idle) tells when the code under test waits for a later
/// time. Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<watch::Sender<Manual>>,
}

#[derive(Debug, Clone)]
struct Manual {
    now: DateTime<Utc>,
    /// Each pending `sleep_until`, by a number of its own, with its time.
    sleepers: BTreeMap<u64, DateTime<Utc>>,
    next_sleeper: u64,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            state: Arc::new(watch::Sender::new(Manual {
                now,
                sleepers: BTreeMap::new(),
                next_sleeper: 0,
            })),
        }
    }

    /// Moves the clock to `at` (forward or back), waking the sleepers it reaches.
    pub fn set(&self, at: DateTime<Utc>) {
        self.state.send_modify(|state| state.now = at);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        self.state.send_modify(|state| state.now += by);
    }

    /// Waits until something sleeps until a time the clock has not reached: the code
    /// under test has done all it can do at this time.
    pub async fn until_idle(&self) {
        let mut watcher = self.state.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = watcher
            .wait_for(|state| state.sleepers.values().any(|&at| at > state.now))
            .await;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.borrow().now
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> impl Future<Output = ()> + Send {
        let mut watcher = self.state.subscribe();
        let mut id = 0;
        self.state.send_modify(|state| {
            id = state.next_sleeper;
            state.next_sleeper += 1;
            state.sleepers.insert(id, at);
        });
        let sleeper = Sleeper {
            state: Arc::clone(&self.state),
            id,
        };
        async move {
            let _sleeper = sleeper;
            let _ = watcher.wait_for(|state| state.now >= at).await;
        }
    }
}

/// A pending `sleep_until` of a [`ManualClock`]: forgotten when it ends or is dropped.
struct Sleeper {
    state: Arc<watch::Sender<Manual>>,
    id: u64,
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.state.send_modify(|state| {
            state.sleepers.remove(&self.id);
        });
    }
}
