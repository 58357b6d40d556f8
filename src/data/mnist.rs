//! The MNIST folder: four IDX files, training (`train-*`) and test (`t10k-*`), images and labels.
//!
//! Images are IDX with dimensions count × 28 × 28 (magic 0x00000803), pixels 0 (background) to 255
//! (ink); labels are IDX with one dimension, count (magic 0x00000801), digits 0–9. Each file may be
//! named as LeCun's site names it (`train-images-idx3-ubyte`) or as common mirrors do
//! (`train-images.idx3-ubyte`), raw or with `.gz`.

use super::idx::IdxFile;
use super::{ByteRows, Dataset, Inputs, RowFile};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

const SIDE: usize = 28;
const CLASSES: usize = 10;

/// Loads (train, test) from an MNIST folder: inputs N × 784 with pixels scaled to [0, 1], one-hot
/// targets N × 10, labels, and image shape [1, 28, 28].
pub fn load_mnist(dir: &Path) -> Result<(Dataset, Dataset)> {
    // The two sets are independent files; decoding them on two threads halves the wait.
    let (train, test) = rayon::join(|| load_set(dir, "train", None), || load_set(dir, "t10k", None));
    Ok((train?, test?))
}

/// As [`load_mnist`], with the images left on disk: each batch reads its rows from an
/// uncompressed IDX file, the image file itself when it is raw, else the copy that `uncompressed`
/// returns for it (gzip cannot be read at an offset). The labels (one byte an image) are read.
pub fn load_mnist_on_disk(dir: &Path, uncompressed: &dyn Fn(&Path) -> Result<PathBuf>) -> Result<(Dataset, Dataset)> {
    Ok((load_set(dir, "train", Some(uncompressed))?, load_set(dir, "t10k", Some(uncompressed))?))
}

/// The training and test image files of an MNIST folder.
pub fn mnist_image_files(dir: &Path) -> Result<[PathBuf; 2]> {
    Ok([find(dir, "train", "images", 3)?, find(dir, "t10k", "images", 3)?])
}

/// What gives the uncompressed IDX file of an image file (see [`load_mnist_on_disk`]).
type Uncompressed<'a> = dyn Fn(&Path) -> Result<PathBuf> + 'a;

/// Loads the images and labels whose names start with `prefix`; the images stay on disk when
/// `uncompressed` is given (see [`load_mnist_on_disk`]).
fn load_set(dir: &Path, prefix: &str, uncompressed: Option<&Uncompressed<'_>>) -> Result<Dataset> {
    let image_path = find(dir, prefix, "images", 3)?;
    let label_path = find(dir, prefix, "labels", 1)?;
    // the headers first: the dimensions and counts are checked before any data is read, so that a
    // file claiming millions of images costs nothing unless the labels agree
    let (images, labels) = (IdxFile::open(&image_path)?, IdxFile::open(&label_path)?);
    check_dims(&image_path, &images.dims, &[None, Some(SIDE), Some(SIDE)], "count × 28 × 28")?;
    check_dims(&label_path, &labels.dims, &[None], "count")?;
    if images.dims[0] != labels.dims[0] {
        let message = format!(
            "{} images, but {} holds {} labels; expected one label per image",
            images.dims[0],
            label_path.display(),
            labels.dims[0]
        );
        return Err(Error::format(&image_path, "dimension 0", message));
    }
    let count = images.dims[0];
    let (inputs, labels) = match uncompressed {
        None => {
            let (images, labels) = rayon::join(|| images.read_data(), || labels.read_data());
            // the pixels stay bytes (a quarter of the memory of f32), standing for p/255 in [0, 1]
            (ByteRows::new(images?.data, count, 255.0), labels?)
        }
        Some(uncompressed) => {
            drop(images);
            let raw = uncompressed(&image_path)?;
            let file = RowFile::open(&raw)?;
            check_dims(&raw, file.dims(), &[Some(count), Some(SIDE), Some(SIDE)], "the header of the file it copies")?;
            (ByteRows::on_disk(file, 255.0), labels.read_data()?)
        }
    };
    let label_header = 4 + 4 * labels.dims.len();
    if let Some(i) = labels.data.iter().position(|&l| l as usize >= CLASSES) {
        let message = format!("label {} for image {i}, expected a digit 0–9", labels.data[i]);
        return Err(Error::format(&label_path, format!("byte offset {}", label_header + i), message));
    }
    let labels = labels.data.iter().map(|&l| l as usize).collect();
    Ok(Dataset::classification(Inputs::Bytes(inputs), labels, CLASSES, Some([1, SIDE, SIDE])))
}

/// The first of the accepted names for one file that exists in `dir`.
fn find(dir: &Path, prefix: &str, kind: &str, ndims: u8) -> Result<PathBuf> {
    let stem_dash = format!("{prefix}-{kind}-idx{ndims}-ubyte");
    let stem_dot = format!("{prefix}-{kind}.idx{ndims}-ubyte");
    let names = [format!("{stem_dash}.gz"), stem_dash, format!("{stem_dot}.gz"), stem_dot];
    if let Some(path) = names.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
        return Ok(path);
    }
    let message = format!("no MNIST {prefix} {kind} file; tried {}", names.join(", "));
    Err(Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, message)))
}

/// Checks the number of dimensions and the sizes that are fixed (`Some`) against `expected`.
fn check_dims(path: &Path, dims: &[usize], expected: &[Option<usize>], shape: &str) -> Result<()> {
    if dims.len() != expected.len() {
        let message = format!(
            "found 0x{:08x}: {} dimensions {:?}, expected 0x{:08x}: {} dimensions ({shape})",
            0x0800 + dims.len(),
            dims.len(),
            dims,
            0x0800 + expected.len(),
            expected.len()
        );
        return Err(Error::format(path, "magic number", message));
    }
    for (i, (&found, want)) in dims.iter().zip(expected).enumerate() {
        if let Some(want) = *want
            && found != want
        {
            let message = format!("found {found}, expected {want} ({shape})");
            return Err(Error::format(path, format!("dimension {i}"), message));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scratch;
    use crate::data::idx::{encode, gzip};

    /// Writes a tiny MNIST folder: `n` images whose pixels are all equal to their label.
    fn write_set(dir: &Scratch, prefix: &str, labels: &[u8], compress: bool) {
        let n = labels.len() as u32;
        let pixels: Vec<u8> = labels.iter().flat_map(|&l| [l.saturating_mul(25); SIDE * SIDE]).collect();
        let images = encode(&[n, SIDE as u32, SIDE as u32], &pixels);
        let labels = encode(&[n], labels);
        if compress {
            dir.write(&format!("{prefix}-images-idx3-ubyte.gz"), &gzip(&images));
            dir.write(&format!("{prefix}-labels-idx1-ubyte.gz"), &gzip(&labels));
        } else {
            dir.write(&format!("{prefix}-images.idx3-ubyte"), &images);
            dir.write(&format!("{prefix}-labels.idx1-ubyte"), &labels);
        }
    }

    fn message(result: Result<(Dataset, Dataset)>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn small_folder_loads_with_either_naming() {
        let dir = Scratch::new("mnist_small");
        write_set(&dir, "train", &[3, 0, 9], true);
        write_set(&dir, "t10k", &[7], false);
        let (train, test) = load_mnist(&dir.0).unwrap();
        assert_eq!(train.inputs.shape(), &[3, 784]);
        assert_eq!(train.targets.shape(), &[3, 10]);
        assert_eq!(train.labels, Some(vec![3, 0, 9]));
        assert_eq!(train.targets.argmax_rows(), vec![3, 0, 9]);
        assert_eq!(train.image_shape, Some([1, 28, 28]));
        assert_eq!(train.inputs.to_tensor().data()[784], 0.0);
        assert_eq!(train.inputs.to_tensor().data()[2 * 784], 225.0 / 255.0);
        assert_eq!(test.labels, Some(vec![7]));
    }

    /// Images left on disk (raw files read in place, gzip ones through a copy) gather the same
    /// batches as images in memory, after a split and a selection too.
    #[test]
    fn images_on_disk_gather_as_images_in_memory() {
        let dir = Scratch::new("mnist_on_disk");
        write_set(&dir, "train", &[3, 0, 9, 4, 1], true);
        write_set(&dir, "t10k", &[7, 2], false);
        let copies = dir.0.join("copies");
        std::fs::create_dir_all(&copies).unwrap();
        let uncompressed = |path: &Path| -> Result<PathBuf> {
            let idx = IdxFile::open(path)?;
            if idx.raw_header_len().is_some() {
                return Ok(path.to_path_buf());
            }
            let copy = copies.join(path.file_name().unwrap());
            idx.copy_to(&mut std::fs::File::create(&copy).unwrap(), &copy)?;
            Ok(copy)
        };
        let (memory, disk) = (load_mnist(&dir.0).unwrap(), load_mnist_on_disk(&dir.0, &uncompressed).unwrap());
        for (m, d) in [(&memory.0, &disk.0), (&memory.1, &disk.1)] {
            let Inputs::Bytes(rows) = &d.inputs else { panic!("images are bytes") };
            assert!(rows.file().is_some());
            assert_eq!((m.labels.as_ref(), m.inputs.shape()), (d.labels.as_ref(), d.inputs.shape()));
            let all: Vec<usize> = (0..m.len()).rev().collect();
            assert_eq!(m.inputs.gather_rows(&all), d.inputs.gather_rows(&all));
        }
        assert_eq!(std::fs::read_dir(&copies).unwrap().count(), 1, "only the gzip file is copied");
        let (mut m, mut d) = (memory.0, disk.0);
        let (held_m, held_d) = (m.split_off(0.4, 3), d.split_off(0.4, 3));
        assert_eq!(held_m.inputs.to_tensor(), held_d.inputs.to_tensor());
        assert_eq!(m.subset(&[2, 0]).inputs.to_tensor(), d.subset(&[2, 0]).inputs.to_tensor());
        assert_eq!((m.labels, m.targets), (d.labels, d.targets));
    }

    #[test]
    fn missing_file_names_the_tried_names() {
        let dir = Scratch::new("mnist_missing");
        write_set(&dir, "train", &[1], false);
        let text = message(load_mnist(&dir.0));
        assert!(text.contains("t10k images") && text.contains("t10k-images.idx3-ubyte.gz"), "{text}");
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = Scratch::new("mnist_count");
        write_set(&dir, "train", &[1, 2], false);
        write_set(&dir, "t10k", &[1], false);
        dir.write("train-labels.idx1-ubyte", &encode(&[3], &[1, 2, 3]));
        let text = message(load_mnist(&dir.0));
        assert!(text.contains("train-images.idx3-ubyte: dimension 0: 2 images"), "{text}");
        assert!(text.contains("train-labels.idx1-ubyte holds 3 labels"), "{text}");
    }

    #[test]
    fn label_above_nine_is_reported() {
        let dir = Scratch::new("mnist_label");
        write_set(&dir, "train", &[1, 2], false);
        write_set(&dir, "t10k", &[4, 10], false);
        let text = message(load_mnist(&dir.0));
        assert!(text.contains("byte offset 9") && text.contains("label 10 for image 1"), "{text}");
    }

    #[test]
    fn wrong_image_dims_are_reported() {
        let dir = Scratch::new("mnist_dims");
        write_set(&dir, "train", &[1], false);
        write_set(&dir, "t10k", &[1], false);
        dir.write("t10k-images.idx3-ubyte", &encode(&[1, 28, 27], &[0; 28 * 27]));
        let text = message(load_mnist(&dir.0));
        assert!(text.contains("dimension 2: found 27, expected 28"), "{text}");
        dir.write("t10k-images.idx3-ubyte", &encode(&[1, 784], &[0; 784]));
        let text = message(load_mnist(&dir.0));
        assert!(text.contains("magic number: found 0x00000802"), "{text}");
    }

    #[test]
    fn vendored_mnist_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
        let start = std::time::Instant::now();
        let (train, test) = load_mnist(&dir).unwrap();
        eprintln!("loaded MNIST train + test in {:?}", start.elapsed());
        assert_eq!((train.len(), test.len()), (60_000, 10_000));
        assert_eq!(train.inputs.shape(), &[60_000, 784]);
        assert_eq!(test.num_classes(), Some(10));
        let mut counts = [0; 10];
        for &l in train.labels.as_ref().unwrap() {
            counts[l] += 1;
        }
        assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        for set in [&train, &test] {
            let (lo, hi) =
                set.inputs.to_tensor().data().iter().fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            assert_eq!((lo, hi), (0.0, 1.0));
        }
    }
}
