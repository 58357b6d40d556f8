//! A scratch folder for tests, unique to the test and the process, removed on drop.

use std::path::{Path, PathBuf};

/// A folder under the system's temporary directory that is deleted with everything in it on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates `nabla-report-<name>-<pid>` under the system's temporary directory, emptied first.
    pub(crate) fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("nabla-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
