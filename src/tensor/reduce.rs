//! Reductions: sums over everything, over the rows, or back to a broadcast operand's shape (the
//! backward of broadcasting). Sums run sequentially in a fixed order so that results are the same
//! on every run.

use super::Tensor;
use super::elementwise::{broadcast_strides, walk_broadcast};

impl Tensor {
    /// The sum of all elements (accumulated in f64).
    pub fn sum(&self) -> f32 {
        self.data().iter().map(|&x| x as f64).sum::<f64>() as f32
    }

    /// The mean of all elements.
    pub fn mean(&self) -> f32 {
        self.sum() / self.numel().max(1) as f32
    }

    /// Column sums of a 2-D tensor: m×n → 1×n (the bias gradient 1ᵀ·δ).
    pub fn sum_rows(&self) -> Tensor {
        let (_, n) = self.dims2("sum_rows");
        let mut out = vec![0.0; n];
        for row in self.data().chunks_exact(n) {
            for (o, &x) in out.iter_mut().zip(row) {
                *o += x;
            }
        }
        Tensor::from_vec(out, &[1, n])
    }

    /// Sums along the dimensions that broadcasting expanded, giving a tensor of `shape`.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let n: usize = shape.iter().product();
        let fits = super::elementwise::broadcast_shape(shape, self.shape()).is_some_and(|s| s == self.shape());
        assert!(fits, "sum_to: {:?} is not a broadcast of {:?}", self.shape(), shape);
        let mut out = vec![0.0; n];
        let data = self.data();
        if n == 1 {
            out[0] = self.sum();
        } else if self.shape().ends_with(shape_trimmed(shape)) {
            for row in data.chunks_exact(n) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += x;
                }
            }
        } else {
            let strides = broadcast_strides(shape, self.shape());
            walk_broadcast(self.shape(), &strides, |o, s| out[s] += data[o]);
        }
        Tensor::from_vec(out, shape)
    }
}

fn shape_trimmed(shape: &[usize]) -> &[usize] {
    let first = shape.iter().position(|&d| d != 1).unwrap_or(shape.len());
    &shape[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_to_undoes_broadcasting() {
        let t = Tensor::from_vec((1..=6).map(|x| x as f32).collect(), &[2, 3]);
        assert_eq!(t.sum_to(&[1, 3]).data(), &[5.0, 7.0, 9.0]);
        assert_eq!(t.sum_to(&[3]).data(), &[5.0, 7.0, 9.0]);
        assert_eq!(t.sum_to(&[2, 1]).data(), &[6.0, 15.0]);
        assert_eq!(t.sum_to(&[]).data(), &[21.0]);
        assert_eq!(t.sum_rows().data(), &[5.0, 7.0, 9.0]);
    }
}
