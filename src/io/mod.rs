//! Files that nabla writes: checkpoints (safetensors), the weights of any module by name
//! ([`save_weights`]), ONNX models ([`onnx`]), PyTorch exports
//! ([`torch`]) and the atomic
//! write they all go through.

mod checkpoint;
pub mod onnx;
pub mod torch;
mod weights;

pub(crate) use checkpoint::canonical_header;
pub use checkpoint::{FORMAT_VERSION, FORMAT_VERSION_KEY, load_checkpoint, load_checkpoint_limited, save_checkpoint};
pub use weights::{load_weights, save_weights};

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// The infix of [`atomic_write`]'s temporary files: `.<name>.tmp-<pid>`.
const TEMP_INFIX: &str = ".tmp-";

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so that a
/// crash, a kill or a full disk never leaves a partial file under the final name: readers see
/// the old file or the new one, whole. The temporary file is flushed to disk before the rename and
/// the folder after it, so that the new file also survives a power cut once this returns. On an
/// error the temporary file is removed; one left by a killed process is named
/// `.<name>.tmp-<pid>` and [`remove_stale_temps`] clears it away.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, &mut |file| file.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// As [`atomic_write`], with the contents written by `write` into the temporary file (through a
/// buffer), so that a large file is streamed instead of held in memory; an error from `write`
/// removes the temporary file and is returned as it is.
pub fn atomic_write_with(path: &Path, write: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path.file_name().ok_or_else(|| Error::config(format!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}{TEMP_INFIX}{}", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    // the rename is durable once the folder's entry is on disk (not every file system lets a
    // folder be opened for that: the file itself is already whole, so that is not an error)
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the temporary files that [`atomic_write`] left in `dir` when its process was killed
/// mid-write (`.<name>.tmp-<pid>`). Call it only on a folder that no other process is writing.
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_temp = name.starts_with('.')
            && name
                .rsplit_once(TEMP_INFIX)
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks, before any long work, that a file can be written at `path`: it is not a folder and
/// its folder exists (or can be created) and takes new files. Leaves no file behind.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::config(format!("{}: is a folder, expected a file name", path.display())));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    check_writable_dir(dir)
}

/// Checks that `dir` exists (it is created if missing) and takes new files. Leaves no file behind.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let probe = dir.join(format!(".nabla-write-check{TEMP_INFIX}{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe).map_err(|e| Error::io(dir, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_stale_temps_are_cleared() {
        let dir = std::env::temp_dir().join(format!("nabla-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("a.bin");
        atomic_write(&path, b"first").unwrap();
        atomic_write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // what a killed writer leaves: a temp file of another process, and unrelated dot files
        std::fs::write(dir.join(".a.bin.tmp-999999"), b"partial").unwrap();
        std::fs::write(dir.join(".keep"), b"").unwrap();
        remove_stale_temps(&dir);
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, [".keep", "a.bin"]);
        // a folder cannot be written over, and the error says so before anything is written
        let err = check_writable(&dir).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
        check_writable(&dir.join("sub/b.bin")).unwrap();
        // a path under a file
        let err = check_writable(&path.join("c.bin")).unwrap_err().to_string();
        assert!(err.contains("a.bin"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
