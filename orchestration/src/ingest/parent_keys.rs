//! The parents' accepted keys when each entity is a task of the flow: a parent's
//! task hands its keys to its children's tasks in memory ([`ParentKeys`]); a child
//! whose parent was not ingested in this process (its task cached, or reused by a
//! retry) reads them back from the parent's processed table ([`read_back`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use contract::Entity;
use futures::StreamExt;
use ingestion::keys::KeySet;
use ingestion::{IngestError, Ingestor};
use storage::delta;

use crate::error::Result;
use crate::layout::DataLayout;

/// The accepted keys that the parents ingested in one run hand to their children.
/// A parent's set is kept until each of its children has taken it, so that memory
/// holds no more key sets than an ingestion of every entity in one go.
#[derive(Debug, Default)]
pub struct ParentKeys {
    held: Mutex<BTreeMap<Entity, Held>>,
}

/// A parent's keys and the children that did not take them yet.
#[derive(Debug)]
struct Held {
    keys: Arc<KeySet>,
    waiting: Vec<Entity>,
}

impl ParentKeys {
    /// Keeps `parent`'s accepted keys for its children.
    pub fn give(&self, parent: Entity, keys: Arc<KeySet>) {
        let waiting = parent.children();
        if !waiting.is_empty() {
            self.lock().insert(parent, Held { keys, waiting });
        }
    }

    /// `parent`'s keys for `child`, if `parent`'s task gave them in this run and a
    /// child still waits for them; the last child takes them away.
    pub fn take(&self, parent: Entity, child: Entity) -> Option<Arc<KeySet>> {
        let mut held = self.lock();
        let entry = held.get_mut(&parent)?;
        let keys = Arc::clone(&entry.keys);
        entry.waiting.retain(|c| *c != child);
        if entry.waiting.is_empty() {
            held.remove(&parent);
        }
        Some(keys)
    }

    /// Drops the keys no child took (children whose task did not run).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Gives `ingestor` the keys of `child`'s parents: those handed over in memory,
    /// else, for a parent with a source in this run, its keys read back from its
    /// processed table (and kept for its other children). A parent without a source
    /// is left out: `child`'s summary says its references to it were not checked.
    /// Returns the parents read back, with their number of keys.
    pub async fn hand_over(
        &self,
        ingestor: &mut Ingestor,
        child: Entity,
        layout: &DataLayout,
    ) -> Result<Vec<(Entity, usize)>> {
        let mut read = Vec::new();
        for parent in child.parents() {
            let keys = match self.take(parent, child) {
                Some(keys) => keys,
                None if ingestor.inputs(parent)?.is_some() => {
                    let keys = Arc::new(read_back(layout, parent).await?);
                    read.push((parent, keys.len()));
                    // Kept for its other children, as if its task had given them.
                    self.give(parent, Arc::clone(&keys));
                    self.take(parent, child);
                    keys
                }
                None => continue,
            };
            ingestor.set_parent_keys(parent, keys);
        }
        Ok(read)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Entity, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `parent`'s accepted keys, read back from its processed table, key columns only,
/// batch by batch (none when it has no table).
pub async fn read_back(layout: &DataLayout, parent: Entity) -> Result<KeySet> {
    let location = layout.processed(parent).location()?;
    let ctx = delta::session();
    let mut keys = KeySet::default();
    if !delta::register(&ctx, "parent", &location).await? {
        return Ok(keys);
    }
    let key = parent.spec().key;
    let frame = ctx
        .table("parent")
        .await
        .and_then(|table| table.select_columns(key))
        .map_err(IngestError::from)?;
    let mut batches = frame.execute_stream().await.map_err(IngestError::from)?;
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(IngestError::from)?;
        keys.extend_from_batch(&batch, key)
            .map_err(IngestError::from)?;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_keeps_its_keys_until_each_child_took_them() {
        let keys = ParentKeys::default();
        keys.give(Entity::Transactions, Arc::new(KeySet::default()));
        keys.give(Entity::FraudReports, Arc::new(KeySet::default()));
        assert!(
            keys.take(Entity::FraudReports, Entity::Transactions)
                .is_none(),
            "fraud reports have no children: nothing kept"
        );
        assert!(
            keys.take(Entity::Transactions, Entity::FraudReports)
                .is_some()
        );
        assert!(
            keys.take(Entity::Transactions, Entity::FraudReports)
                .is_none(),
            "its only child took them: dropped"
        );
        keys.give(Entity::Clients, Arc::new(KeySet::default()));
        assert!(keys.take(Entity::Clients, Entity::Accounts).is_some());
        assert!(keys.take(Entity::Clients, Entity::Loans).is_some());
        keys.clear();
        assert!(keys.take(Entity::Clients, Entity::Satisfaction).is_none());
    }
}
