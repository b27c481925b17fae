//! The ingestion of one run: every entity, parents first, from source to typed,
//! validated batches and quarantined rows.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, new_null_array};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use contract::{Entity, EntitySpec, RuleId, schema::processed_schema};

use crate::config::{EntityConfig, IngestConfig};
use crate::error::{IngestError, Result};
use transformation::validation::Validator;

use crate::cleaning::Cleaning;
use crate::keys::{Holder, Key, KeySet, key_of, values_hashes};
use crate::mapping::Mapper;
use crate::parse::ValueFormat;
use crate::quarantine::{Quarantine, RejectedBy, Rejection};
use crate::source::{BATCH_ROWS, FileSet, QuerySource, ReadAhead, RowSource, TextBatch};
use crate::typing::{Broken, Failures, check_rows, type_column};

/// What an entity's ingestion yields, batch by batch.
#[derive(Debug, Clone)]
pub enum Output {
    /// Typed, validated rows for the processed layer (schema: [`EntityRun::schema`]).
    Accepted(RecordBatch),
    /// Rejected rows for the quarantine layer (schema: `contract::schema::quarantine_schema`).
    Quarantined(RecordBatch),
}

/// The counts of one entity's ingestion.
#[derive(Debug, Clone, PartialEq)]
pub struct EntitySummary {
    /// The entity.
    pub entity: Entity,
    /// The files read (or `query:<entity>`).
    pub files: Vec<String>,
    /// Records read: every data row of every file, whatever became of it.
    pub raw_rows: u64,
    /// Rows written to the processed layer.
    pub accepted: u64,
    /// Rows quarantined under the contract's rules (and `superseded`), by rule.
    pub quarantined: BTreeMap<RuleId, u64>,
    /// Rows quarantined under the entity's configured rules, by rule id.
    pub rejected_by_rules: BTreeMap<String, u64>,
    /// Rows kept that broke a configured `warn` rule, by rule id.
    pub warnings: BTreeMap<String, u64>,
    /// Values cleaned on the way in, per column and action.
    pub cleaned: Cleaning,
    /// References not checked because their parent entity had no source this run.
    pub unchecked_references: Vec<String>,
}

impl EntitySummary {
    /// All quarantined rows.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum::<u64>() + self.rejected_by_rules.values().sum::<u64>()
    }

    /// Rows quarantined as duplicates.
    pub fn duplicates(&self) -> u64 {
        self.quarantined
            .get(&RuleId::Duplicate)
            .copied()
            .unwrap_or(0)
    }
}

/// Ingests the entities of one raw folder, parents before children, so that
/// references can be checked against the rows accepted before.
///
/// ```no_run
/// use ingestion::{IngestConfig, Ingestor, Output};
///
/// let mut ingestor = Ingestor::new(IngestConfig::default(), "data/raw".as_ref(), "run-1");
/// for entity in contract::Entity::ALL {
///     let Some(mut run) = ingestor.open(entity)? else { continue };
///     for output in &mut run {
///         match output? {
///             Output::Accepted(batch) => println!("{entity}: {} rows", batch.num_rows()),
///             Output::Quarantined(batch) => println!("{entity}: {} rejected", batch.num_rows()),
///         }
///     }
///     let summary = ingestor.finish(run)?;
///     assert_eq!(summary.raw_rows, summary.accepted + summary.quarantined_total());
/// }
/// # Ok::<(), ingestion::IngestError>(())
/// ```
#[derive(Debug)]
pub struct Ingestor {
    config: IngestConfig,
    raw: PathBuf,
    run_id: String,
    accepted_keys: BTreeMap<Entity, Arc<KeySet>>,
}

impl Ingestor {
    /// An ingestor reading `raw` (the folder that relative file patterns start from).
    pub fn new(config: IngestConfig, raw: &Path, run_id: &str) -> Ingestor {
        Ingestor {
            config,
            raw: raw.to_owned(),
            run_id: run_id.to_owned(),
            accepted_keys: BTreeMap::new(),
        }
    }

    /// Starts `entity`'s ingestion; `None` when it has no source in this run.
    ///
    /// Reads the first batch, so that the processed schema (which carries the
    /// source's extra columns) is known before any row is written.
    pub fn open(&self, entity: Entity) -> Result<Option<EntityRun>> {
        let default = contract_files();
        let config = self.entity_config(entity, &default);
        let spec = entity.spec();
        let mut quarantine = Quarantine::new(entity.name(), &self.run_id);
        let (source, files): (Box<dyn RowSource>, Vec<String>) = match &config.query {
            Some(sql) => {
                let sources = self.query_sources(sql)?;
                let query = QuerySource::start(entity.name(), sql, sources, &mut quarantine)?;
                (Box::new(query), vec![format!("query:{entity}")])
            }
            None => {
                let files = self.entity_files(entity, config)?;
                if files.files().is_empty() {
                    return Ok(None);
                }
                let names = files
                    .files()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                let files = ReadAhead::start(Box::new(files), entity.name(), &self.run_id)?;
                (Box::new(files), names)
            }
        };
        let references = spec
            .references
            .iter()
            .map(|r| {
                let index = spec
                    .columns
                    .iter()
                    .position(|c| c.name == r.column)
                    .unwrap_or_default();
                (
                    index,
                    r.column,
                    r.parent,
                    self.accepted_keys.get(&r.parent).cloned(),
                )
            })
            .collect();
        let deliveries = files.len();
        let mut run = EntityRun {
            spec,
            source,
            mapper: Mapper::new(spec, &config.columns, config.keep_extra_columns),
            format: config.options.value_format(),
            quarantine,
            schema: processed_schema(spec, &[]),
            unfiltered: Arc::new(Schema::empty()),
            outputs: VecDeque::new(),
            first: None,
            seen: KeySet::default(),
            orphaned: Vec::new(),
            references,
            accepted: 0,
            files,
            finished: false,
            validator: None,
            warnings: BTreeMap::new(),
            cleaning: Cleaning::default(),
            several_deliveries: deliveries > 1,
            delivery: 0,
            current_file: None,
        };
        run.first = run.source.next_batch(&mut run.quarantine)?;
        if let Some(first) = &run.first {
            run.mapper.map(&first.values)?;
        }
        run.schema = processed_schema(spec, run.mapper.extra_columns());
        run.unfiltered = Arc::new(nullable(&run.schema));
        if !config.rules.is_empty() {
            let validator =
                Validator::compile(config.rules.clone(), &run.unfiltered).map_err(|source| {
                    IngestError::Rule {
                        entity: entity.name().into(),
                        source,
                    }
                })?;
            run.validator = Some(validator);
        }
        Ok(Some(run))
    }

    /// The files `entity` reads in this run (for a query, the files of the sources
    /// it names); `None` when it has no source: [`open`](Self::open) would find
    /// nothing to read.
    pub fn inputs(&self, entity: Entity) -> Result<Option<Vec<PathBuf>>> {
        let default = contract_files();
        let config = self.entity_config(entity, &default);
        let files: Vec<PathBuf> = match &config.query {
            Some(sql) => self
                .query_sources(sql)?
                .iter()
                .flat_map(|(_, files)| files.files().iter().cloned())
                .collect(),
            None => {
                let files = self.entity_files(entity, config)?;
                if files.files().is_empty() {
                    return Ok(None);
                }
                files.files().to_vec()
            }
        };
        Ok(Some(files))
    }

    /// Checks `entity`'s references to `parent` against `keys` (the keys of the
    /// parent's accepted rows), for a parent not ingested by this ingestor: one
    /// ingested by another in the same run, or earlier and read back from its
    /// processed table ([`KeySet::extend_from_batch`]).
    pub fn set_parent_keys(&mut self, parent: Entity, keys: Arc<KeySet>) {
        self.accepted_keys.insert(parent, keys);
    }

    /// The keys of `entity`'s accepted rows, kept by [`finish`](Self::finish) when
    /// other entities refer to it (or given by [`set_parent_keys`](Self::set_parent_keys)).
    pub fn accepted_keys(&self, entity: Entity) -> Option<Arc<KeySet>> {
        self.accepted_keys.get(&entity).cloned()
    }

    /// `entity`'s configuration, else `default`.
    fn entity_config<'a>(&'a self, entity: Entity, default: &'a EntityConfig) -> &'a EntityConfig {
        self.config.entities.get(entity.name()).unwrap_or(default)
    }

    /// The named sources that `sql` reads.
    fn query_sources(&self, sql: &str) -> Result<Vec<(String, FileSet)>> {
        let words: Vec<&str> = sql
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        self.config
            .sources
            .iter()
            .filter(|(name, _)| words.contains(&name.as_str()))
            .map(|(name, source)| {
                let files = FileSet::new(
                    &self.raw,
                    &source.files,
                    source.format,
                    source.options.clone(),
                )?;
                Ok((name.clone(), files))
            })
            .collect()
    }

    /// The files of an entity fed by files (the contract's pattern by default).
    fn entity_files(&self, entity: Entity, config: &EntityConfig) -> Result<FileSet> {
        let patterns = config
            .files
            .clone()
            .unwrap_or_else(|| vec![entity.spec().file_pattern.to_owned()]);
        FileSet::new(&self.raw, &patterns, config.format, config.options.clone())
    }

    /// Ends `run`: checks conservation, keeps its accepted keys for the entities
    /// that refer to it, and returns its counts.
    pub fn finish(&mut self, run: EntityRun) -> Result<EntitySummary> {
        let entity = run.spec.entity;
        let summary = EntitySummary {
            entity,
            files: run.files,
            raw_rows: run.source.records_read(),
            accepted: run.accepted,
            quarantined: run.quarantine.counts().clone(),
            rejected_by_rules: run.quarantine.configured_counts().clone(),
            warnings: run.warnings,
            cleaned: run.cleaning,
            unchecked_references: run
                .references
                .iter()
                .filter(|(.., keys)| keys.is_none())
                .map(|(_, column, parent, _)| format!("{column} → {parent}"))
                .collect(),
        };
        if summary.raw_rows != summary.accepted + summary.quarantined_total() {
            return Err(IngestError::Conservation {
                entity: entity.name().into(),
                raw: summary.raw_rows,
                accepted: summary.accepted,
                quarantined: summary.quarantined_total(),
            });
        }
        if !entity.children().is_empty() {
            let mut keys = run.seen;
            run.orphaned.iter().for_each(|k| keys.remove(*k));
            self.accepted_keys.insert(entity, Arc::new(keys));
        }
        Ok(summary)
    }
}

/// The configuration of an entity the configuration does not name: the contract's
/// files, their extra columns kept.
fn contract_files() -> EntityConfig {
    EntityConfig {
        keep_extra_columns: true,
        ..EntityConfig::default()
    }
}

/// One entity's ingestion under way: an iterator of [`Output`]s.
pub struct EntityRun {
    spec: &'static EntitySpec,
    source: Box<dyn RowSource>,
    mapper: Mapper,
    format: ValueFormat,
    quarantine: Quarantine,
    schema: SchemaRef,
    /// The schema with every field nullable: a batch's shape before its failing rows
    /// are filtered out (and what configured rules judge).
    unfiltered: SchemaRef,
    outputs: VecDeque<Output>,
    first: Option<TextBatch>,
    seen: KeySet,
    orphaned: Vec<Key>,
    references: Vec<(usize, &'static str, Entity, Option<Arc<KeySet>>)>,
    accepted: u64,
    files: Vec<String>,
    finished: bool,
    validator: Option<Validator>,
    warnings: BTreeMap<String, u64>,
    cleaning: Cleaning,
    /// Whether the entity comes in more than one file (delivery).
    several_deliveries: bool,
    /// The ordinal of the file being read, in reading order (newest first).
    delivery: u16,
    current_file: Option<Arc<str>>,
}

impl EntityRun {
    /// The schema of the accepted batches: the processed layer's schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The entity.
    pub fn entity(&self) -> Entity {
        self.spec.entity
    }

    fn next_output(&mut self) -> Result<Option<Output>> {
        while self.outputs.is_empty() && !self.finished {
            let batch = match self.first.take() {
                Some(first) => Some(first),
                None => self.source.next_batch(&mut self.quarantine)?,
            };
            match batch {
                Some(batch) => {
                    let accepted = self.process(&batch)?;
                    if accepted.num_rows() > 0 {
                        self.outputs.push_back(Output::Accepted(accepted));
                    }
                }
                None => self.finished = true,
            }
            if (self.quarantine.pending() >= BATCH_ROWS || self.finished)
                && let Some(batch) = self.quarantine.take_batch()?
            {
                self.outputs.push_back(Output::Quarantined(batch));
            }
        }
        Ok(self.outputs.pop_front())
    }

    /// Types and validates one batch: failing rows go to the quarantine, the
    /// others come back as a processed batch.
    fn process(&mut self, batch: &TextBatch) -> Result<RecordBatch> {
        let rows = batch.values.num_rows();
        if self.current_file.as_ref() != Some(&batch.file) {
            if self.current_file.is_some() {
                self.delivery = self.delivery.saturating_add(1);
            }
            self.current_file = Some(batch.file.clone());
        }
        let mapped = self.mapper.map(&batch.values)?;
        let mut failures = Failures::new(rows);
        let typed: Vec<ArrayRef> = self
            .spec
            .columns
            .iter()
            .zip(&mapped.contract)
            .map(|(column, text)| {
                type_column(
                    column,
                    text.as_ref(),
                    rows,
                    &self.format,
                    &mut failures,
                    &mut self.cleaning,
                )
            })
            .collect();
        check_rows(self.spec, &mapped.contract, &typed, &mut failures);

        let mut columns = typed.clone();
        columns.extend(
            mapped
                .extras
                .into_iter()
                .map(|e| e.unwrap_or_else(|| new_null_array(&DataType::Utf8, rows))),
        );
        columns.push(Arc::new(StringArray::from(vec![batch.file.as_ref(); rows])));
        columns.push(Arc::new(batch.lines.clone()));
        let all = RecordBatch::try_new(self.unfiltered.clone(), columns)?;
        self.check_configured(&all, &mut failures)?;
        self.check_keys(&typed, &mut failures);

        let keep: BooleanArray = (0..rows).map(|row| Some(failures.passes(row))).collect();
        let rules = self.validator.as_ref().map(Validator::rules);
        for row in (0..rows).filter(|&row| !failures.passes(row)) {
            let Some(failure) = failures.get(row) else {
                continue;
            };
            let (rule, column, reason) = match failure.rule {
                Broken::Contract(rule) => (
                    RejectedBy::Contract(rule),
                    failure.column,
                    failure.reason.clone(),
                ),
                Broken::Configured(index) => {
                    let Some(rule) = rules.and_then(|r| r.get(index)) else {
                        continue;
                    };
                    (
                        RejectedBy::Configured(&rule.id),
                        rule.check.column(),
                        rule.reason(),
                    )
                }
            };
            self.quarantine.push(Rejection {
                file: &batch.file,
                line: batch.lines.is_valid(row).then(|| batch.lines.value(row)),
                raw: batch.raw.value(row),
                rule,
                column,
                reason: &reason,
            });
        }
        let accepted = filter_record_batch(&all, &keep)?;
        self.accepted += accepted.num_rows() as u64;
        Ok(RecordBatch::try_new(
            self.schema.clone(),
            accepted.columns().to_vec(),
        )?)
    }

    /// The configured rules, on the rows that passed the contract's value rules.
    fn check_configured(&mut self, all: &RecordBatch, failures: &mut Failures) -> Result<()> {
        let Some(validator) = &mut self.validator else {
            return Ok(());
        };
        let eligible: Vec<bool> = (0..all.num_rows()).map(|r| failures.passes(r)).collect();
        let verdict = validator
            .judge(all, &eligible)
            .map_err(|source| IngestError::Rule {
                entity: self.spec.entity.name().into(),
                source,
            })?;
        for (rule, broken) in validator.rules().iter().zip(&verdict.broken) {
            if *broken > 0 && rule.severity == transformation::validation::Severity::Warn {
                *self.warnings.entry(rule.id.clone()).or_default() += broken;
            }
        }
        for (row, rejected) in verdict.rejected_by.iter().enumerate() {
            if let Some(index) = rejected {
                failures.record_configured(row, *index);
            }
        }
        Ok(())
    }

    /// `duplicate`, `superseded` then `orphan_reference`, for the rows that passed
    /// every other rule.
    ///
    /// Files are read newest first, so the first row met with a key is the one kept:
    /// within one file the first row wins (the contract's rule); a row of an older
    /// file whose key a newer file holds is a `duplicate` when its values are the
    /// same (a delivery made twice) and `superseded` when they differ (a re-delivered
    /// row, such as a transaction whose status changed).
    fn check_keys(&mut self, typed: &[ArrayRef], failures: &mut Failures) {
        let column = |name: &str| {
            self.spec
                .columns
                .iter()
                .position(|c| c.name == name)
                .map(|i| &typed[i])
        };
        let key_columns: Vec<&ArrayRef> = self.spec.key.iter().filter_map(|k| column(k)).collect();
        let key_name = self.spec.key.join(", ");
        let key_column = self.spec.key.first().copied();
        let rows = typed.first().map_or(0, |a| a.len());
        // One delivery: every repeat is a duplicate, no need to compare values.
        let contents = self.several_deliveries.then(|| values_hashes(typed, rows));
        for row in 0..rows {
            if !failures.passes(row) {
                continue;
            }
            let Some(key) = key_of(&key_columns, row) else {
                continue;
            };
            let content = contents.as_ref().map_or(0, |hashes| hashes[row]);
            let holder = Holder::new(self.delivery, content);
            if let Some(held) = self.seen.insert(key, holder) {
                let (rule, reason) = if held.delivery() == self.delivery {
                    (
                        RuleId::Duplicate,
                        format!("{key_name} repeats an earlier row's (the first one is kept)"),
                    )
                } else if held.same_values(holder) {
                    (
                        RuleId::Duplicate,
                        "the same row is in a later delivery (kept from there)".to_owned(),
                    )
                } else {
                    (
                        RuleId::Superseded,
                        format!(
                            "a later delivery has this {key_name} with other values (the latest delivery is kept)"
                        ),
                    )
                };
                failures.record(row, rule, key_column, || reason);
                continue;
            }
            for (index, name, parent, keys) in &self.references {
                let Some(keys) = keys else { continue };
                let Some(reference) = key_of(&[&typed[*index]], row) else {
                    continue;
                };
                if !keys.contains(reference) {
                    let value = typed[*index]
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .map(|a| a.value(row).to_owned());
                    failures.record(row, RuleId::OrphanReference, Some(name), || {
                        format!(
                            "{name} '{}' is not a known {parent} row",
                            value.unwrap_or_default()
                        )
                    });
                    self.orphaned.push(key);
                    break;
                }
            }
        }
    }
}

/// `schema` with every field nullable: the shape of a batch before its failing rows
/// are filtered out.
fn nullable(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    )
}

impl Iterator for EntityRun {
    type Item = Result<Output>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_output().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENTS: &str = "client_id,first_name,last_name,birth_date,gender,email,phone,city,country,segment,kyc_risk,joined_on,updated_at
C1,Ann,Lee,1980-01-02,F,,,Paris,FR,retail,low,2020-01-01,2024-01-01T00:00:00Z
";
    const ACCOUNTS: &str = "account_id,client_id,product_id,iban,currency,opened_on,closed_on,status,branch_code,updated_at
A1,C1,P1,,EUR,2020-01-01,,active,B01,2024-01-01T00:00:00Z
A2,C9,P1,,EUR,2020-01-01,,active,B01,2024-01-01T00:00:00Z
";

    /// Ingests `entity` with `ingestor` to its end; its summary.
    fn ingest(ingestor: &mut Ingestor, entity: Entity) -> EntitySummary {
        let mut run = ingestor.open(entity).expect("open").expect("a source");
        for output in &mut run {
            output.expect("a batch");
        }
        ingestor.finish(run).expect("conservation")
    }

    #[test]
    fn a_child_is_checked_against_parent_keys_from_another_ingestor() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("clients.csv"), CLIENTS).expect("clients");
        std::fs::write(dir.path().join("accounts.csv"), ACCOUNTS).expect("accounts");
        let config = IngestConfig::default();
        let mut parent = Ingestor::new(config.clone(), dir.path(), "run-1");
        assert_eq!(
            parent.inputs(Entity::Clients).expect("inputs"),
            Some(vec![dir.path().join("clients.csv")])
        );
        assert_eq!(parent.inputs(Entity::Loans).expect("inputs"), None);
        assert_eq!(ingest(&mut parent, Entity::Clients).accepted, 1);
        let keys = parent
            .accepted_keys(Entity::Clients)
            .expect("a parent's keys");
        assert_eq!(keys.len(), 1);

        // Another ingestor, as in another task: the keys handed over.
        let mut child = Ingestor::new(config, dir.path(), "run-1");
        child.set_parent_keys(Entity::Clients, keys);
        let accounts = ingest(&mut child, Entity::Accounts);
        assert_eq!(accounts.accepted, 1);
        assert_eq!(accounts.quarantined.get(&RuleId::OrphanReference), Some(&1));
        assert_eq!(
            accounts.unchecked_references,
            ["product_id → products"],
            "no keys of products: not checked"
        );
        assert!(child.accepted_keys(Entity::Accounts).is_some());
    }
}
