//! A spawned tokio task that is aborted when its handle is dropped, so that no work
//! outlives the run (or the attempt) that started it.

use tokio::task::JoinHandle;

/// Owns a spawned task and aborts it on drop. Await `&mut guard.0` for its result.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
