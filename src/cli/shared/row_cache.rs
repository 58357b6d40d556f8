//! Files whose rows can be read at an offset (`nabla::data::RowFile`), made from data that cannot
//! be: uncompressed copies of gzip-compressed IDX files (gzip can only be read from its start),
//! and an image folder's images decoded into one IDX file. A data-parallel run's rank 0 writes
//! them once, atomically, before the other ranks open them; later runs reuse them.
//!
//! A file is named after its source (the path's name and a hash of the whole path) and a key of
//! its contents (a gzip file's length and modification time; for a folder, a hash of every
//! image's path, length and modification time and of the image format), so that a changed source
//! gets a new file instead of a stale one; the files of the source's earlier contents are then
//! removed (a job still reading one keeps it open until it ends). The hashes are the standard
//! library's SipHash with fixed keys: the same in every rank of a job, which runs one binary.

use nabla::data::{IdxFile, ImageFormat, RowFile, write_images_idx};
use nabla::io::atomic_write_with;
use nabla::{Error, Result};
use std::hash::{DefaultHasher, Hash, Hasher};
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
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (length, modified) = stamp(path)?;
    let source = source_name(name.strip_suffix(".gz").unwrap_or(&name), path);
    let copy = cache.join(format!("{source}.{length}-{modified}"));
    if RowFile::open(&copy).is_ok_and(|f| f.dims() == idx.dims.as_slice()) {
        return Ok(copy);
    }
    let mut idx = Some(idx);
    atomic_write_with(&copy, &mut |out| idx.take().expect("written once").copy_to(out, &copy))?;
    remove_older(cache, &source, &copy);
    Ok(copy)
}

/// An IDX file in `cache` of the images `files` of the image folder `dir`, decoded into
/// `format` ([N, C, H, W] bytes), written (a chunk of images at a time) if it is not there yet.
pub fn decoded_images(dir: &Path, files: &[PathBuf], format: ImageFormat, cache: &Path) -> Result<PathBuf> {
    let mut key = DefaultHasher::new();
    format.shape().hash(&mut key);
    for file in files {
        file.hash(&mut key);
        stamp(file)?.hash(&mut key);
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let source = source_name(&format!("{name}-images"), dir);
    let copy = cache.join(format!("{source}.{:016x}.idx", key.finish()));
    let [c, h, w] = format.shape();
    if RowFile::open(&copy).is_ok_and(|f| f.dims() == [files.len(), c, h, w]) {
        return Ok(copy);
    }
    atomic_write_with(&copy, &mut |out| write_images_idx(files, format, out, &copy))?;
    remove_older(cache, &source, &copy);
    Ok(copy)
}

/// Makes the uncompressed copies of an MNIST folder's image files in `cache` (what
/// `nabla::data::load_mnist_on_disk` then reads).
pub fn prepare_mnist(dir: &Path, cache: &Path) -> Result<()> {
    nabla::data::mnist_image_files(dir)?.iter().try_for_each(|file| uncompressed(file, cache).map(drop))
}

/// Decodes an image folder's images into one file in `cache` (what `nabla::data::
/// load_image_folder_on_disk` then reads).
pub fn prepare_image_folder(dir: &Path, format: ImageFormat, cache: &Path) -> Result<()> {
    let listing = nabla::data::list_image_folder(dir)?;
    decoded_images(dir, &listing.files, format, cache).map(drop)
}

/// A file's length and modification time (in ns since 1970; 0 where the system has none).
fn stamp(path: &Path) -> Result<(u64, u128)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok((meta.len(), modified))
}

/// `<name>-<hash of the path>`: sources of one name in two folders (MNIST and Fashion-MNIST)
/// get files of their own.
fn source_name(name: &str, path: &Path) -> String {
    let mut hash = DefaultHasher::new();
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).hash(&mut hash);
    format!("{name}-{:016x}", hash.finish())
}

/// Removes the files in `cache` made from `source`'s earlier contents: those named
/// `<source>.<key>` other than `keep`. Temporary files (named `.<name>…`) are another writer's.
fn remove_older(cache: &Path, source: &str, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else { return };
    let prefix = format!("{source}.");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && entry.path() != keep {
            // best effort: a file that cannot be removed costs disk space, not correctness
            let _ = std::fs::remove_file(entry.path());
        }
    }
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
        assert!(copy.starts_with(&cache) && copy.file_name().unwrap().to_string_lossy().starts_with("b.idx-"));
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
        assert!(!copy.exists(), "the copy of the earlier contents stayed");
        // the same name in another folder: a copy of its own, and the first folder's stays
        std::fs::create_dir_all(dir.join("other")).unwrap();
        std::fs::write(dir.join("other/b.idx.gz"), gzip(&raw)).unwrap();
        let other = uncompressed(&dir.join("other/b.idx.gz"), &cache).unwrap();
        assert_ne!(other, second);
        assert!(second.exists() && other.exists());
        // a truncated stream: an error naming the source, and no file left in the cache
        let before = std::fs::read_dir(&cache).unwrap().count();
        let cut = dir.join("c.idx.gz");
        std::fs::write(&cut, gzip(&longer[..longer.len() - 2])).unwrap();
        let text = uncompressed(&cut, &cache).unwrap_err().to_string();
        assert!(text.contains("c.idx.gz") && text.contains("truncated"), "{text}");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An image folder is decoded once into an IDX file of its rows, reused, and replaced (the
    /// old file removed) when an image changes; the rows are the images `load_image_folder` reads.
    #[test]
    fn image_folders_are_decoded_once_into_rows() {
        use image::{GrayImage, Luma};
        let dir = std::env::temp_dir().join(format!("nabla-row-cache-images-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let folder = dir.join("shapes");
        for (class, value) in [("dark", 10u8), ("light", 200)] {
            std::fs::create_dir_all(folder.join(class)).unwrap();
            for i in 0..3u8 {
                GrayImage::from_pixel(5, 5, Luma([value + i])).save(folder.join(format!("{class}/{i}.png"))).unwrap();
            }
        }
        let cache = dir.join("cache");
        let format = ImageFormat { height: 4, width: 4, channels: 1 };
        let load =
            || nabla::data::load_image_folder_on_disk(&folder, format, &|f| decoded_images(&folder, f, format, &cache));
        let on_disk = load().unwrap();
        let in_memory = nabla::data::load_image_folder(&folder, format).unwrap();
        assert_eq!(on_disk.data.inputs.to_tensor(), in_memory.data.inputs.to_tensor());
        assert_eq!((on_disk.data.labels, on_disk.classes), (in_memory.data.labels, in_memory.classes));
        let first = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
        let written = std::fs::metadata(&first).unwrap().modified().unwrap();
        load().unwrap();
        assert_eq!(std::fs::metadata(&first).unwrap().modified().unwrap(), written, "decoded again");
        // a changed image: a new file, the old one gone
        std::thread::sleep(std::time::Duration::from_millis(10));
        GrayImage::from_pixel(5, 5, Luma([99])).save(folder.join("dark/0.png")).unwrap();
        let changed = load().unwrap();
        assert_eq!(changed.data.inputs.to_tensor().data()[0], 99.0 / 255.0);
        let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.path()).collect();
        assert!(files.len() == 1 && files[0] != first, "{files:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
