//! A dataset's input rows: f32 values (tables), or bytes (image pixels) that become f32 one
//! mini-batch at a time.
//!
//! MNIST's 70,000 images are 55 MB as bytes and 220 MB as f32. Held as bytes, each byte value v
//! stands for `values[v]`, a table of 256 floats: scaling (v/255) and normalising ((x − mean)/std)
//! rewrite the table, not the pixels, and a batch is gathered through it. A table entry is the
//! result of the same f32 operations on the same operands as the per-pixel computation it
//! replaces, so a batch holds the same bits either way.

use super::row_file::RowFile;
use crate::Result;
use crate::tensor::Tensor;
use std::path::Path;
use std::sync::Arc;

/// N × D input rows, as f32 or as bytes that stand for f32 values.
#[derive(Clone, Debug, PartialEq)]
pub enum Inputs {
    /// N × D values (a CSV table's columns).
    F32(Tensor),
    /// N × D bytes (pixels) with the value each byte stands for.
    Bytes(ByteRows),
}

/// N × D bytes and the f32 value of each of the 256 byte values; cheap to clone (the bytes are
/// shared). The bytes are in memory, or rows of a file read when a batch is gathered
/// ([`ByteRows::on_disk`]).
#[derive(Clone, Debug)]
pub struct ByteRows {
    bytes: Storage,
    /// [N, D]
    shape: [usize; 2],
    /// boxed: 1 KiB inline would make every `Inputs` that large
    values: Box<[f32; 256]>,
}

/// Where the bytes of [`ByteRows`] are.
#[derive(Clone, Debug)]
enum Storage {
    // a Vec, not [u8]: Arc<[u8]> from a Vec copies it
    Memory(Arc<Vec<u8>>),
    /// Row i is row `rows[i]` of the file (a selection or split keeps indices, not bytes).
    File {
        file: Arc<RowFile>,
        rows: Arc<Vec<u32>>,
    },
}

/// Rows on disk are equal when they are the same rows of the same file.
impl PartialEq for Storage {
    fn eq(&self, other: &Storage) -> bool {
        match (self, other) {
            (Storage::Memory(a), Storage::Memory(b)) => a == b,
            (Storage::File { file: f, rows: r }, Storage::File { file: g, rows: s }) => f.path() == g.path() && r == s,
            _ => false,
        }
    }
}

impl PartialEq for ByteRows {
    fn eq(&self, other: &ByteRows) -> bool {
        self.shape == other.shape && self.values == other.values && self.bytes == other.bytes
    }
}

impl ByteRows {
    /// `rows` rows of `bytes.len() / rows` bytes each, with byte v standing for v/`scale` (255 for
    /// pixels in [0, 1]: division, not × 1/255, gives the correctly rounded v/255). Panics if the
    /// bytes do not split into `rows` equal rows.
    #[track_caller]
    pub fn new(bytes: Vec<u8>, rows: usize, scale: f32) -> ByteRows {
        let cols = bytes.len().checked_div(rows).unwrap_or(0);
        assert_eq!(rows * cols, bytes.len(), "ByteRows: {} bytes do not split into {rows} equal rows", bytes.len());
        ByteRows { bytes: Storage::Memory(Arc::new(bytes)), shape: [rows, cols], values: values(scale) }
    }

    /// The rows of `file`, left on disk: each gathered batch reads its rows (and only those) from
    /// the file, with byte v standing for v/`scale`.
    pub fn on_disk(file: RowFile, scale: f32) -> ByteRows {
        let shape = [file.rows(), file.row_len()];
        let rows = Arc::new((0..file.rows() as u32).collect());
        ByteRows { bytes: Storage::File { file: Arc::new(file), rows }, shape, values: values(scale) }
    }

    /// [N, D].
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }

    /// The file the rows are read from, if they are on disk.
    pub fn file(&self) -> Option<&Path> {
        match &self.bytes {
            Storage::Memory(_) => None,
            Storage::File { file, .. } => Some(file.path()),
        }
    }

    /// The bytes, row after row. Panics for rows on disk, which are not in memory (see
    /// [`ByteRows::scan`]).
    #[track_caller]
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Storage::Memory(bytes) => bytes,
            Storage::File { file, .. } => {
                panic!("ByteRows::bytes: the rows are on disk ({}); scan() reads them", file.path().display())
            }
        }
    }

    /// Calls `visit` with the bytes, row after row, in pieces (rows on disk are read one at a
    /// time, never all at once); an error names the file and row that could not be read.
    pub fn scan(&self, visit: &mut dyn FnMut(&[u8])) -> Result<()> {
        match &self.bytes {
            Storage::Memory(bytes) => visit(bytes),
            Storage::File { file, rows } => {
                let mut row = vec![0u8; self.shape[1]];
                for &r in rows.iter() {
                    file.read_row(r as usize, &mut row)?;
                    visit(&row);
                }
            }
        }
        Ok(())
    }

    /// The f32 value that byte value v stands for, at index v.
    pub fn values(&self) -> &[f32; 256] {
        &self.values
    }

    /// Replaces the value of every byte value x by `f(x)` (a normalisation).
    pub fn map_values(&mut self, f: impl Fn(f32) -> f32) {
        for x in self.values.iter_mut() {
            *x = f(*x);
        }
    }

    /// Appends the values that the bytes of `rows` stand for, row after row, to `out`. Panics,
    /// naming the file and row, if a row on disk cannot be read: the file was checked when it was
    /// opened, so only a file changed since (cut short in place, a failing disk) gets here.
    fn gather_into(&self, rows: &[usize], out: &mut Vec<f32>) {
        let d = self.shape[1];
        match &self.bytes {
            Storage::Memory(bytes) => {
                for &r in rows {
                    out.extend(bytes[r * d..(r + 1) * d].iter().map(|&v| self.values[v as usize]));
                }
            }
            Storage::File { file, rows: index } => {
                let mut row = vec![0u8; d];
                for &r in rows {
                    if let Err(e) = file.read_row(index[r] as usize, &mut row) {
                        panic!("{e}");
                    }
                    out.extend(row.iter().map(|&v| self.values[v as usize]));
                }
            }
        }
    }

    /// The rows `rows`, as bytes, in that order (rows on disk stay there: their indices are
    /// selected).
    fn select(&self, rows: &[usize]) -> ByteRows {
        let d = self.shape[1];
        let bytes = match &self.bytes {
            Storage::Memory(bytes) => {
                let mut picked = Vec::with_capacity(rows.len() * d);
                for &r in rows {
                    picked.extend_from_slice(&bytes[r * d..(r + 1) * d]);
                }
                Storage::Memory(Arc::new(picked))
            }
            Storage::File { file, rows: index } => {
                Storage::File { file: file.clone(), rows: Arc::new(rows.iter().map(|&r| index[r]).collect()) }
            }
        };
        ByteRows { bytes, shape: [rows.len(), d], values: self.values.clone() }
    }

    /// Keeps the rows `keep` (distinct indices), in that order, within the buffer.
    #[track_caller]
    fn keep(&mut self, keep: &[usize]) {
        match &mut self.bytes {
            Storage::Memory(bytes) => keep_rows_in_place(Arc::make_mut(bytes), self.shape[1], keep),
            Storage::File { rows, .. } => keep_rows_in_place(Arc::make_mut(rows), 1, keep),
        }
        self.shape[0] = keep.len();
    }
}

/// The table of the values that byte v stands for: v/`scale`.
fn values(scale: f32) -> Box<[f32; 256]> {
    Box::new(std::array::from_fn(|v| v as f32 / scale))
}

impl Inputs {
    /// [N, D].
    pub fn shape(&self) -> &[usize] {
        match self {
            Inputs::F32(t) => t.shape(),
            Inputs::Bytes(b) => &b.shape,
        }
    }

    /// The rows `rows`, in that order, as an f32 tensor (a mini-batch); panics if one is out of
    /// range.
    pub fn gather_rows(&self, rows: &[usize]) -> Tensor {
        match self {
            Inputs::F32(t) => t.gather_rows(rows),
            Inputs::Bytes(b) => {
                let d = b.shape[1];
                let mut data = Vec::with_capacity(rows.len() * d);
                b.gather_into(rows, &mut data);
                Tensor::from_vec(data, &[rows.len(), d])
            }
        }
    }

    /// The rows `rows`, in that order, stored as these are (bytes stay bytes).
    pub fn select_rows(&self, rows: &[usize]) -> Inputs {
        match self {
            Inputs::F32(t) => Inputs::F32(t.gather_rows(rows)),
            Inputs::Bytes(b) => Inputs::Bytes(b.select(rows)),
        }
    }

    /// Keeps the rows `keep` (distinct indices), in that order, moving them within the buffer
    /// (which a clone still sharing it would copy first) instead of copying them out.
    #[track_caller]
    pub fn keep_rows(&mut self, keep: &[usize]) {
        match self {
            Inputs::F32(t) => *t = keep_tensor_rows(std::mem::replace(t, Tensor::zeros(&[0])), keep),
            Inputs::Bytes(b) => b.keep(keep),
        }
    }

    /// Every row as an f32 tensor (a copy for bytes; a shared buffer for f32).
    pub fn to_tensor(&self) -> Tensor {
        match self {
            Inputs::F32(t) => t.clone(),
            Inputs::Bytes(b) => self.gather_rows(&(0..b.shape[0]).collect::<Vec<_>>()),
        }
    }

    /// The f32 values, row after row; panics for bytes, which have none to lend (use
    /// [`to_tensor`](Inputs::to_tensor) or [`gather_rows`](Inputs::gather_rows)).
    #[track_caller]
    pub fn data(&self) -> &[f32] {
        match self {
            Inputs::F32(t) => t.data(),
            Inputs::Bytes(_) => panic!("Inputs::data: the inputs are bytes; call to_tensor() for their f32 values"),
        }
    }

    /// The inputs as an f32 tensor to change in place; bytes become f32 first (4× the memory).
    pub fn tensor_mut(&mut self) -> &mut Tensor {
        if let Inputs::Bytes(_) = self {
            *self = Inputs::F32(self.to_tensor());
        }
        match self {
            Inputs::F32(t) => t,
            Inputs::Bytes(_) => unreachable!("converted to f32 above"),
        }
    }

    /// The f32 values to change in place, as [`tensor_mut`](Inputs::tensor_mut).
    pub fn data_mut(&mut self) -> &mut [f32] {
        self.tensor_mut().data_mut()
    }
}

/// The rows `keep` of the 2-D tensor `t`, in that order, moved within its buffer.
#[track_caller]
pub(crate) fn keep_tensor_rows(t: Tensor, keep: &[usize]) -> Tensor {
    let (_, d) = t.dims2("keep_rows");
    let mut data = t.into_vec();
    keep_rows_in_place(&mut data, d, keep);
    Tensor::from_vec(data, &[keep.len(), d])
}

/// Keeps the rows `keep` (distinct indices below the row count), in that order, of the row-major
/// `data` of rows of `d` values: row i becomes old row keep[i], the others are dropped. Rows move
/// within the buffer, cycle by cycle of the permutation, through one row of scratch, so that a
/// split of a large table never holds two copies of it. Panics on an index out of range or
/// repeated.
#[track_caller]
fn keep_rows_in_place<T: Copy>(data: &mut Vec<T>, d: usize, keep: &[usize]) {
    let n = data.len().checked_div(d).unwrap_or(0);
    let mut kept = vec![false; n];
    for &r in keep {
        assert!(r < n && !kept[r], "keep_rows: row {r} is out of range (0..{n}) or given twice");
        kept[r] = true;
    }
    // a whole permutation, new row i = old row perm[i]: the kept rows, then the others
    let perm: Vec<usize> = keep.iter().copied().chain((0..n).filter(|&r| !kept[r])).collect();
    let mut placed = vec![false; n];
    let mut scratch = Vec::with_capacity(d);
    for start in 0..n {
        if placed[start] {
            continue;
        }
        scratch.clear();
        scratch.extend_from_slice(&data[start * d..(start + 1) * d]);
        let mut j = start;
        loop {
            placed[j] = true;
            let k = perm[j];
            if k == start {
                data[j * d..(j + 1) * d].copy_from_slice(&scratch);
                break;
            }
            data.copy_within(k * d..(k + 1) * d, j * d);
            j = k;
        }
    }
    data.truncate(keep.len() * d);
}

impl From<Tensor> for Inputs {
    fn from(t: Tensor) -> Inputs {
        Inputs::F32(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes() -> Inputs {
        Inputs::Bytes(ByteRows::new(vec![0, 51, 255, 102, 1, 2], 3, 255.0))
    }

    #[test]
    fn bytes_gather_as_the_floats_they_stand_for() {
        let x = bytes();
        assert_eq!(x.shape(), &[3, 2]);
        let batch = x.gather_rows(&[2, 0]);
        assert_eq!(batch.shape(), &[2, 2]);
        assert_eq!(batch.data(), &[1.0 / 255.0, 2.0 / 255.0, 0.0, 51.0 / 255.0]);
        let picked = x.select_rows(&[1]);
        assert!(matches!(picked, Inputs::Bytes(_)));
        assert_eq!(picked.to_tensor().data(), &[1.0, 102.0 / 255.0]);
    }

    #[test]
    fn mapped_values_equal_the_per_pixel_computation_bit_for_bit() {
        let (mean, std) = (0.1307f32, 0.3081f32);
        let mut x = bytes();
        let Inputs::Bytes(b) = &mut x else { unreachable!() };
        b.map_values(|v| (v - mean) / std);
        let direct: Vec<f32> = [0u8, 51, 255, 102, 1, 2].iter().map(|&v| (v as f32 / 255.0 - mean) / std).collect();
        let via_table = x.to_tensor();
        let bits = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(via_table.data()), bits(&direct));
    }

    #[test]
    fn data_mut_turns_bytes_into_floats() {
        let mut x = bytes();
        x.data_mut()[0] = 7.0;
        assert!(matches!(x, Inputs::F32(_)));
        assert_eq!(&x.data()[..2], &[7.0, 51.0 / 255.0]);
        let f: Inputs = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).into();
        assert_eq!(f.gather_rows(&[0]).data(), &[1.0, 2.0]);
    }

    #[test]
    #[should_panic(expected = "the inputs are bytes")]
    fn data_of_bytes_panics_with_a_hint() {
        bytes().data();
    }
}
