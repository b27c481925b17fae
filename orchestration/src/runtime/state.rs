//! The states of flow runs and task runs.

use std::fmt;
use std::str::FromStr;

/// The state of a flow run or of a task run, as stored in the run store.
///
/// A flow run goes `pending` → `running` → `completed` or `failed`; `scheduled` is a run
/// created ahead of its time (by a scheduler); `cancelled` is a run that never started
/// (its flow's writer lock was held); `crashed` is a run whose process died.
///
/// A task run goes `pending` → `running` (→ `retrying` → `running` …) → `completed` or
/// `failed`. It ends `skipped` when it did not need to run (its inputs and outputs are
/// unchanged since a completed run — *cached* — or a retried run had completed it —
/// *reused*: its note says which), `cancelled` when it never ran because a task it
/// depends on failed, and `crashed` when its process died while it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum RunState {
    /// Created ahead of its start time; not started.
    Scheduled,
    /// Created, waiting to start (for its dependencies, a free slot, or a lock).
    #[default]
    Pending,
    /// Running now.
    Running,
    /// An attempt failed; waiting for the next one.
    Retrying,
    /// Ended well.
    Completed,
    /// Ended with an error (a task run: its last attempt failed; a flow run: a task failed).
    Failed,
    /// Never ran: an upstream task failed, or the flow's lock was held.
    Cancelled,
    /// Did not need to run (cached or reused; see the note).
    Skipped,
    /// Its process died while it ran.
    Crashed,
}

impl RunState {
    /// Every state, in the order above.
    pub const ALL: [RunState; 9] = [
        RunState::Scheduled,
        RunState::Pending,
        RunState::Running,
        RunState::Retrying,
        RunState::Completed,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Skipped,
        RunState::Crashed,
    ];

    /// The state's name as stored and shown (`running`, `completed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Scheduled => "scheduled",
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Retrying => "retrying",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Skipped => "skipped",
            RunState::Crashed => "crashed",
        }
    }

    /// Whether the run has ended (no further change of state).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Completed
                | RunState::Failed
                | RunState::Cancelled
                | RunState::Skipped
                | RunState::Crashed
        )
    }

    /// Whether a process is working on the run (`pending`, `running` or `retrying`):
    /// the states that a crash would leave behind.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunState::Pending | RunState::Running | RunState::Retrying
        )
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`RunState::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "unknown run state `{0}` (expected one of scheduled, pending, running, retrying, completed, failed, cancelled, skipped, crashed)"
)]
pub struct UnknownState(pub String);

impl FromStr for RunState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}
