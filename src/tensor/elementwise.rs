//! Elementwise maps and binary ops with NumPy broadcasting.
//!
//! The hot cases (same shape, a scalar, a row broadcast over the rows of a matrix as in
//! U = Y·W + 1·b) run as plain slice loops that the compiler vectorizes; any other broadcast goes
//! through a general index walk.

use super::Tensor;

/// The shape that `a` and `b` broadcast to, or `None` when they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Row-major strides of `shape` seen from the broadcast `out` shape: 0 along broadcast dimensions.
pub(super) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let offset = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        strides[i + offset] = if shape[i] == 1 { 0 } else { s };
        s *= shape[i];
    }
    strides
}

/// Calls `f(out_index, index_into_source)` for every element of `out`, walking `src_strides`.
pub(super) fn walk_broadcast(out: &[usize], src_strides: &[usize], mut f: impl FnMut(usize, usize)) {
    let total: usize = out.iter().product();
    let mut idx = vec![0usize; out.len()];
    let mut src = 0usize;
    for o in 0..total {
        f(o, src);
        // increment the multi-index like an odometer, keeping `src` in step
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            src += src_strides[d];
            if idx[d] < out[d] {
                break;
            }
            src -= src_strides[d] * idx[d];
            idx[d] = 0;
        }
    }
}

impl Tensor {
    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor::from_vec(self.data().iter().map(|&x| f(x)).collect(), self.shape())
    }

    /// Combines two tensors of the same shape elementwise.
    #[track_caller]
    pub fn zip_map(&self, other: &Tensor, op: &str, f: impl Fn(f32, f32) -> f32) -> Tensor {
        assert_eq!(self.shape(), other.shape(), "{op}: shapes differ: {:?} vs {:?}", self.shape(), other.shape());
        let data = self.data().iter().zip(other.data()).map(|(&a, &b)| f(a, b)).collect();
        Tensor::from_vec(data, self.shape())
    }

    /// Combines two tensors elementwise after broadcasting them to a common shape.
    #[track_caller]
    pub fn broadcast_map(&self, other: &Tensor, op: &str, f: impl Fn(f32, f32) -> f32) -> Tensor {
        if self.shape() == other.shape() {
            return self.zip_map(other, op, f);
        }
        let out = broadcast_shape(self.shape(), other.shape())
            .unwrap_or_else(|| panic!("{op}: shapes {:?} and {:?} do not broadcast", self.shape(), other.shape()));
        let (a, b) = (self.data(), other.data());
        // fast path: `other` is a scalar or repeats along the leading dimensions of `self`
        if out == self.shape() && a.len() % b.len().max(1) == 0 && self.shape().ends_with(trim_ones(other.shape())) {
            let mut data = Vec::with_capacity(a.len());
            for row in a.chunks_exact(b.len()) {
                data.extend(row.iter().zip(b).map(|(&x, &y)| f(x, y)));
            }
            return Tensor::from_vec(data, &out);
        }
        let sa = broadcast_strides(self.shape(), &out);
        let sb = broadcast_strides(other.shape(), &out);
        let total: usize = out.iter().product();
        let mut ia = vec![0; total];
        walk_broadcast(&out, &sa, |o, s| ia[o] = s);
        let mut data = vec![0.0; total];
        walk_broadcast(&out, &sb, |o, s| data[o] = f(a[ia[o]], b[s]));
        Tensor::from_vec(data, &out)
    }

    /// `self + other`, broadcasting.
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        self.broadcast_map(other, "add", |a, b| a + b)
    }

    /// `self − other`, broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        self.broadcast_map(other, "sub", |a, b| a - b)
    }

    /// `self ⊙ other` (elementwise product), broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        self.broadcast_map(other, "mul", |a, b| a * b)
    }

    /// `self / other` elementwise, broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        self.broadcast_map(other, "div", |a, b| a / b)
    }

    /// `s · self`.
    pub fn scale(&self, s: f32) -> Tensor {
        self.map(|x| s * x)
    }

    /// `self += other` in place; both have the same shape.
    #[track_caller]
    pub fn add_assign(&mut self, other: &Tensor) {
        assert_eq!(self.shape(), other.shape(), "add_assign: shapes differ: {:?} vs {:?}", self.shape(), other.shape());
        for (a, &b) in self.data_mut().iter_mut().zip(other.data()) {
            *a += b;
        }
    }
}

/// `shape` without its leading ones: [1, 5] → [5].
fn trim_ones(shape: &[usize]) -> &[usize] {
    let first = shape.iter().position(|&d| d != 1).unwrap_or(shape.len());
    &shape[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shape(&[4, 3], &[3]), Some(vec![4, 3]));
        assert_eq!(broadcast_shape(&[4, 1], &[1, 3]), Some(vec![4, 3]));
        assert_eq!(broadcast_shape(&[2, 1, 3], &[5, 1]), Some(vec![2, 5, 3]));
        assert_eq!(broadcast_shape(&[4, 3], &[4]), None);
    }

    #[test]
    fn bias_row_is_added_to_every_row() {
        let u = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[1, 3]);
        assert_eq!(u.add(&b).data(), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    }

    #[test]
    fn general_broadcast_matches_explicit_loops() {
        let a = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 1, 3]);
        let b = Tensor::from_vec(vec![100.0, 200.0], &[2, 1]);
        let c = a.add(&b);
        assert_eq!(c.shape(), &[2, 2, 3]);
        let mut want = vec![];
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..3 {
                    want.push((i * 3 + k) as f32 + [100.0, 200.0][j]);
                }
            }
        }
        assert_eq!(c.data(), &want[..]);
        let col = Tensor::from_vec(vec![1.0, 2.0], &[2, 1]);
        let row = Tensor::from_vec(vec![10.0, 20.0, 30.0], &[3]);
        assert_eq!(col.mul(&row).data(), &[10.0, 20.0, 30.0, 20.0, 40.0, 60.0]);
    }

    #[test]
    #[should_panic(expected = "sub: shapes [2, 3] and [2] do not broadcast")]
    fn incompatible_shapes_panic_with_both() {
        let _ = Tensor::zeros(&[2, 3]).sub(&Tensor::zeros(&[2]));
    }
}
