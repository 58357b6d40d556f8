//! Datasets: MNIST (IDX, raw or gzip), image folders (a subfolder of PNG/JPEG files per class)
//! CSV tables (streamed; see [`table`] for their schema), text for character-level language
//! models ([`text`]) and sequences of different lengths, labelled or tagged ([`sequences`]).
//!
//! Every loader returns a [`Dataset`]: an N × D input matrix and an N × K target matrix, one row
//! per example. Classification targets are one-hot rows with the class indices kept beside them;
//! regression targets are the values themselves. Bad files return an [`Error`](crate::Error) that
//! names the file, the place in it and what was expected.

mod augment;
mod constructors;
mod csv;
mod idx;
mod image_folder;
mod inputs;
mod mnist;
mod png;
mod row_file;
pub mod sequences;
pub mod table;
pub mod text;

pub use augment::{Augmentation, Elastic, augment_batch, augment_part};
pub use csv::{CsvOptions, TargetColumn, Task, load_csv, parse_target};
pub use idx::{Idx, IdxFile, read_idx};
pub use image_folder::{
    FolderListing, ImageFolder, ImageFormat, image_files, is_image_file, is_image_folder, list_image_folder,
    load_image_folder, load_image_folder_on_disk, read_images, write_images_idx,
};
pub use inputs::{ByteRows, Inputs};
pub use mnist::{load_mnist, load_mnist_on_disk, mnist_image_files};
pub use png::read_gray_png;
pub use row_file::RowFile;

use crate::rng::Rng;
use crate::tensor::Tensor;

/// Examples as rows: inputs, targets and, for classification, the class of each row.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// N × D: f32 for tables; bytes that become f32 per mini-batch for images (MNIST: pixels
    /// scaled to [0, 1], D = 784).
    pub inputs: Inputs,
    /// N × K: one-hot rows for classification, target values for regression.
    pub targets: Tensor,
    /// The class index of each row for classification, `None` for regression.
    pub labels: Option<Vec<usize>>,
    /// (channels, height, width) when the rows are images (MNIST: `[1, 28, 28]`).
    pub image_shape: Option<[usize; 3]>,
    /// For sequences of different lengths padded to T steps ([`sequences`]): the number of real
    /// steps of each row, which the trainer passes to [`crate::nn::Module::forward_masked`].
    pub lengths: Option<Vec<usize>>,
}

impl Dataset {
    /// A classification dataset with one-hot targets for `labels`; each label must be below
    /// `classes`.
    fn classification(
        inputs: impl Into<Inputs>,
        labels: Vec<usize>,
        classes: usize,
        image_shape: Option<[usize; 3]>,
    ) -> Dataset {
        let mut one_hot = vec![0.0; labels.len() * classes];
        for (row, &label) in labels.iter().enumerate() {
            one_hot[row * classes + label] = 1.0;
        }
        let targets = Tensor::from_vec(one_hot, &[labels.len(), classes]);
        Dataset { inputs: inputs.into(), targets, labels: Some(labels), image_shape, lengths: None }
    }

    /// The number of rows (examples).
    pub fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of classes K for classification, `None` for regression.
    pub fn num_classes(&self) -> Option<usize> {
        self.labels.as_ref().map(|_| self.targets.shape()[1])
    }

    /// The first `n` rows (all of them when there are fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            inputs: self.inputs.select_rows(&(0..n).collect::<Vec<_>>()),
            targets: self.targets.slice(0, 0..n),
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
            image_shape: self.image_shape,
            lengths: self.lengths.as_ref().map(|l| l[..n].to_vec()),
        }
    }

    /// The rows `rows`, in that order; panics if one is out of range.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        Dataset {
            inputs: self.inputs.select_rows(rows),
            targets: self.targets.gather_rows(rows),
            labels: self.labels.as_ref().map(|l| rows.iter().map(|&r| l[r]).collect()),
            image_shape: self.image_shape,
            lengths: self.lengths.as_ref().map(|l| rows.iter().map(|&r| l[r]).collect()),
        }
    }

    /// Shuffles the rows with the stream for `seed` and cuts them in two; the second part holds
    /// `fraction` of the rows (rounded), the first the rest (for a validation split). See
    /// [`split_off`](Dataset::split_off).
    ///
    /// Panics if `fraction` is outside [0, 1]; the CLI checks its flag before calling this.
    #[track_caller]
    pub fn split(mut self, fraction: f32, seed: u64) -> (Dataset, Dataset) {
        let second = self.split_off(fraction, seed);
        (self, second)
    }

    /// As [`split`](Dataset::split), keeping the first part in `self` and returning the second:
    /// only the second part is copied, the first moves within its buffer, so that a split never
    /// holds the data twice (a 1M-row table's validation split peaks at 1.2× its size, not 2×).
    #[track_caller]
    pub fn split_off(&mut self, fraction: f32, seed: u64) -> Dataset {
        assert!((0.0..=1.0).contains(&fraction), "Dataset::split: fraction {fraction} is outside [0, 1]");
        let mut rows: Vec<usize> = (0..self.len()).collect();
        Rng::seed(seed).shuffle(&mut rows);
        let second = ((self.len() as f64 * fraction as f64).round() as usize).min(self.len());
        let (keep, held) = rows.split_at(self.len() - second);
        let held = self.subset(held);
        self.inputs.keep_rows(keep);
        self.targets = inputs::keep_tensor_rows(std::mem::replace(&mut self.targets, Tensor::zeros(&[0])), keep);
        if let Some(labels) = &mut self.labels {
            *labels = keep.iter().map(|&r| labels[r]).collect();
        }
        if let Some(lengths) = &mut self.lengths {
            *lengths = keep.iter().map(|&r| lengths[r]).collect();
        }
        held
    }

    /// Maps every input x to (x − mean) / std (e.g. MNIST's mean 0.1307 and std 0.3081); bytes
    /// stay bytes (their 256 values are mapped).
    pub fn normalize(&mut self, mean: f32, std: f32) {
        match &mut self.inputs {
            Inputs::Bytes(b) => b.map_values(|x| (x - mean) / std),
            Inputs::F32(t) => t.data_mut().iter_mut().for_each(|x| *x = (*x - mean) / std),
        }
    }

    /// Z-scores each input column with its own mean and (population) standard deviation, and
    /// returns them as (means, stds) so that the same transform can be applied to a test set with
    /// [`apply_column_stats`](Dataset::apply_column_stats). A constant column gets std 1, so it
    /// becomes 0 instead of NaN.
    pub fn standardize_columns(&mut self) -> (Vec<f32>, Vec<f32>) {
        let inputs = self.inputs.to_tensor();
        let (n, d) = inputs.dims2("standardize_columns");
        // Sums in f64: a column of 10⁶ values near 10⁴ would lose its variance in f32.
        let mut sum = vec![0.0f64; d];
        let mut sum_sq = vec![0.0f64; d];
        for row in inputs.data().chunks_exact(d.max(1)) {
            for (j, &x) in row.iter().enumerate() {
                sum[j] += x as f64;
            }
        }
        let count = n.max(1) as f64;
        let means: Vec<f64> = sum.iter().map(|s| s / count).collect();
        // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]².
        for row in inputs.data().chunks_exact(d.max(1)) {
            for (j, &x) in row.iter().enumerate() {
                let dev = x as f64 - means[j];
                sum_sq[j] += dev * dev;
            }
        }
        let stds: Vec<f32> = sum_sq
            .iter()
            .map(|s| {
                let std = (s / count).sqrt() as f32;
                if std > 0.0 { std } else { 1.0 }
            })
            .collect();
        let means: Vec<f32> = means.iter().map(|&m| m as f32).collect();
        self.apply_column_stats(&means, &stds);
        (means, stds)
    }

    /// Maps input column j to `(x − means[j]) / stds[j]`, with statistics from
    /// [`standardize_columns`](Dataset::standardize_columns) on another set; panics if their
    /// lengths differ from the number of columns.
    #[track_caller]
    pub fn apply_column_stats(&mut self, means: &[f32], stds: &[f32]) {
        let d = self.inputs.shape()[1];
        assert!(
            means.len() == d && stds.len() == d,
            "apply_column_stats: {} means and {} stds for {d} columns",
            means.len(),
            stds.len()
        );
        for row in self.inputs.data_mut().chunks_exact_mut(d.max(1)) {
            for ((x, m), s) in row.iter_mut().zip(means).zip(stds) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// A fresh, empty folder under the system temp dir for one test's files, removed when dropped.
#[cfg(test)]
struct Scratch(std::path::PathBuf);

#[cfg(test)]
impl Scratch {
    fn new(test: &str) -> Scratch {
        // The process id keeps concurrent `cargo test` runs apart; the test name keeps tests apart.
        let dir = std::env::temp_dir().join(format!("nabla-data-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write scratch file");
        path
    }
}

#[cfg(test)]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset {
        let inputs = Tensor::from_vec((0..10).map(|x| x as f32).collect(), &[5, 2]);
        Dataset::classification(inputs, vec![0, 2, 1, 2, 0], 3, None)
    }

    #[test]
    fn classification_builds_one_hot_targets() {
        let d = small();
        assert_eq!(d.len(), 5);
        assert!(!d.is_empty());
        assert_eq!(d.num_classes(), Some(3));
        assert_eq!(&d.targets.data()[..6], &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.targets.argmax_rows(), d.labels.clone().unwrap());
    }

    #[test]
    fn take_and_subset_keep_rows_together() {
        let d = small();
        let t = d.take(2);
        assert_eq!(t.inputs.data(), &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(t.labels, Some(vec![0, 2]));
        assert_eq!(d.take(99).len(), 5);
        let s = d.subset(&[3, 0]);
        assert_eq!(s.inputs.data(), &[6.0, 7.0, 0.0, 1.0]);
        assert_eq!(s.labels, Some(vec![2, 0]));
        assert_eq!(s.targets.argmax_rows(), vec![2, 0]);
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let d = small();
        let (a, b) = d.clone().split(0.4, 7);
        assert_eq!((a.len(), b.len()), (3, 2));
        let mut firsts: Vec<f32> = a.inputs.data().iter().chain(b.inputs.data()).step_by(2).copied().collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let (a2, _) = d.clone().split(0.4, 7);
        assert_eq!(a.inputs, a2.inputs);
        assert_eq!(d.clone().split(0.0, 1).1.len(), 0);
        assert_eq!(d.clone().split(1.0, 1).0.len(), 0);
    }

    #[test]
    fn a_split_in_place_keeps_the_rows_a_copy_would() {
        // 40 rows of 3 values, f32 and bytes: the first part moved within its buffer equals the
        // same rows gathered into a new one, labels and targets alike
        let n = 40;
        let values: Vec<f32> = (0..n * 3).map(|v| v as f32).collect();
        let labels: Vec<usize> = (0..n).map(|r| r % 4).collect();
        let f32s = Dataset::classification(Tensor::from_vec(values, &[n, 3]), labels.clone(), 4, None);
        let bytes = Dataset::classification(
            Inputs::Bytes(ByteRows::new((0..n * 3).map(|v| v as u8).collect(), n, 1.0)),
            labels,
            4,
            None,
        );
        for d in [f32s, bytes] {
            let mut rows: Vec<usize> = (0..n).collect();
            Rng::seed(5).shuffle(&mut rows);
            let (keep, held) = rows.split_at(n - 10);
            let (expected_first, expected_second) = (d.subset(keep), d.subset(held));
            let (first, second) = d.split(0.25, 5);
            assert_eq!(first.inputs.gather_rows(&(0..30).collect::<Vec<_>>()), expected_first.inputs.to_tensor());
            assert_eq!((&first.labels, &first.targets), (&expected_first.labels, &expected_first.targets));
            assert_eq!(second.inputs.to_tensor(), expected_second.inputs.to_tensor());
            assert_eq!(first.len() + second.len(), n);
        }
    }

    #[test]
    fn standardize_columns_then_apply_to_another_set() {
        let inputs = Tensor::from_vec(vec![1.0, 5.0, 3.0, 5.0], &[2, 2]);
        let mut d = Dataset {
            inputs: inputs.into(),
            targets: Tensor::zeros(&[2, 1]),
            labels: None,
            image_shape: None,
            lengths: None,
        };
        assert_eq!(d.num_classes(), None);
        let (means, stds) = d.standardize_columns();
        assert_eq!((means, stds.clone()), (vec![2.0, 5.0], vec![1.0, 1.0]));
        assert_eq!(d.inputs.data(), &[-1.0, 0.0, 1.0, 0.0]);
        let mut other = d.take(1);
        other.inputs = Tensor::from_vec(vec![4.0, 6.0], &[1, 2]).into();
        other.apply_column_stats(&[2.0, 5.0], &stds);
        assert_eq!(other.inputs.data(), &[2.0, 1.0]);
        other.normalize(1.0, 2.0);
        assert_eq!(other.inputs.data(), &[0.5, 0.0]);
    }
}
