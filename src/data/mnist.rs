//! The MNIST folder: four IDX files, training (`train-*`) and test (`t10k-*`), images and labels.
//!
//! Images are IDX with dimensions count × 28 × 28 (magic 0x00000803), pixels 0 (background) to 255
//! (ink); labels are IDX with one dimension, count (magic 0x00000801), digits 0–9. Each file may be
//! named as LeCun's site names it (`train-images-idx3-ubyte`) or as common mirrors do
//! (`train-images.idx3-ubyte`), raw or with `.gz`.

use super::idx::IdxFile;
use super::{ByteRows, Dataset, Inputs};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

const SIDE: usize = 28;
const CLASSES: usize = 10;

/// Loads (train, test) from an MNIST folder: inputs N × 784 with pixels scaled to [0, 1], one-hot
/// targets N × 10, labels, and image shape [1, 28, 28].
pub fn load_mnist(dir: &Path) -> Result<(Dataset, Dataset)> {
    // The two sets are independent files; decoding them on two threads halves the wait.
    let (train, test) = rayon::join(|| load_set(dir, "train"), || load_set(dir, "t10k"));
    Ok((train?, test?))
}

/// Loads the images and labels whose names start with `prefix`.
fn load_set(dir: &Path, prefix: &str) -> Result<Dataset> {
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
    let (images, labels) = rayon::join(|| images.read_data(), || labels.read_data());
    let (images, labels) = (images?, labels?);
    let label_header = 4 + 4 * labels.dims.len();
    if let Some(i) = labels.data.iter().position(|&l| l as usize >= CLASSES) {
        let message = format!("label {} for image {i}, expected a digit 0–9", labels.data[i]);
        return Err(Error::format(&label_path, format!("byte offset {}", label_header + i), message));
    }
    let count = images.dims[0];
    // the pixels stay bytes (a quarter of the memory of f32), standing for p/255 in [0, 1]
    let inputs = Inputs::Bytes(ByteRows::new(images.data, count, 255.0));
    let labels = labels.data.iter().map(|&l| l as usize).collect();
    Ok(Dataset::classification(inputs, labels, CLASSES, Some([1, SIDE, SIDE])))
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
