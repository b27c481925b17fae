//! Which process runs a flow run, and whether it is still alive: what crash recovery
//! and the writer lock's takeover rest on.

use std::fmt;
use std::sync::OnceLock;

/// A process on a host: the owner of a flow run and of a writer lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessId {
    /// The host's name.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Self {
        ProcessId {
            host: host_name().to_owned(),
            pid: std::process::id(),
        }
    }

    /// Whether the process is known to be gone: it ran on this host and no process has
    /// its id any more. A process on another host is never known to be gone (its
    /// heartbeat tells instead), nor is any process where the platform cannot tell
    /// (outside Linux).
    pub fn is_gone(&self) -> bool {
        self.host == host_name() && !pid_alive(self.pid)
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

/// This host's name (`/proc/sys/kernel/hostname` on Linux, else `HOSTNAME` or
/// `COMPUTERNAME`, else `localhost`).
fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}

/// Whether a process with this id exists on this host.
#[cfg(target_os = "linux")]
fn pid_alive(pid: u32) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether a process with this id exists on this host: unknown here, so assumed alive
/// (the heartbeat decides).
#[cfg(not(target_os = "linux"))]
fn pid_alive(_pid: u32) -> bool {
    true
}
