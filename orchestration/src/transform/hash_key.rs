//! The key of `client_ref`, the keyed hash of `client_id`.

use std::path::Path;

use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

/// The key of `client_ref`: `BANKPIPE_HASH_KEY` if set, else a random key kept in the
/// data folder's private state (created on first use, readable by its owner only).
pub fn hash_key(layout: &DataLayout) -> Result<String> {
    if let Ok(key) = std::env::var("BANKPIPE_HASH_KEY")
        && !key.is_empty()
    {
        return Ok(key);
    }
    let path = layout.state().join("hash_key");
    let io = |source| PipelineError::Io {
        path: path.clone(),
        source,
    };
    if let Ok(key) = std::fs::read_to_string(&path) {
        return Ok(key.trim().to_owned());
    }
    std::fs::create_dir_all(layout.state()).map_err(io)?;
    let key = random_hex(32, Path::new("/dev/urandom")).map_err(io)?;
    write_private(&path, &key).map_err(io)?;
    Ok(key)
}

fn random_hex(bytes: usize, source: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open(source)?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(text.as_bytes())
}
