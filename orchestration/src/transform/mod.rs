//! The transform stage: the processed layer into the star schema and the marts, as
//! Delta tables under `<data>/transformed/`, one table at a time or several at once.
//!
//! The [`catalog`] lists the tables, each with what it reads: processed entities,
//! warehouse tables built before it (read back from their Delta tables), and views
//! shared with other tables (`transactions_eur`, `loan_months`, and the run's setup,
//! computed once: the report window's months and the daily FX rates). A [`Transform`]
//! builds each table in a DataFusion session of its own where only that is
//! registered, so that tables that do not read each other can be built at the same
//! time — the pipeline runs each as a task of its flow — while [`transform`] builds
//! them all, one after the other. Each dimension is merged with its previous version
//! (stable keys, history). Every fact derived one-to-one from an entity is then
//! [reconciled](reconcile) with it.
//!
//! Memory: a transform has *lanes*: at most that many tables build at once, and each
//! session holds at most `memory_limit / lanes` bytes in its sorts, joins and
//! aggregates before spilling to disk, so that together they stay within
//! `memory_limit`.

mod build;
pub mod catalog;
mod days;
mod hash_key;
mod reconcile;
mod session;
mod setup;

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use contract::Entity;
use storage::delta::{self, TableLocation};
use tokio::sync::{OnceCell, Semaphore};
use transformation::TransformError;
use transformation::banking::ModelParams;

use crate::config::ModelConfig;
use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;
use catalog::{TABLES, Table};
pub use hash_key::hash_key;
pub use reconcile::{RECONCILED, Reconciliation, reconcile};
use setup::Setup;

/// What the transform stage needs.
#[derive(Debug, Clone)]
pub struct TransformOptions {
    /// The lake's layout.
    pub layout: DataLayout,
    /// The run id stamped on every commit.
    pub run_id: String,
    /// The model's parameters (hash key, business date).
    pub params: ModelParams,
    /// The model's settings (fraud and revenue rules, FX).
    pub model: ModelConfig,
    /// Bytes the plans may hold in memory before they spill to disk, all tables
    /// building at once together.
    pub memory_limit: usize,
}

/// The default of [`TransformOptions::memory_limit`]: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;

impl TransformOptions {
    /// A run as of `as_of` with `model`: the hash key from the environment or the data
    /// folder ([`hash_key`]), the default memory limit.
    pub fn new(
        layout: &DataLayout,
        run_id: &str,
        as_of: NaiveDate,
        model: ModelConfig,
    ) -> Result<TransformOptions> {
        Ok(TransformOptions {
            layout: layout.clone(),
            run_id: run_id.to_owned(),
            params: ModelParams {
                hash_key: hash_key(layout)?,
                as_of,
            },
            model,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        })
    }
}

/// One table written by the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table's name.
    pub table: String,
    /// Where it is.
    pub location: TableLocation,
    /// Its rows after the run.
    pub rows: u64,
    /// How long running and writing it took.
    pub elapsed: Duration,
    /// For a fact with one row per source row: the entity and its processed rows
    /// (filled in by [`transform`] once reconciled).
    pub source: Option<(Entity, u64)>,
}

/// One transform of the warehouse: its options, the setup its tables share (computed
/// once, by the first table that needs it), its lanes, and the tables it built.
#[derive(Debug)]
pub struct Transform {
    options: TransformOptions,
    setup: OnceCell<Setup>,
    lanes: usize,
    free_lanes: Semaphore,
    session_memory: usize,
    built: Mutex<Built>,
}

/// The tables a transform built, and when the first began and the last ended.
#[derive(Debug, Default)]
struct Built {
    tables: Vec<TableSummary>,
    span: Option<(Instant, Instant)>,
}

impl Transform {
    /// A transform with `options` that builds at most `lanes` tables at once (at least
    /// one), each in a session holding at most `memory_limit / lanes` bytes.
    pub fn new(options: TransformOptions, lanes: usize) -> Transform {
        let lanes = lanes.max(1);
        Transform {
            session_memory: options.memory_limit / lanes,
            options,
            setup: OnceCell::new(),
            lanes,
            free_lanes: Semaphore::new(lanes),
            built: Mutex::default(),
        }
    }

    /// Its options.
    pub fn options(&self) -> &TransformOptions {
        &self.options
    }

    /// How many tables it builds at once, at most.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Builds `table`: once a lane is free, in a session of its own where what it
    /// reads is registered, streamed into its Delta table (its rows replaced in one
    /// commit).
    pub async fn build(&self, table: &Table) -> Result<TableSummary> {
        // The semaphore is never closed: a permit always comes.
        let _lane = self.free_lanes.acquire().await.ok();
        let started = Instant::now();
        let ctx = delta::bounded_session(self.session_memory);
        session::register(&ctx, self, table).await?;
        let frame = build::plan(&ctx, self, table).await?;
        let summary = build::write(self, table.name, frame, started).await?;
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        built.tables.push(summary.clone());
        let (first, _) = built.span.unwrap_or((started, started));
        built.span = Some((first.min(started), Instant::now()));
        Ok(summary)
    }

    /// The tables built so far, in the order they were completed, and the time from
    /// the start of the first to the end of the last (`None` before the first).
    pub fn built(&self) -> (Vec<TableSummary>, Option<Duration>) {
        let built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        let span = built.span.map(|(first, last)| last - first);
        (built.tables.clone(), span)
    }

    /// The run's setup, computed by the first caller.
    async fn setup(&self) -> Result<&Setup> {
        self.setup
            .get_or_try_init(|| Setup::compute(&self.options, self.session_memory))
            .await
    }
}

/// Builds the star schema and the marts from the processed layer, one table after the
/// other, then reconciles the facts (the stage fails unless they reconcile).
pub async fn transform(options: &TransformOptions) -> Result<Vec<TableSummary>> {
    let run = Transform::new(options.clone(), 1);
    let mut written = Vec::with_capacity(TABLES.len());
    for table in &TABLES {
        written.push(run.build(table).await?);
    }
    for fact in reconcile(&options.layout).await? {
        if let Some(summary) = written.iter_mut().find(|s| s.table == fact.table) {
            summary.source = Some((fact.entity, fact.rows));
        }
    }
    Ok(written)
}

fn df_error(table: &str, source: datafusion::error::DataFusionError) -> PipelineError {
    TransformError::datafusion(table, source).into()
}
