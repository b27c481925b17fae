//! Fingerprints of a task's inputs and outputs, for caching: a hash of named values
//! (configuration, parameters) and of files and folders by path, size and modification
//! time — what `make` trusts, and cheap on gigabytes of extracts. A file rewritten with
//! the same size within the file system's time resolution goes unnoticed; hash its
//! contents into a [`text`](Fingerprint::text) value where that matters.

use std::fs;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use xxhash_rust::xxh3::Xxh3;

/// Builds a fingerprint: feed values, files and folders, then [`finish`](Self::finish).
/// The same things in the same order give the same fingerprint, on any run.
#[derive(Clone, Default)]
pub struct Fingerprint {
    hasher: Xxh3,
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprint").finish_non_exhaustive()
    }
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Fingerprint::default()
    }

    /// Adds a named value (a configuration's text, a parameter).
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.field(b"text", name.as_bytes());
        self.field(b"value", value.as_bytes());
        self
    }

    /// Adds a file, or a folder with every file under it (by relative path, in name
    /// order), each by size and modification time. A missing path counts as absent,
    /// so creating it changes the fingerprint.
    pub fn path(mut self, path: &Path) -> io::Result<Self> {
        self.field(b"path", path.as_os_str().as_encoded_bytes());
        self.entry(path, Path::new(""))?;
        Ok(self)
    }

    /// The fingerprint, as 32 hexadecimal digits.
    pub fn finish(&self) -> String {
        format!("{:032x}", self.hasher.digest128())
    }

    fn field(&mut self, tag: &[u8], bytes: &[u8]) {
        self.hasher.update(tag);
        self.hasher.update(&(bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    fn entry(&mut self, path: &Path, relative: &Path) -> io::Result<()> {
        let metadata = match fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                self.field(b"absent", relative.as_os_str().as_encoded_bytes());
                return Ok(());
            }
            Err(error) => return Err(error),
        };
        if metadata.is_dir() {
            self.field(b"dir", relative.as_os_str().as_encoded_bytes());
            let mut names = fs::read_dir(path)?
                .map(|entry| entry.map(|entry| entry.file_name()))
                .collect::<io::Result<Vec<_>>>()?;
            names.sort();
            for name in names {
                self.entry(&path.join(&name), &relative.join(&name))?;
            }
        } else {
            let modified = metadata
                .modified()?
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            self.field(b"file", relative.as_os_str().as_encoded_bytes());
            self.hasher.update(&metadata.len().to_le_bytes());
            self.hasher.update(&modified.to_le_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_with_values_files_and_folders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join("raw");
        let print = || {
            Fingerprint::new()
                .text("config", "a = 1")
                .path(&folder)
                .expect("readable")
                .finish()
        };
        let absent = print();
        assert_eq!(absent.len(), 32);
        fs::create_dir(&folder).expect("mkdir");
        let empty = print();
        assert_ne!(absent, empty);
        fs::write(folder.join("a.csv"), "x\n1\n").expect("write");
        let one = print();
        assert_ne!(empty, one);
        assert_eq!(one, print(), "the same inputs give the same fingerprint");
        fs::write(folder.join("a.csv"), "x\n1\n2\n").expect("write");
        assert_ne!(one, print());
        let other_config = Fingerprint::new()
            .text("config", "a = 2")
            .path(&folder)
            .expect("readable")
            .finish();
        assert_ne!(print(), other_config);
        // Fields are delimited: moving bytes between name and value changes it.
        assert_ne!(
            Fingerprint::new().text("ab", "c").finish(),
            Fingerprint::new().text("a", "bc").finish()
        );
    }
}
