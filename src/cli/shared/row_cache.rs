//! Uncompressed copies of gzip-compressed IDX files, so that their rows can be read at an offset
//! (`nabla::data::RowFile`): gzip can only be read from its start. A data-parallel run's rank 0
//! writes them once, atomically, before the other ranks open them; later runs reuse them.
//!
//! A copy is named after its source's name, length and modification time, so that a changed
//! source gets a new copy instead of a stale one. Copies of older versions stay until removed.

use nabla::data::{IdxFile, RowFile};
use nabla::io::atomic_write_with;
use nabla::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The folder under `--runs` where the copies go: on the file system that every rank of a job
/// already shares for `--resume`.
#[cfg(feature = "mpi")]
pub const CACHE_DIR: &str = ".data-cache";

/// An uncompressed IDX file with `path`'s contents: `path` itself when it is not compressed,
/// else its copy in `cache`, written (streamed, never held in memory) if it is not there yet.
pub fn uncompressed(path: &Path, cache: &Path) -> Result<PathBuf> {
    let idx = IdxFile::open(path)?;
    if idx.raw_header_len().is_some() {
        return Ok(path.to_path_buf());
    }
    let copy = cache.join(copy_name(path)?);
    if RowFile::open(&copy).is_ok_and(|f| f.dims() == idx.dims.as_slice()) {
        return Ok(copy);
    }
    let mut idx = Some(idx);
    atomic_write_with(&copy, &mut |out| idx.take().expect("written once").copy_to(out, &copy))?;
    Ok(copy)
}

/// Makes the uncompressed copies of an MNIST folder's image files in `cache` (what
/// `nabla::data::load_mnist_on_disk` then reads); returns the files the rows will be read from.
#[cfg(feature = "mpi")]
pub fn prepare_mnist(dir: &Path, cache: &Path) -> Result<Vec<PathBuf>> {
    nabla::data::mnist_image_files(dir)?.iter().map(|file| uncompressed(file, cache)).collect()
}

/// `<name without .gz>.<length>-<mtime in ns>`.
fn copy_name(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    Ok(format!("{stem}.{}-{modified}", meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        dims.iter().for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A raw file is its own copy; a gzip file's copy is written once, reused, and replaced when
    /// the source changes; a corrupt source leaves no copy behind.
    #[test]
    fn gzip_files_are_copied_once_and_raw_files_read_in_place() {
        let dir = std::env::temp_dir().join(format!("nabla-row-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cache = dir.join("cache");
        let raw = idx(&[2, 2], &[1, 2, 3, 4]);
        std::fs::write(dir.join("a.idx"), &raw).unwrap();
        assert_eq!(uncompressed(&dir.join("a.idx"), &cache).unwrap(), dir.join("a.idx"));
        assert!(!cache.exists(), "a raw file was copied");
        let gz = dir.join("b.idx.gz");
        std::fs::write(&gz, gzip(&raw)).unwrap();
        let copy = uncompressed(&gz, &cache).unwrap();
        assert!(copy.starts_with(&cache) && copy.file_name().unwrap().to_string_lossy().starts_with("b.idx."));
        assert_eq!(std::fs::read(&copy).unwrap(), raw);
        let written = std::fs::metadata(&copy).unwrap().modified().unwrap();
        assert_eq!(uncompressed(&gz, &cache).unwrap(), copy);
        assert_eq!(std::fs::metadata(&copy).unwrap().modified().unwrap(), written, "the copy was written again");
        // another source under the same name: another copy
        let longer = idx(&[3, 2], &[1, 2, 3, 4, 5, 6]);
        std::fs::write(&gz, gzip(&longer)).unwrap();
        let second = uncompressed(&gz, &cache).unwrap();
        assert_ne!(second, copy);
        assert_eq!(std::fs::read(&second).unwrap(), longer);
        // a truncated stream: an error naming the source, and no file left in the cache
        let before = std::fs::read_dir(&cache).unwrap().count();
        let cut = dir.join("c.idx.gz");
        std::fs::write(&cut, gzip(&longer[..longer.len() - 2])).unwrap();
        let text = uncompressed(&cut, &cache).unwrap_err().to_string();
        assert!(text.contains("c.idx.gz") && text.contains("truncated"), "{text}");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
