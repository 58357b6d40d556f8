//! The n-dimensional f32 tensor: a shape and a shared, row-major buffer.
//!
//! Cloning a [`Tensor`] is cheap (the buffer is reference-counted); writing through
//! [`Tensor::data_mut`] copies the buffer only when another clone still shares it. The autodiff
//! graph keeps clones of the values it needs for backward, and the optimizer writes the weights in
//! place once that graph is gone.
//!
//! Shape mismatches are programmer errors: they panic with the op's name and both shapes.

mod elementwise;
mod gemm;
pub(crate) mod gemm_tn;
pub(crate) mod packed;
mod reduce;
mod shape_ops;
pub(crate) mod simd;
pub(crate) mod spare;
pub(crate) mod team;
mod tile;

pub use gemm::{Transpose, gemm_into};

use std::fmt;
use std::sync::Arc;

/// An n-dimensional array of `f32`, row-major.
///
/// ```
/// use nabla::Tensor;
/// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = a.matmul(&a);
/// assert_eq!(b.data(), &[7.0, 10.0, 15.0, 22.0]);
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Vec<f32>>,
}

impl Tensor {
    /// A tensor that takes `data` as its buffer; panics if its length is not the product of `shape`.
    #[track_caller]
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            n,
            "Tensor::from_vec: {} values do not fill shape {:?} ({} values)",
            data.len(),
            shape,
            n
        );
        Tensor { shape: shape.to_vec(), data: Arc::new(data) }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::from_vec(vec![value; shape.iter().product()], shape)
    }

    /// A tensor of shape `[]` holding one number.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_vec(vec![value], &[])
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values for writing; copies the buffer first if another clone shares it.
    pub fn data_mut(&mut self) -> &mut [f32] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The buffer, without a copy when this is the only clone.
    pub fn into_vec(self) -> Vec<f32> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The single value of a one-element tensor.
    #[track_caller]
    pub fn item(&self) -> f32 {
        assert_eq!(self.numel(), 1, "Tensor::item: shape {:?} holds {} values, expected 1", self.shape, self.numel());
        self.data[0]
    }

    /// Rows and columns of a 2-D tensor; panics naming `op` otherwise.
    #[track_caller]
    pub fn dims2(&self, op: &str) -> (usize, usize) {
        match self.shape[..] {
            [r, c] => (r, c),
            _ => panic!("{op}: expected a 2-D tensor, got shape {:?}", self.shape),
        }
    }

    /// Whether both tensors share one buffer (no copy was made between them).
    pub fn shares_buffer(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The index of the largest value in each row of a 2-D tensor.
    pub fn argmax_rows(&self) -> Vec<usize> {
        let (_, c) = self.dims2("argmax_rows");
        self.data
            .chunks_exact(c)
            .map(|row| {
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        write!(f, "Tensor{:?} {:?}", self.shape, &self.data[..self.numel().min(SHOWN)])?;
        if self.numel() > SHOWN {
            write!(f, "…")?;
        }
        Ok(())
    }
}
