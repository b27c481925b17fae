//! The pipeline's configuration file: the ingestion mapping (`raw`, `[sources]`,
//! `[entities]`, see [`ingestion::IngestConfig`]) and the model's settings in the same
//! TOML file: `[fraud]` ([`FraudRules`]), `[revenue]` ([`RevenueRules`]) and `[fx]`
//! ([`FxConfig`]). Every table is optional; what is absent takes the contract's
//! defaults. Unknown keys are errors, so a typo never passes silently.

use std::path::Path;

use ingestion::{IngestConfig, IngestError};
use serde::Deserialize;
use transformation::fraud::FraudRules;
use transformation::fx::FxConfig;
use transformation::revenue::RevenueRules;

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

/// The tables of the file that belong to the model rather than to ingestion.
const MODEL_TABLES: [&str; 3] = ["fraud", "revenue", "fx"];

/// A whole configuration file.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// How the extracts map onto the contract.
    pub ingest: IngestConfig,
    /// The model's settings.
    pub model: ModelConfig,
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
        let (ingest, model) = split(&text).map_err(error)?;
        let mut ingest = IngestConfig::from_toml(&ingest).map_err(error)?;
        if let (Some(raw), Some(dir)) = (&ingest.raw, path.parent()) {
            ingest.raw = Some(dir.join(raw));
        }
        let model: ModelConfig = model.try_into().map_err(|e| error(e.to_string()))?;
        let problems: Vec<String> = [
            model.fraud.problems(),
            model.revenue.problems(),
            model.fx.problems(),
        ]
        .concat();
        if !problems.is_empty() {
            return Err(error(problems.join("; ")));
        }
        Ok(PipelineConfig { ingest, model })
    }
}

/// Splits the file into the ingestion part (as TOML text) and the model's tables.
fn split(text: &str) -> Result<(String, toml::Table), String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut model = toml::Table::new();
    for name in MODEL_TABLES {
        if let Some(value) = table.remove(name) {
            model.insert(name.to_owned(), value);
        }
    }
    let ingest = toml::to_string(&table).map_err(|e| e.to_string())?;
    Ok((ingest, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("bankpipe.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn model_tables_sit_beside_the_mapping() {
        let (dir, path) = write(
            "raw = \"extracts\"\n\
             [entities.clients]\nfiles = [\"people.csv\"]\n\
             [fraud.velocity]\nmin_count = 4\n\
             [revenue]\nlate_fee_eur = 20.0\n\
             [fx]\nfixed_per_eur = { CZK = 25.0 }\n",
        );
        let config = PipelineConfig::from_file(&path).expect("configuration");
        assert_eq!(config.ingest.raw, Some(dir.path().join("extracts")));
        assert!(config.ingest.entities.contains_key("clients"));
        assert_eq!(config.model.fraud.velocity.min_count, 4);
        assert_eq!(config.model.revenue.late_fee_eur, 20.0);
        assert_eq!(config.model.fx.fixed_per_eur.get("CZK"), Some(&25.0));
    }

    #[test]
    fn a_typo_in_a_model_table_is_an_error_naming_it() {
        let (_dir, path) = write("[fraud.velocity]\nmin_cuont = 4\n");
        let message = PipelineConfig::from_file(&path)
            .expect_err("typo")
            .to_string();
        assert!(message.contains("min_cuont"), "{message}");
    }

    #[test]
    fn nonsense_thresholds_are_errors() {
        let (_dir, path) = write("[revenue]\nfx_fee_rate = 2.0\n");
        let message = PipelineConfig::from_file(&path)
            .expect_err("bad rate")
            .to_string();
        assert!(message.contains("fx_fee_rate"), "{message}");
    }
}
