//! Cloud object stores for Delta tables: Amazon S3 (and S3-compatible stores), Azure
//! Blob Storage / ADLS Gen2 and Google Cloud Storage, through object_store's own clients.
//!
//! deltalake-core knows only `file://` and `memory://` locations; its `s3`, `azure` and
//! `gcs` features would bring the AWS SDK and more. object_store already has the three
//! clients built in (delta's kernel enables them), so this module registers them with
//! delta-rs for the schemes of [`CLOUD_SCHEMES`], each with delta-rs's default log
//! store. [`register`] does it once per process; [`super::TableLocation::parse`] calls it.
//!
//! Settings come, as with object_store, from the environment (`AWS_*`, `AZURE_*`,
//! `GOOGLE_*`), overridden by the location's own storage options (object_store's
//! configuration keys, such as `aws_endpoint` or `azure_storage_account_name`).
//!
//! Concurrent writers: the default log store commits version `n` by creating
//! `_delta_log/<n>.json` only if it does not exist yet (object_store's
//! `PutMode::Create`), so of two writers racing for one version exactly one wins and the
//! other retries or is refused as a conflict. Azure and Google Cloud Storage always
//! support this; S3 does through `If-None-Match: *` (AWS S3 since August 2024, and
//! S3-compatible stores such as MinIO and Cloudflare R2). A location whose S3 settings
//! disable conditional put (`aws_conditional_put = disabled`) is refused rather than
//! risk two commits overwriting each other; an S3-compatible store that ignores the
//! header would silently allow it, so use one that honours it.

use std::str::FromStr;
use std::sync::{Arc, Once};

use deltalake::logstore::{
    DeltaIOStorageBackend, LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef,
    StorageConfig, default_logstore, logstore_factories, object_store_factories,
};
use deltalake::{DeltaResult, Path};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{ObjectStore, ObjectStoreScheme};
use url::Url;

/// The URL schemes of the cloud locations a table may live at.
pub(super) const CLOUD_SCHEMES: [&str; 8] =
    ["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl"];

/// Registers the cloud object stores and their log store with delta-rs, once per
/// process; a scheme something else registered first is left to it.
pub(super) fn register() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let factory = Arc::new(CloudStores);
        let object_stores = object_store_factories();
        let log_stores = logstore_factories();
        for scheme in CLOUD_SCHEMES {
            let Ok(url) = Url::parse(&format!("{scheme}://")) else {
                continue;
            };
            if !object_stores.contains_key(&url) {
                object_stores.insert(url.clone(), factory.clone());
            }
            if !log_stores.contains_key(&url) {
                log_stores.insert(url, factory.clone());
            }
        }
    });
}

/// The object store of the bucket or container of `url` (rooted there, not at the
/// table), set from the environment and then from `options`; options that are not the
/// store's configuration keys are ignored (they may be delta-rs's own).
pub(super) fn build<'a>(
    url: &Url,
    options: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> object_store::Result<Box<dyn ObjectStore>> {
    let (scheme, _) = ObjectStoreScheme::parse(url)?;
    let options: Vec<(String, &String)> = options
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    match scheme {
        ObjectStoreScheme::AmazonS3 => {
            let builder = configured(
                AmazonS3Builder::from_env().with_url(url.as_str()),
                &options,
                |builder, key: AmazonS3ConfigKey, value| builder.with_config(key, value),
            );
            let conditional_put = builder.get_config_value(&AmazonS3ConfigKey::ConditionalPut);
            let disabled = S3ConditionalPut::Disabled.to_string();
            if conditional_put.is_some_and(|value| value.trim() == disabled) {
                return Err(object_store::Error::Generic {
                    store: "S3",
                    source: "conditional put is disabled (aws_conditional_put = disabled): \
                             Delta commits need S3's If-None-Match to stay safe with \
                             concurrent writers; remove the setting"
                        .into(),
                });
            }
            Ok(Box::new(builder.build()?))
        }
        ObjectStoreScheme::MicrosoftAzure => {
            let builder = configured(
                MicrosoftAzureBuilder::from_env().with_url(url.as_str()),
                &options,
                |builder, key: AzureConfigKey, value| builder.with_config(key, value),
            );
            Ok(Box::new(builder.build()?))
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            let builder = configured(
                GoogleCloudStorageBuilder::from_env().with_url(url.as_str()),
                &options,
                |builder, key: GoogleConfigKey, value| builder.with_config(key, value),
            );
            Ok(Box::new(builder.build()?))
        }
        other => Err(object_store::Error::Generic {
            store: "URL",
            source: format!("{other:?} is not a cloud object store").into(),
        }),
    }
}

/// `builder` given each of `options` whose key is one of the store's configuration keys
/// `K` (by `set`); the others are left out.
fn configured<B, K: FromStr>(
    builder: B,
    options: &[(String, &String)],
    set: impl Fn(B, K, &String) -> B,
) -> B {
    options
        .iter()
        .fold(builder, |builder, (key, value)| match K::from_str(key) {
            Ok(key) => set(builder, key, value),
            Err(_) => builder,
        })
}

/// delta-rs's factories for the cloud schemes: object_store's client, and the default
/// log store (commits by conditional create).
#[derive(Debug, Clone, Copy)]
struct CloudStores;

impl ObjectStoreFactory for CloudStores {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, Path)> {
        let mut store: ObjectStoreRef = Arc::from(build(url, &config.raw)?);
        if let Some(runtime) = &config.runtime {
            store = Arc::new(DeltaIOStorageBackend::new(store, runtime.clone()));
        }
        Ok((store, Path::from_url_path(url.path())?))
    }
}

impl LogStoreFactory for CloudStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}
