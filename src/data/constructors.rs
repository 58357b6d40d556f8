//! A [`Dataset`] from numbers the caller already holds: a [`Tensor`] or a slice of inputs, with
//! class labels (classification: one-hot targets are made from them) or target values
//! (regression), as PyTorch's `TensorDataset(x, y)`. Lengths and shapes that do not agree are an
//! error naming both.

use super::Dataset;
use crate::tensor::Tensor;
use crate::{Error, Result};

impl Dataset {
    /// A classification set: `inputs` N × D (one row per example) and the class of each row,
    /// each below `classes`; the targets are the labels' one-hot rows, N × `classes`.
    ///
    /// ```
    /// use nabla::{Tensor, data::Dataset};
    /// let x = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[3, 2]);
    /// let data = Dataset::from_labels(x, vec![0, 1, 1], 2).unwrap();
    /// assert_eq!((data.len(), data.num_classes()), (3, Some(2)));
    /// assert_eq!(data.targets.data(), &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    /// let err = Dataset::from_labels(Tensor::zeros(&[3, 2]), vec![0, 1], 2).unwrap_err();
    /// assert!(err.to_string().contains("3 rows of inputs but 2 labels"));
    /// ```
    pub fn from_labels(inputs: Tensor, labels: Vec<usize>, classes: usize) -> Result<Dataset> {
        let n = rows("inputs", &inputs)?;
        if labels.len() != n {
            return Err(Error::config(format!("dataset: {n} rows of inputs but {} labels", labels.len())));
        }
        if classes == 0 {
            return Err(Error::config("dataset: 0 classes: a classification set needs at least one"));
        }
        if let Some((row, label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(Error::config(format!(
                "dataset: label {label} of row {row} is not below the number of classes, {classes}"
            )));
        }
        Ok(Dataset::classification(inputs, labels, classes, None))
    }

    /// A regression set: `inputs` N × D and `targets` N × K (or a vector of N values, one target
    /// per row).
    ///
    /// ```
    /// use nabla::{Tensor, data::Dataset};
    /// let x = Tensor::from_vec(vec![0.0, 1.0, 2.0], &[3, 1]);
    /// let data = Dataset::from_targets(x.clone(), Tensor::from_vec(vec![1.0, 3.0, 5.0], &[3])).unwrap();
    /// assert_eq!((data.targets.shape(), data.num_classes()), (&[3, 1][..], None));
    /// let err = Dataset::from_targets(x, Tensor::zeros(&[2, 1])).unwrap_err();
    /// assert!(err.to_string().contains("inputs [3, 1] and targets [2, 1]"));
    /// ```
    pub fn from_targets(inputs: Tensor, targets: Tensor) -> Result<Dataset> {
        let n = rows("inputs", &inputs)?;
        let targets = match targets.shape() {
            [m] => targets.reshape(&[*m, 1]),
            _ => targets,
        };
        rows("targets", &targets)?;
        if targets.shape()[0] != n {
            return Err(Error::config(format!(
                "dataset: inputs {:?} and targets {:?} have different numbers of rows",
                inputs.shape(),
                targets.shape()
            )));
        }
        Ok(Dataset { inputs: inputs.into(), targets, labels: None, image_shape: None, lengths: None })
    }

    /// [`Dataset::from_labels`] from a slice of inputs, `features` numbers per row, row after row.
    ///
    /// ```
    /// use nabla::data::Dataset;
    /// let data = Dataset::from_label_slices(&[0.0, 1.0, 1.0, 0.0], 2, &[0, 1], 2).unwrap();
    /// assert_eq!(data.inputs.shape(), &[2, 2]);
    /// let err = Dataset::from_label_slices(&[0.0, 1.0, 1.0], 2, &[0, 1], 2).unwrap_err();
    /// assert!(err.to_string().contains("3 input numbers are not rows of 2 features"));
    /// ```
    pub fn from_label_slices(inputs: &[f32], features: usize, labels: &[usize], classes: usize) -> Result<Dataset> {
        Dataset::from_labels(matrix("input", inputs, features, "features")?, labels.to_vec(), classes)
    }

    /// [`Dataset::from_targets`] from slices: `features` input numbers and `outputs` target
    /// numbers per row, row after row.
    ///
    /// ```
    /// use nabla::data::Dataset;
    /// let data = Dataset::from_target_slices(&[0.0, 1.0, 2.0], 1, &[1.0, 3.0, 5.0], 1).unwrap();
    /// assert_eq!(data.targets.shape(), &[3, 1]);
    /// ```
    pub fn from_target_slices(inputs: &[f32], features: usize, targets: &[f32], outputs: usize) -> Result<Dataset> {
        let x = matrix("input", inputs, features, "features")?;
        let t = matrix("target", targets, outputs, "outputs")?;
        Dataset::from_targets(x, t)
    }
}

/// The rows of a 2-D tensor, or an error naming `what` and its shape.
fn rows(what: &str, t: &Tensor) -> Result<usize> {
    match t.shape() {
        [n, _] => Ok(*n),
        shape => Err(Error::config(format!(
            "dataset: {what} of shape {shape:?}, expected N × D (one row per example; reshape images to N × C·H·W)"
        ))),
    }
}

/// `values` as rows of `width` numbers, or an error if they do not divide into such rows.
fn matrix(what: &str, values: &[f32], width: usize, unit: &str) -> Result<Tensor> {
    if width == 0 || !values.len().is_multiple_of(width) {
        return Err(Error::config(format!("dataset: {} {what} numbers are not rows of {width} {unit}", values.len())));
    }
    Ok(Tensor::from_vec(values.to_vec(), &[values.len() / width, width]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_refuse_what_does_not_fit() {
        let x = || Tensor::zeros(&[2, 3]);
        let err = |r: Result<Dataset>| r.unwrap_err().to_string();
        assert!(err(Dataset::from_labels(x(), vec![0, 5], 3)).contains("label 5 of row 1 is not below"));
        assert!(err(Dataset::from_labels(x(), vec![], 0)).contains("2 rows of inputs but 0 labels"));
        assert!(err(Dataset::from_labels(x(), vec![0, 0], 0)).contains("0 classes"));
        assert!(err(Dataset::from_labels(Tensor::zeros(&[2, 1, 2, 2]), vec![0, 0], 1)).contains("[2, 1, 2, 2]"));
        assert!(err(Dataset::from_targets(x(), Tensor::zeros(&[2, 1, 1]))).contains("targets of shape [2, 1, 1]"));
        assert!(err(Dataset::from_target_slices(&[1.0; 6], 3, &[1.0; 3], 2)).contains("3 target numbers"));
        assert!(err(Dataset::from_target_slices(&[1.0; 6], 0, &[1.0; 2], 1)).contains("rows of 0 features"));
        assert!(err(Dataset::from_target_slices(&[1.0; 6], 3, &[1.0; 4], 1)).contains("different numbers of rows"));
        let ok = Dataset::from_label_slices(&[1.0; 6], 3, &[2, 0], 3).unwrap();
        assert_eq!((ok.labels, ok.targets.data()), (Some(vec![2, 0]), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0][..]));
    }
}
