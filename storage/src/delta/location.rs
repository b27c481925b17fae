//! Where a Delta table lives: a local folder or a cloud URL, as written in configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use url::Url;

use super::{is_commit_conflict, object_stores};
use crate::error::{Result, StorageError};

/// Where a Delta table lives: a local folder, or a folder of an object store
/// (`s3://bucket/path`, `gs://bucket/path`, `az://container/path` …), with the
/// settings of the store it is in.
///
/// Every operation of [`crate::delta`] takes one and works the same wherever it points.
#[derive(Clone, PartialEq, Eq)]
pub struct TableLocation {
    url: Url,
    /// Object store settings beyond the environment's (credentials among them).
    options: BTreeMap<String, String>,
}

impl TableLocation {
    /// A table in a local folder (created if missing).
    pub fn local(path: &Path) -> Result<TableLocation> {
        let invalid = |message: String| StorageError::Location {
            location: path.display().to_string(),
            message,
        };
        std::fs::create_dir_all(path).map_err(|e| invalid(e.to_string()))?;
        let absolute = path.canonicalize().map_err(|e| invalid(e.to_string()))?;
        Url::from_directory_path(&absolute)
            .map(|url| TableLocation {
                url,
                options: BTreeMap::new(),
            })
            .map_err(|()| invalid("not an absolute folder".into()))
    }

    /// The table at `location` as written in configuration: a local path (relative to
    /// the current folder, created if missing), a `file://` URL, or a cloud URL:
    ///
    /// - `s3://bucket/path` (or `s3a://`): Amazon S3 or an S3-compatible store, set by
    ///   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`
    ///   (another store than AWS), `AWS_ALLOW_HTTP` …;
    /// - `az://container/path` (or `azure://`, `adl://`, `abfs[s]://container/path`,
    ///   `abfs[s]://container@account.dfs.core.windows.net/path`): Azure Blob Storage or
    ///   ADLS Gen2, set by `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY` or a
    ///   service principal's `AZURE_CLIENT_ID` …;
    /// - `gs://bucket/path`: Google Cloud Storage, set by `GOOGLE_SERVICE_ACCOUNT` (a key
    ///   file) or the application default credentials.
    ///
    /// The settings are object_store's: its environment variables, as above. The store
    /// is set up here, so a malformed setting (or a missing Azure account) is reported
    /// now; nothing is read or written, so credentials are checked by the first
    /// operation; see [`TableLocation::parse_with_options`]
    /// for settings that do not come from the environment.
    pub fn parse(location: &str) -> Result<TableLocation> {
        Self::parse_with_options(location, BTreeMap::new())
    }

    /// Like [`TableLocation::parse`], with object store settings that override the
    /// environment's: object_store's configuration keys (`aws_endpoint`,
    /// `aws_access_key_id`, `azure_storage_account_name`, `google_service_account` …).
    /// Settings do not apply to local folders.
    pub fn parse_with_options(
        location: &str,
        options: BTreeMap<String, String>,
    ) -> Result<TableLocation> {
        let invalid = |message: String| StorageError::Location {
            location: location.to_owned(),
            message,
        };
        let trimmed = location.trim();
        if trimmed.is_empty() {
            return Err(invalid("empty".into()));
        }
        let url = match Url::parse(trimmed) {
            // A one-letter scheme is a Windows drive (`C:\data`), not a URL.
            Ok(url) if url.scheme().len() > 1 => url,
            _ => return Self::local(Path::new(trimmed)),
        };
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| invalid("not a local absolute path".into()))?;
            return Self::local(&path);
        }
        if !object_stores::CLOUD_SCHEMES.contains(&url.scheme()) {
            return Err(invalid(format!(
                "unsupported scheme '{}': use a local path, a file:// URL, or one of {}",
                url.scheme(),
                object_stores::CLOUD_SCHEMES
                    .map(|scheme| format!("{scheme}://"))
                    .join(", ")
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!(
                "no bucket or container: write {}://<bucket>/<path>",
                url.scheme()
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "a query or fragment is no part of a table location; give settings as \
                 storage options or environment variables"
                    .into(),
            ));
        }
        let mut url = url;
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        object_stores::register();
        object_stores::build(&url, &options).map_err(|e| invalid(e.to_string()))?;
        Ok(TableLocation { url, options })
    }

    /// The table at `child` (`processed/clients`) under this location: a subfolder, or
    /// a longer prefix in the same bucket with the same settings.
    pub fn join(&self, child: &str) -> Result<TableLocation> {
        let invalid = |message: &str| StorageError::Location {
            location: format!("{self} + {child}"),
            message: message.to_owned(),
        };
        let segments: Vec<&str> = child.trim_end_matches('/').split('/').collect();
        if child.is_empty() || child.starts_with('/') || child.contains('\\') {
            return Err(invalid("the child must be a relative path such as a/b"));
        }
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(invalid("the child's path has an empty, '.' or '..' part"));
        }
        if let Some(folder) = self.local_path() {
            return Self::local(&segments.iter().fold(folder, |path, s| path.join(s)));
        }
        let mut url = self.url.clone();
        url.path_segments_mut()
            .map_err(|()| invalid("the location cannot have a child"))?
            .pop_if_empty()
            .extend(segments);
        Ok(TableLocation {
            url,
            options: self.options.clone(),
        })
    }

    /// The location's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The local folder of the table, if it is local.
    pub fn local_path(&self) -> Option<PathBuf> {
        if self.url.scheme() == "file" {
            self.url.to_file_path().ok()
        } else {
            None
        }
    }

    /// The object store settings to hand to delta-rs.
    pub(super) fn storage_options(&self) -> HashMap<String, String> {
        self.options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// delta-rs's error about this table; a commit refused because of a concurrent
    /// one becomes [`StorageError::ConcurrentCommit`].
    pub(super) fn delta_error(&self, source: DeltaTableError) -> StorageError {
        let location = self.to_string();
        let source = Box::new(source);
        if is_commit_conflict(&source) {
            StorageError::ConcurrentCommit { location, source }
        } else {
            StorageError::Delta { location, source }
        }
    }

    /// DataFusion's error about this table.
    pub(super) fn datafusion_error(&self, source: DataFusionError) -> StorageError {
        StorageError::DataFusion {
            location: self.to_string(),
            source: Box::new(source),
        }
    }
}

impl std::fmt::Display for TableLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// The URL and the names of the settings, never their values (they may be secrets).
impl std::fmt::Debug for TableLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableLocation")
            .field("url", &self.url.as_str())
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Settings that let every cloud store be set up without the environment.
    fn offline() -> BTreeMap<String, String> {
        options(&[
            ("aws_region", "us-east-1"),
            ("aws_access_key_id", "key"),
            ("aws_secret_access_key", "secret"),
            ("azure_storage_account_name", "account"),
            ("azure_storage_account_key", "a2V5"),
        ])
    }

    #[test]
    fn cloud_urls_are_accepted_and_normalised() {
        for (given, url) in [
            ("s3://bucket/lake/clients/", "s3://bucket/lake/clients"),
            ("s3a://bucket/lake", "s3a://bucket/lake"),
            ("s3://bucket", "s3://bucket"),
            ("gs://bucket/lake", "gs://bucket/lake"),
            ("az://container/lake", "az://container/lake"),
            ("azure://container/lake", "azure://container/lake"),
            ("adl://container/lake", "adl://container/lake"),
            ("abfss://container/lake", "abfss://container/lake"),
            (
                "abfss://fs@account.dfs.core.windows.net/lake",
                "abfss://fs@account.dfs.core.windows.net/lake",
            ),
            (" s3://bucket/with%20space ", "s3://bucket/with%20space"),
        ] {
            let location = TableLocation::parse_with_options(given, offline())
                .unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(location.to_string(), url, "{given}");
            assert_eq!(location.local_path(), None, "{given}");
        }
    }

    #[test]
    fn local_paths_and_file_urls_are_local_folders() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("lake/clients");
        let given = folder.to_string_lossy().into_owned();
        let parsed = TableLocation::parse(&given).expect("path");
        assert!(folder.is_dir(), "created");
        assert_eq!(parsed, TableLocation::local(&folder).expect("local"));
        let as_url = Url::from_directory_path(&folder).expect("url").to_string();
        assert_eq!(TableLocation::parse(&as_url).expect("file url"), parsed);
        assert_eq!(
            parsed.local_path().map(|p| p.canonicalize().ok()),
            Some(folder.canonicalize().ok())
        );
    }

    #[test]
    fn unknown_schemes_and_incomplete_urls_are_refused_with_the_location() {
        for (given, expected) in [
            ("ftp://host/lake", "unsupported scheme 'ftp'"),
            ("memory:///lake", "unsupported scheme 'memory'"),
            ("https://example.com/lake", "unsupported scheme 'https'"),
            ("s3:///lake", "no bucket"),
            ("s3://bucket/lake?region=eu", "query or fragment"),
            ("", "empty"),
        ] {
            let error = TableLocation::parse_with_options(given, offline())
                .expect_err(given)
                .to_string();
            assert!(error.contains(expected), "{given}: {error}");
            assert!(error.contains(&format!("'{given}'")), "{given}: {error}");
        }
        let error = TableLocation::parse("ftp://host/lake")
            .expect_err("ftp")
            .to_string();
        assert!(error.contains("s3://, s3a://, gs://, az://"), "{error}");
    }

    #[test]
    fn a_store_without_safe_commits_is_refused() {
        let mut settings = offline();
        settings.insert("aws_conditional_put".into(), "disabled".into());
        let error = TableLocation::parse_with_options("s3://bucket/lake", settings)
            .expect_err("no conditional put")
            .to_string();
        assert!(error.contains("'s3://bucket/lake'"), "{error}");
        assert!(error.contains("concurrent writers"), "{error}");
    }

    #[test]
    fn children_join_under_the_root_with_its_settings() {
        let root = TableLocation::parse_with_options("s3://bucket/lake/", offline()).expect("root");
        let child = root.join("processed/clients").expect("child");
        assert_eq!(child.to_string(), "s3://bucket/lake/processed/clients");
        assert_eq!(child.storage_options(), root.storage_options());
        let bucket = TableLocation::parse_with_options("gs://bucket", offline()).expect("root");
        assert_eq!(
            bucket.join("a/b/").expect("child").to_string(),
            "gs://bucket/a/b"
        );
        assert_eq!(
            root.join("x y").expect("child").to_string(),
            "s3://bucket/lake/x%20y"
        );

        let dir = tempfile::tempdir().expect("dir");
        let local = TableLocation::local(dir.path()).expect("local");
        let child = local.join("processed/clients").expect("child");
        assert!(dir.path().join("processed/clients").is_dir());
        assert_eq!(
            child,
            TableLocation::local(&dir.path().join("processed/clients")).expect("local")
        );

        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\\b"] {
            let error = root.join(bad).expect_err(bad).to_string();
            assert!(error.contains("s3://bucket/lake"), "{bad}: {error}");
        }
    }

    #[test]
    fn debug_shows_setting_names_but_never_their_values() {
        let location =
            TableLocation::parse_with_options("s3://bucket/lake", offline()).expect("location");
        let debug = format!("{location:?}");
        assert!(debug.contains("aws_secret_access_key"), "{debug}");
        assert!(!debug.contains("secret\""), "{debug}");
        assert!(!debug.contains("a2V5"), "{debug}");
    }
}
