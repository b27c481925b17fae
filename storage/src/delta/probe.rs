//! Whether a location can be written: an object put at its root and deleted, through
//! the location's object store (`bankpipe check-connections`).

use std::time::{SystemTime, UNIX_EPOCH};

use deltalake::logstore::store_for;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

use super::TableLocation;
use crate::error::{Result, StorageError};

/// Writes a small object at the root of `location` and deletes it; an error naming
/// the location and the store's answer when either is refused.
pub async fn probe_writable(location: &TableLocation) -> Result<()> {
    let failed = |what: &str, source: object_store::Error| StorageError::Location {
        location: location.to_string(),
        message: format!("cannot {what} a probe object: {source}"),
    };
    let store = store_for(location.url(), location.storage_options())
        .map_err(|source| location.delta_error(source))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let probe = StorePath::from(format!(".bankpipe-check-{}-{nanos}", std::process::id()));
    store
        .put(&probe, b"check".to_vec().into())
        .await
        .map_err(|e| failed("write", e))?;
    store
        .delete(&probe)
        .await
        .map_err(|e| failed("delete", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_folder_is_written_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let location = TableLocation::local(dir.path()).expect("location");
        probe_writable(&location).await.expect("writable");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
