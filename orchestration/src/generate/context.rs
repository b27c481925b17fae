//! The validated options of a run, the sizes derived from its scale, and the factories of
//! random streams and entity writers every submodule uses.

use std::path::PathBuf;

use contract::Entity;
use rand_chacha::ChaCha8Rng;

use super::calendar::{Window, plus_days};
use super::defects::Planter;
use super::random::{self, Stream};
use super::writer::{CsvSink, EntityWriter, JsonlSink, header};
use super::{GenerateError, GenerateOptions};

/// Largest accepted scale (10 000 M transactions would not fit the ids).
const MAX_SCALE: f64 = 1_000.0;
/// Largest accepted share of bad rows.
const MAX_DEFECTS: f64 = 0.5;

/// Row counts derived from the scale.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub clients: usize,
    pub transactions: u64,
    pub loans: usize,
    pub surveys: usize,
    /// Planted instances of each fraud pattern.
    pub fraud_instances: usize,
}

impl Sizes {
    fn new(scale: f64) -> Self {
        let clients = (20_000.0 * scale).round().max(20.0) as usize;
        let transactions = (1_000_000.0 * scale).round().max(500.0) as u64;
        Self {
            clients,
            transactions,
            loans: ((clients as f64) * 0.08).round().max(2.0) as usize,
            surveys: ((clients as f64) * 0.3).round().max(5.0) as usize,
            fraud_instances: (transactions as f64 * 5.0 / 100_000.0).ceil().max(1.0) as usize,
        }
    }
}

/// Everything a generator step needs to know about the run.
pub(crate) struct Ctx<'a> {
    pub opts: &'a GenerateOptions,
    pub window: Window,
    pub sizes: Sizes,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(opts: &'a GenerateOptions) -> Result<Self, GenerateError> {
        if !(opts.scale.is_finite() && opts.scale > 0.0 && opts.scale <= MAX_SCALE) {
            return Err(GenerateError::InvalidOption {
                option: "scale",
                reason: format!("expected a number in (0, {MAX_SCALE}], got {}", opts.scale),
            });
        }
        if !(opts.defects.is_finite() && (0.0..=MAX_DEFECTS).contains(&opts.defects)) {
            return Err(GenerateError::InvalidOption {
                option: "defects",
                reason: format!(
                    "expected a share in [0, {MAX_DEFECTS}] (0.01 = 1 %), got {}",
                    opts.defects
                ),
            });
        }
        Ok(Self {
            opts,
            window: Window::ending(opts.end_date),
            sizes: Sizes::new(opts.scale),
        })
    }

    pub(crate) fn rng(&self, stream: Stream) -> ChaCha8Rng {
        random::stream(self.opts.seed, stream)
    }

    /// A path inside the output folder.
    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.opts.out.join(file)
    }

    /// The folder of the ground-truth files.
    pub(crate) fn generator_dir(&self) -> PathBuf {
        self.opts.out.join("_generator")
    }

    /// The defect planter of `entity` for this run.
    pub(crate) fn planter(&self, entity: Entity) -> Result<Planter, GenerateError> {
        // fx_rates bad rows get dates a year and more before the first real rate.
        let old_dates_from = plus_days(self.window.fx_start(), -365);
        Planter::new(
            entity,
            self.opts.defects,
            self.rng(Stream::Defects(entity)),
            old_dates_from,
        )
    }

    /// The writer of a single-file CSV entity.
    pub(crate) fn csv_writer(
        &self,
        entity: Entity,
    ) -> Result<EntityWriter<CsvSink>, GenerateError> {
        let sink = CsvSink::create(self.path(&file_name(entity)), header(entity))?;
        Ok(EntityWriter::new(entity, sink, self.planter(entity)?))
    }

    /// The writer of a JSON Lines entity.
    pub(crate) fn jsonl_writer(
        &self,
        entity: Entity,
    ) -> Result<EntityWriter<JsonlSink>, GenerateError> {
        let sink = JsonlSink::create(self.path(&file_name(entity)), entity.spec().columns)?;
        Ok(EntityWriter::new(entity, sink, self.planter(entity)?))
    }
}

/// The file of a single-file extract: the contract's file pattern without its `*`
/// (`clients*.csv` gives `clients.csv`, `satisfaction*.jsonl` gives `satisfaction.jsonl`).
fn file_name(entity: Entity) -> String {
    entity.spec().file_pattern.replace('*', "")
}
