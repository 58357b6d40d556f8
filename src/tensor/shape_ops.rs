//! Movement ops: reshape (no copy), transpose, concatenation and slicing along an axis.

use super::Tensor;
use std::ops::Range;

impl Tensor {
    /// The same values under another shape with as many elements; shares the buffer.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(n, self.numel(), "reshape: cannot view shape {:?} as {:?}", self.shape(), shape);
        Tensor { shape: shape.to_vec(), data: self.data.clone() }
    }

    /// The transpose of a 2-D tensor.
    pub fn transpose(&self) -> Tensor {
        // Tile by tile: a row-by-row walk writes every value to a new cache line (1.1 ms for a
        // 512×512 matrix here, 0.22 ms in tiles). 16 rather than 32: the 32 output lines of a
        // 32-wide tile lie a power of two apart, fall into the same few L1 sets and evict each
        // other (0.8 ms).
        const TILE: usize = 16;
        let (r, c) = self.dims2("transpose");
        let src = self.data();
        let mut out = vec![0.0; r * c];
        for i0 in (0..r).step_by(TILE) {
            for j0 in (0..c).step_by(TILE) {
                let j1 = (j0 + TILE).min(c);
                for i in i0..(i0 + TILE).min(r) {
                    for (j, &x) in (j0..j1).zip(&src[i * c + j0..i * c + j1]) {
                        out[j * r + i] = x;
                    }
                }
            }
        }
        Tensor::from_vec(out, &[c, r])
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    #[track_caller]
    pub fn concat(parts: &[&Tensor], axis: usize) -> Tensor {
        assert!(!parts.is_empty(), "concat: no tensors given");
        let first = parts[0].shape();
        assert!(axis < first.len(), "concat: axis {axis} out of range for shape {first:?}");
        for p in parts {
            let same = p.ndim() == first.len()
                && p.shape().iter().zip(first).enumerate().all(|(d, (a, b))| d == axis || a == b);
            assert!(same, "concat: shape {:?} does not fit {:?} along axis {axis}", p.shape(), first);
        }
        let outer: usize = first[..axis].iter().product();
        let inner: usize = first[axis + 1..].iter().product();
        let total_axis: usize = parts.iter().map(|p| p.shape()[axis]).sum();
        let mut data = Vec::with_capacity(outer * total_axis * inner);
        for o in 0..outer {
            for p in parts {
                let chunk = p.shape()[axis] * inner;
                data.extend_from_slice(&p.data()[o * chunk..(o + 1) * chunk]);
            }
        }
        let mut shape = first.to_vec();
        shape[axis] = total_axis;
        Tensor::from_vec(data, &shape)
    }

    /// The part of the tensor whose index along `axis` lies in `range`.
    #[track_caller]
    pub fn slice(&self, axis: usize, range: Range<usize>) -> Tensor {
        let shape = self.shape();
        assert!(
            axis < shape.len() && range.start <= range.end && range.end <= shape[axis],
            "slice: range {range:?} along axis {axis} is outside shape {shape:?}"
        );
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let len = range.end - range.start;
        let mut data = Vec::with_capacity(outer * len * inner);
        for o in 0..outer {
            let base = (o * shape[axis] + range.start) * inner;
            data.extend_from_slice(&self.data()[base..base + len * inner]);
        }
        let mut out_shape = shape.to_vec();
        out_shape[axis] = len;
        Tensor::from_vec(data, &out_shape)
    }

    /// Rows `rows` of the tensor gathered, in that order, along the first axis (a mini-batch).
    pub fn gather_rows(&self, rows: &[usize]) -> Tensor {
        let row_len: usize = self.shape()[1..].iter().product();
        let mut data = Vec::with_capacity(rows.len() * row_len);
        for &r in rows {
            data.extend_from_slice(&self.data()[r * row_len..(r + 1) * row_len]);
        }
        let mut shape = self.shape().to_vec();
        shape[0] = rows.len();
        Tensor::from_vec(data, &shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_and_slice_are_inverse() {
        let a = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 3]);
        let b = Tensor::from_vec((10..14).map(|x| x as f32).collect(), &[2, 2]);
        let c = Tensor::concat(&[&a, &b], 1);
        assert_eq!(c.shape(), &[2, 5]);
        assert_eq!(c.data(), &[0.0, 1.0, 2.0, 10.0, 11.0, 3.0, 4.0, 5.0, 12.0, 13.0]);
        assert_eq!(c.slice(1, 0..3), a);
        assert_eq!(c.slice(1, 3..5), b);
        assert_eq!(a.transpose().transpose(), a);
        assert!(a.reshape(&[3, 2]).shares_buffer(&a));
    }

    #[test]
    fn transpose_moves_every_value_across_partial_tiles() {
        let (r, c) = (37, 70);
        let a = Tensor::from_vec((0..r * c).map(|x| x as f32).collect(), &[r, c]);
        let t = a.transpose();
        assert_eq!(t.shape(), &[c, r]);
        for i in 0..r {
            for j in 0..c {
                assert_eq!(t.data()[j * r + i], a.data()[i * c + j], "({i}, {j})");
            }
        }
    }
}
