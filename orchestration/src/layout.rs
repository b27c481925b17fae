//! Where each layer lives under the data folder.

use std::path::{Path, PathBuf};

use contract::Entity;

/// The folders of the lake under one data folder (default `data/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    /// The layout under `root`.
    pub fn new(root: &Path) -> DataLayout {
        DataLayout {
            root: root.to_owned(),
        }
    }

    /// The data folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The raw extracts, by default: `<root>/raw`.
    pub fn raw(&self) -> PathBuf {
        self.root.join("raw")
    }

    /// The processed table of an entity: `<root>/processed/<entity>`.
    pub fn processed(&self, entity: Entity) -> PathBuf {
        self.root.join("processed").join(entity.name())
    }

    /// A table of the warehouse: `<root>/transformed/<table>`, or
    /// `<root>/transformed/marts/<table>` for a mart (`mart_…`).
    pub fn transformed(&self, table: &str) -> PathBuf {
        let transformed = self.root.join("transformed");
        if table.starts_with("mart_") {
            transformed.join("marts").join(table)
        } else {
            transformed.join(table)
        }
    }

    /// The monitoring layer: `<root>/monitoring` (the metrics history in
    /// `metrics`, the quality reports in `reports`).
    pub fn monitoring(&self) -> PathBuf {
        self.root.join("monitoring")
    }

    /// Private state of bankpipe's own (such as the generated hash key): `<root>/.bankpipe`.
    pub fn state(&self) -> PathBuf {
        self.root.join(".bankpipe")
    }

    /// The quarantine table of an entity: `<root>/quarantine/<entity>`.
    pub fn quarantine(&self, entity: Entity) -> PathBuf {
        self.root.join("quarantine").join(entity.name())
    }
}
