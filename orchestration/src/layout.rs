//! Where each layer lives: the data folder (default `data/`) holds the raw extracts,
//! the reports, bankpipe's own state and the run store; the Delta tables of the lake
//! (processed, quarantine, warehouse, metrics) live under it too, unless the
//! configuration puts the lake elsewhere (`[lake] location = "s3://…"`, see
//! [`DataLayout::with_lake`]).

use std::path::{Path, PathBuf};

use contract::Entity;
use storage::delta::TableLocation;

/// The places of the lake under one data folder, or under a lake location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
    lake: Option<TableLocation>,
}

impl DataLayout {
    /// The layout under `root`, Delta tables included.
    pub fn new(root: &Path) -> DataLayout {
        DataLayout {
            root: root.to_owned(),
            lake: None,
        }
    }

    /// The same layout with its Delta tables under `lake` (a bucket's prefix, another
    /// folder) instead of the data folder, which keeps the rest.
    pub fn with_lake(self, lake: TableLocation) -> DataLayout {
        DataLayout {
            lake: Some(lake),
            ..self
        }
    }

    /// The data folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The root of the Delta tables: the lake's location, else the data folder
    /// (created if missing).
    pub fn lake(&self) -> storage::Result<TableLocation> {
        match &self.lake {
            Some(lake) => Ok(lake.clone()),
            None => TableLocation::local(&self.root),
        }
    }

    /// The configured lake location, when the Delta tables are not under the data
    /// folder.
    pub fn lake_elsewhere(&self) -> Option<&TableLocation> {
        self.lake.as_ref()
    }

    /// The raw extracts, by default: `<root>/raw`.
    pub fn raw(&self) -> PathBuf {
        self.root.join("raw")
    }

    /// The processed table of an entity: `processed/<entity>`.
    pub fn processed(&self, entity: Entity) -> TablePlace {
        self.place(format!("processed/{}", entity.name()))
    }

    /// The quarantine table of an entity: `quarantine/<entity>`.
    pub fn quarantine(&self, entity: Entity) -> TablePlace {
        self.place(format!("quarantine/{}", entity.name()))
    }

    /// A table of the warehouse: `transformed/<table>`, or
    /// `transformed/marts/<table>` for a mart (`mart_…`).
    pub fn transformed(&self, table: &str) -> TablePlace {
        self.place(if table.starts_with("mart_") {
            format!("transformed/marts/{table}")
        } else {
            format!("transformed/{table}")
        })
    }

    /// The metrics history of the quality checks: `monitoring/metrics`.
    pub fn metrics(&self) -> TablePlace {
        self.place("monitoring/metrics".to_owned())
    }

    /// The monitoring folder: `<root>/monitoring` (the quality reports in `reports`,
    /// the alerts' state and log).
    pub fn monitoring(&self) -> PathBuf {
        self.root.join("monitoring")
    }

    /// Private state of bankpipe's own (such as the generated hash key): `<root>/.bankpipe`.
    pub fn state(&self) -> PathBuf {
        self.root.join(".bankpipe")
    }

    fn place(&self, relative: String) -> TablePlace {
        TablePlace {
            folder: self.root.join(&relative),
            lake: self.lake.clone(),
            relative,
        }
    }
}

/// Where one Delta table of the lake is: a folder under the data folder, or a place
/// under the lake's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlace {
    relative: String,
    folder: PathBuf,
    lake: Option<TableLocation>,
}

impl TablePlace {
    /// Its path under the lake's root (`processed/accounts`).
    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// Its folder when the lake is the data folder; `None` when it is elsewhere.
    pub fn folder(&self) -> Option<&Path> {
        self.lake.is_none().then_some(self.folder.as_path())
    }

    /// Its location, for `storage::delta` (a local folder is created if missing).
    pub fn location(&self) -> storage::Result<TableLocation> {
        match &self.lake {
            Some(lake) => lake.join(&self.relative),
            None => TableLocation::local(&self.folder),
        }
    }

    /// Whether a table may be there: false only for a local folder without a Delta log
    /// (so that looking creates nothing); a place in a remote lake may hold one.
    pub fn may_exist(&self) -> bool {
        self.folder()
            .is_none_or(|folder| folder.join("_delta_log").is_dir())
    }
}

impl std::fmt::Display for TablePlace {
    /// The folder, or the URL under the lake's location.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.lake {
            None => write!(f, "{}", self.folder.display()),
            Some(lake) => write!(
                f,
                "{}/{}",
                lake.url().as_str().trim_end_matches('/'),
                self.relative
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_named_by_its_folder_or_by_its_url_under_the_lake() {
        let local = DataLayout::new(Path::new("data"));
        let place = local.transformed("mart_fraud_daily");
        assert_eq!(place.relative(), "transformed/marts/mart_fraud_daily");
        assert_eq!(
            place.to_string(),
            Path::new("data/transformed/marts/mart_fraud_daily")
                .display()
                .to_string()
        );
        let options = [("aws_region", "eu-west-3")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let lake = TableLocation::parse_with_options("s3://bank-lake/prod", options)
            .expect("an S3 location");
        let remote = DataLayout::new(Path::new("data")).with_lake(lake);
        let place = remote.processed(Entity::Clients);
        assert_eq!(place.folder(), None);
        assert!(place.may_exist());
        assert_eq!(place.to_string(), "s3://bank-lake/prod/processed/clients");
    }
}
