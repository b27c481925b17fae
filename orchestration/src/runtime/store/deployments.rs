//! The deployments' state, for the scheduler (`crate::schedule`): whether each is
//! paused, and how far its schedule has been handled.
//!
//! One row per deployment, created the first time the scheduler sees it or it is
//! paused. `paused` is `NULL` until someone pauses or resumes the deployment: until
//! then the configuration's `paused` holds; once set, the stored value wins over the
//! configuration, across restarts. `checked_until` is the watermark of the schedule:
//! every occurrence at or before it was launched or deliberately skipped, so a
//! restarted scheduler never launches it again. It only moves forward, and an
//! occurrence is claimed ([`RunStore::claim_occurrence`]) by moving it there in one
//! statement, so two schedulers on one store cannot both launch it.

use chrono::{DateTime, Utc};

use super::RunStore;
use super::backend::{Lock, values};
use crate::runtime::error::Result;

/// A deployment's state as the run store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentState {
    /// The deployment's name.
    pub name: String,
    /// Paused (`Some(true)`) or resumed (`Some(false)`) by a person; `None`: never
    /// either, so the configuration's `paused` holds.
    pub paused: Option<bool>,
    /// Every occurrence at or before this instant was launched or skipped; `None`:
    /// the scheduler never looked at the deployment.
    pub checked_until: Option<DateTime<Utc>>,
    /// The latest occurrence launched, if any.
    pub last_scheduled_for: Option<DateTime<Utc>>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

impl RunStore {
    /// Every deployment's stored state, by name.
    pub async fn deployment_states(&self) -> Result<Vec<DeploymentState>> {
        self.call(|store| {
            store
                .query(
                    "SELECT name, paused, checked_until, last_scheduled_for, updated_at \
                     FROM deployments ORDER BY name",
                    &[],
                )?
                .into_iter()
                .map(|row| -> Result<DeploymentState> {
                    Ok(DeploymentState {
                        name: row.get("name")?,
                        paused: row.get("paused")?,
                        checked_until: row.get("checked_until")?,
                        last_scheduled_for: row.get("last_scheduled_for")?,
                        updated_at: row.get("updated_at")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Pauses deployment `name`: the scheduler launches none of its occurrences until
    /// it is resumed. Survives restarts, and wins over the configuration's `paused`.
    pub async fn pause_deployment(&self, name: &str) -> Result<()> {
        self.set_paused(name, true).await
    }

    /// Resumes deployment `name` (see [`pause_deployment`](Self::pause_deployment)).
    pub async fn resume_deployment(&self, name: &str) -> Result<()> {
        self.set_paused(name, false).await
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        let name = name.to_owned();
        self.call(move |store| {
            store.execute(
                "INSERT INTO deployments (name, paused, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, \
                 updated_at = excluded.updated_at",
                &values![name, paused, Utc::now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Claims the occurrence `scheduled_for` of deployment `name` before launching it:
    /// moves the deployment's watermark (and its last scheduled occurrence) to it, if
    /// the watermark is before it and the deployment is not paused (`paused_by_config`
    /// says whether it is when no one paused or resumed it). Returns whether the
    /// occurrence was claimed; `false` means it was already launched or skipped (by
    /// this scheduler before a restart, or by another one), or the deployment is now
    /// paused: do not launch it.
    pub async fn claim_occurrence(
        &self,
        name: &str,
        scheduled_for: DateTime<Utc>,
        paused_by_config: bool,
    ) -> Result<bool> {
        let name = name.to_owned();
        self.call(move |store| {
            store.transaction(Lock::Exclusive, |store| {
                let now = Utc::now();
                store.execute(
                    "INSERT INTO deployments (name, updated_at) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO NOTHING",
                    &values![name.as_str(), now],
                )?;
                let changed = store.execute(
                    "UPDATE deployments SET checked_until = ?2, last_scheduled_for = ?2, \
                     updated_at = ?3 \
                     WHERE name = ?1 AND (checked_until IS NULL OR checked_until < ?2) \
                       AND NOT COALESCE(paused, ?4)",
                    &values![name, scheduled_for, now, paused_by_config],
                )?;
                Ok(changed == 1)
            })
        })
        .await
    }

    /// Moves deployment `name`'s watermark forward to `until` (never back): its
    /// occurrences up to then that were not launched are skipped for good.
    pub async fn mark_checked(&self, name: &str, until: DateTime<Utc>) -> Result<()> {
        let name = name.to_owned();
        self.call(move |store| {
            store.execute(
                "INSERT INTO deployments (name, checked_until, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET checked_until = excluded.checked_until, \
                 updated_at = excluded.updated_at \
                 WHERE deployments.checked_until IS NULL \
                    OR deployments.checked_until < excluded.checked_until",
                &values![name, until, Utc::now()],
            )?;
            Ok(())
        })
        .await
    }
}
