//! The pipeline's configuration file: the ingestion mapping (`raw`, `[sources]`,
//! `[entities]`, see [`ingestion::IngestConfig`]) and, in the same TOML file, the
//! model's settings under `[model]`: `[model.fraud]` ([`FraudRules`]),
//! `[model.revenue]` ([`RevenueRules`]) and `[model.fx]` ([`FxConfig`]), and the
//! data-quality checks under `[quality]` ([`QualityConfig`]), and the PostgreSQL sink
//! under `[postgres]` ([`PostgresSink`], off by default), where the Delta tables live
//! under `[lake]` ([`LakeConfig`], the data folder by default), and the deployments of the
//! pipeline's flow under `[[deployments]]` ([`Deployment`]: schedules), and the run
//! store's place and retention under `[runs]` ([`RunsConfig`]). Every table is optional;
//! what is absent takes the contract's defaults. Unknown keys are errors, so a typo
//! never passes silently.

use std::collections::BTreeMap;
use std::path::Path;

use ingestion::{IngestConfig, IngestError};
use monitoring::checks::QualityConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use storage::delta::TableLocation;
use transformation::fraud::FraudRules;
use transformation::fx::FxConfig;
use transformation::revenue::RevenueRules;

use crate::layout::DataLayout;
use crate::runtime::StoreLocation;
use crate::runtime::store::FILE_NAME as STORE_FILE;
use crate::schedule::{Deployment, validate};

/// The model's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The fraud rules and thresholds.
    pub fraud: FraudRules,
    /// The revenue rules.
    pub revenue: RevenueRules,
    /// FX settings.
    pub fx: FxConfig,
}

/// The PostgreSQL sink: when enabled, `bankpipe run` loads the warehouse into
/// PostgreSQL after the quality checks pass (an error-level failure stops it first).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSink {
    /// Whether `run` loads PostgreSQL.
    pub enabled: bool,
    /// The server (`postgres://user@host:port/database`); `DATABASE_URL` when absent,
    /// which keeps passwords out of the file.
    pub url: Option<String>,
    /// The schema of the warehouse's tables.
    pub schema: String,
}

impl Default for PostgresSink {
    fn default() -> Self {
        PostgresSink {
            enabled: false,
            url: None,
            schema: crate::publish::DEFAULT_SCHEMA.to_owned(),
        }
    }
}

impl PostgresSink {
    /// The configured URL, else `DATABASE_URL`.
    pub fn url(&self) -> Option<String> {
        url_or_environment(self.url.as_ref())
    }
}

/// The run store's settings (`[runs]`): where runs are kept, and for how long.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunsConfig {
    /// Runs (with their task runs and logs) older than this many days are deleted
    /// after each run and daily by `serve`.
    pub retention_days: u32,
    /// Where runs are kept.
    pub store: RunStoreKind,
    /// The PostgreSQL server of a `postgres` store (`postgres://user@host:port/db`);
    /// `DATABASE_URL` when absent, which keeps passwords out of the file.
    pub url: Option<String>,
    /// The schema of a `postgres` store's tables.
    pub schema: String,
}

/// Where the run store is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStoreKind {
    /// An SQLite file in the data folder (`<data>/runs.sqlite`): nothing to install.
    #[default]
    Sqlite,
    /// A schema of a PostgreSQL database: shared by several hosts, backed up with the
    /// rest of the bank's databases.
    Postgres,
}

/// The default schema of a PostgreSQL run store.
pub const DEFAULT_RUNS_SCHEMA: &str = "bankpipe_runs";

impl Default for RunsConfig {
    fn default() -> Self {
        RunsConfig {
            retention_days: 90,
            store: RunStoreKind::Sqlite,
            url: None,
            schema: DEFAULT_RUNS_SCHEMA.to_owned(),
        }
    }
}

impl RunsConfig {
    /// The retention as a duration.
    pub fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }

    /// Where the run store of data folder `data` is; an error for a `postgres` store
    /// without a URL (neither `url` nor `DATABASE_URL`).
    pub fn location(&self, data: &Path) -> Result<StoreLocation, String> {
        match self.store {
            RunStoreKind::Sqlite => Ok(StoreLocation::Sqlite(data.join(STORE_FILE))),
            RunStoreKind::Postgres => {
                let url = url_or_environment(self.url.as_ref()).ok_or(
                    "[runs] store = \"postgres\" needs a server: set `url` under [runs] \
                         or DATABASE_URL",
                )?;
                Ok(StoreLocation::Postgres {
                    url,
                    schema: self.schema.clone(),
                })
            }
        }
    }
}

/// `url`, else `DATABASE_URL` (an empty one counts as none).
pub fn url_or_environment(url: Option<&String>) -> Option<String> {
    url.cloned()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|url| !url.is_empty())
}

/// Where the lake's Delta tables live (`[lake]`): under the data folder by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// A folder (relative to the configuration file) or a URL: `s3://bucket/prefix`,
    /// `az://container/prefix`, `gs://bucket/prefix` (see
    /// [`TableLocation::parse`](storage::delta::TableLocation::parse) for the
    /// environment variables that set their credentials).
    pub location: Option<String>,
    /// Settings of the location's object store beyond the environment's, by
    /// object_store's keys (`aws_endpoint`, `aws_region`, `azure_storage_account_name`
    /// …); credentials belong in the environment, not in the file.
    pub options: BTreeMap<String, String>,
}

/// A whole configuration file.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// How the extracts map onto the contract.
    pub ingest: IngestConfig,
    /// The model's settings.
    pub model: ModelConfig,
    /// The data-quality checks.
    pub quality: QualityConfig,
    /// The PostgreSQL sink.
    pub postgres: PostgresSink,
    /// The flow's deployments: schedules and their parameters (`[[deployments]]`).
    pub deployments: Vec<Deployment>,
    /// The run store's retention.
    pub runs: RunsConfig,
    /// Where the Delta tables live.
    pub lake: LakeConfig,
}

impl PipelineConfig {
    /// Reads a configuration file; a relative `raw` is resolved against its folder.
    pub fn from_file(path: &Path) -> Result<PipelineConfig, IngestError> {
        let error = |message: String| IngestError::Config {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut tables: toml::Table = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        let model: ModelConfig = section(&mut tables, "model").map_err(error)?;
        let quality: QualityConfig = section(&mut tables, "quality").map_err(error)?;
        let postgres: PostgresSink = section(&mut tables, "postgres").map_err(error)?;
        let deployments: Vec<Deployment> = section(&mut tables, "deployments").map_err(error)?;
        let runs: RunsConfig = section(&mut tables, "runs").map_err(error)?;
        let mut lake: LakeConfig = section(&mut tables, "lake").map_err(error)?;
        if let Some(location) = &mut lake.location
            && !location.contains("://")
            && let Some(folder) = path.parent()
        {
            *location = folder.join(&*location).display().to_string();
        }
        if let Err(invalid) = validate(&deployments) {
            return Err(error(invalid.to_string()));
        }
        let ingest = IngestConfig::from_table(tables)
            .map_err(error)?
            .relative_to(path);
        let problems: Vec<String> = [
            model.fraud.problems(),
            model.revenue.problems(),
            model.fx.problems(),
        ]
        .concat();
        if !problems.is_empty() {
            return Err(error(problems.join("; ")));
        }
        Ok(PipelineConfig {
            ingest,
            model,
            quality,
            postgres,
            deployments,
            runs,
            lake,
        })
    }

    /// The configuration file at `path`, or the defaults without one.
    pub fn read(path: Option<&Path>) -> Result<PipelineConfig, IngestError> {
        match path {
            Some(path) => PipelineConfig::from_file(path),
            None => Ok(PipelineConfig::default()),
        }
    }

    /// The layout of data folder `data` with this configuration's lake: an error when
    /// the lake's location is not one (an unknown scheme, a malformed setting).
    pub fn layout(&self, data: &Path) -> Result<DataLayout, storage::StorageError> {
        let layout = DataLayout::new(data);
        match &self.lake.location {
            None => Ok(layout),
            Some(location) => Ok(layout.with_lake(TableLocation::parse_with_options(
                location,
                self.lake.options.clone(),
            )?)),
        }
    }
}

/// Takes the table (or array of tables) `name` out of `tables`, as a `T`; `T`'s
/// default when it is absent.
fn section<T: DeserializeOwned + Default>(
    tables: &mut toml::Table,
    name: &str,
) -> Result<T, String> {
    match tables.remove(name) {
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| format!("[{name}]: {e}")),
        None => Ok(T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_and_the_run_retention_are_read_and_checked() {
        let (_dir, path) = write(
            "[runs]\nretention_days = 30\n\n[[deployments]]\nname = \"bank-daily\"\n\
             cron = \"0 8 * * *\"\n",
        );
        let config = PipelineConfig::from_file(&path).expect("config");
        assert_eq!(config.runs.retention_days, 30);
        assert_eq!(
            config.runs.location(Path::new("data")),
            Ok(StoreLocation::Sqlite(Path::new("data").join("runs.sqlite")))
        );
        assert_eq!(config.deployments.len(), 1);
        assert_eq!(config.deployments[0].timezone, "Europe/Paris");
        let (_dir, path) = write("[[deployments]]\nname = \"x\"\ncron = \"61 8 * * *\"\n");
        let message = PipelineConfig::from_file(&path)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("cron"), "{message}");
    }

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bankpipe.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn a_postgres_run_store_is_read_with_its_schema() {
        let (_dir, path) = write(
            "[runs]\nstore = \"postgres\"\nurl = \"postgres://ops@db:5432/bank\"\n\
             schema = \"ops_runs\"\n",
        );
        let config = PipelineConfig::from_file(&path).expect("config");
        assert_eq!(
            config.runs.location(Path::new("data")),
            Ok(StoreLocation::Postgres {
                url: "postgres://ops@db:5432/bank".to_owned(),
                schema: "ops_runs".to_owned(),
            })
        );
        let (_dir, path) = write("[runs]\nstore = \"mysql\"\n");
        let message = PipelineConfig::from_file(&path)
            .expect_err("unknown store")
            .to_string();
        assert!(message.contains("mysql"), "{message}");
    }

    #[test]
    fn model_tables_sit_beside_the_mapping() {
        let (dir, path) = write(
            "raw = \"extracts\"\n\
             [entities.clients]\nfiles = [\"people.csv\"]\n\
             [model.fraud.velocity]\nmin_count = 4\n\
             [model.revenue]\nlate_fee_eur = 20.0\n\
             [model.fx]\nfixed_per_eur = { CZK = 25.0 }\n\
             [[quality.checks]]\nid = \"arrive\"\ntable = \"transactions\"\nseverity = \"error\"\nvolume = { min = 1 }\n\
             [postgres]\nenabled = true\nschema = \"dw\"\n\
             [quality]\non_error = \"warn\"\n",
        );
        let config = PipelineConfig::from_file(&path).expect("configuration");
        assert_eq!(config.ingest.raw, Some(dir.path().join("extracts")));
        assert!(config.ingest.entities.contains_key("clients"));
        assert_eq!(config.model.fraud.velocity.min_count, 4);
        assert_eq!(config.model.revenue.late_fee_eur, 20.0);
        assert_eq!(config.model.fx.fixed_per_eur.get("CZK"), Some(&25.0));
        assert_eq!(config.quality.checks[0].id, "arrive");
        assert!(config.postgres.enabled && config.postgres.schema == "dw");
        assert_eq!(config.quality.on_error, monitoring::checks::OnError::Warn);
        assert!(
            !PipelineConfig::default().postgres.enabled,
            "off by default"
        );
    }

    #[test]
    fn a_typo_in_a_model_table_is_an_error_naming_it() {
        let (_dir, path) = write("[model.fraud.velocity]\nmin_cuont = 4\n");
        let message = PipelineConfig::from_file(&path)
            .expect_err("typo")
            .to_string();
        assert!(message.contains("min_cuont"), "{message}");
    }

    #[test]
    fn nonsense_thresholds_are_errors() {
        let (_dir, path) = write("[model.revenue]\nfx_fee_rate = 2.0\n");
        let message = PipelineConfig::from_file(&path)
            .expect_err("bad rate")
            .to_string();
        assert!(message.contains("fx_fee_rate"), "{message}");
    }
}
