//! The rows of an uncompressed IDX file, read on demand with positioned reads (`pread`), so that
//! a process holds only the rows it asks for: a rank of a data-parallel run reads its part of
//! each batch, not the whole data set.
//!
//! IDX data are fixed-size rows after a header, so row r starts at byte header + r·row_len.
//! gzip cannot seek: a compressed file is first written out uncompressed (see
//! [`IdxFile::copy_to`]) and its copy opened here.

use super::idx::IdxFile;
use crate::{Error, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An uncompressed IDX file of unsigned bytes, open for reading any of its rows; its header and
/// length were checked when it was opened.
#[derive(Debug)]
pub struct RowFile {
    path: PathBuf,
    file: File,
    header_len: u64,
    /// The first dimension.
    rows: usize,
    /// The product of the other dimensions (MNIST images: 784).
    row_len: usize,
    dims: Vec<usize>,
}

impl RowFile {
    /// Opens `path`, reads its header and checks the file's length against it (an error names
    /// the first incomplete row of a truncated file). A gzip file is refused: it cannot be read
    /// at an offset.
    pub fn open(path: &Path) -> Result<RowFile> {
        let idx = IdxFile::open(path)?;
        let Some(header_len) = idx.raw_header_len() else {
            return Err(Error::format(
                path,
                "gzip stream",
                "a compressed file cannot be read a row at a time; decompress it first",
            ));
        };
        let dims = idx.dims.clone();
        drop(idx);
        let (rows, row_len) = match dims.split_first() {
            Some((&rows, rest)) => (rows, rest.iter().product()),
            None => return Err(Error::format(path, "magic number", "no dimensions; expected rows")),
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(RowFile { path: path.to_path_buf(), file, header_len: header_len as u64, rows, row_len, dims })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dimensions in the header, outermost (the rows) first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bytes in a row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Reads row `row` into `buf` (of [`RowFile::row_len`] bytes). An error names the file and
    /// the row: a row past the end, or a file that was cut short after it was opened.
    pub fn read_row(&self, row: usize, buf: &mut [u8]) -> Result<()> {
        assert_eq!(
            buf.len(),
            self.row_len,
            "RowFile::read_row: a buffer of {} bytes for rows of {}",
            buf.len(),
            self.row_len
        );
        let offset = self.header_len + (row * self.row_len) as u64;
        let place = || format!("row {row} (byte offset {offset})");
        if row >= self.rows {
            let message = format!("the file has {} rows", self.rows);
            return Err(Error::format(&self.path, place(), message));
        }
        self.file.read_exact_at(buf, offset).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                let now = self.file.metadata().map_or("fewer".to_string(), |m| m.len().to_string());
                let message = format!(
                    "truncated: the row's {} bytes end at byte {}, but the file now holds {now} (it was cut short \
                     after it was opened)",
                    self.row_len,
                    offset + self.row_len as u64
                );
                Error::format(&self.path, place(), message)
            }
            _ => Error::io(&self.path, e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scratch;
    use crate::data::idx::{encode, gzip};

    fn message(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    }

    #[test]
    fn rows_are_read_at_their_offsets() {
        let dir = Scratch::new("row_file_rows");
        let data: Vec<u8> = (0..24).collect();
        let file = RowFile::open(&dir.write("r.idx", &encode(&[4, 2, 3], &data))).unwrap();
        assert_eq!((file.rows(), file.row_len(), file.dims()), (4, 6, &[4, 2, 3][..]));
        let mut row = [0u8; 6];
        for r in [3, 0, 2] {
            file.read_row(r, &mut row).unwrap();
            assert_eq!(row.to_vec(), data[r * 6..(r + 1) * 6].to_vec());
        }
        let text = message(file.read_row(4, &mut row));
        assert!(text.contains("r.idx: row 4 (byte offset 40): the file has 4 rows"), "{text}");
    }

    #[test]
    fn a_truncated_file_names_the_file_and_the_row() {
        let dir = Scratch::new("row_file_truncated");
        let full = encode(&[3, 4], &(0..12).collect::<Vec<u8>>());
        // cut short before it is opened: the first incomplete row
        let path = dir.write("t.idx", &full[..full.len() - 3]);
        let text = message(RowFile::open(&path));
        assert!(text.contains("t.idx: byte offset 21: truncated") && text.contains("row 2 of 3"), "{text}");
        // cut short after it is opened: the row that can no longer be read
        let path = dir.write("u.idx", &full);
        let file = RowFile::open(&path).unwrap();
        std::fs::write(&path, &full[..full.len() - 5]).unwrap();
        let mut row = [0u8; 4];
        file.read_row(0, &mut row).unwrap();
        let text = message(file.read_row(2, &mut row));
        assert!(text.contains("u.idx: row 2 (byte offset 20): truncated") && text.contains("now holds 19"), "{text}");
    }

    #[test]
    fn gzip_is_refused_and_its_copy_reads_the_same() {
        let dir = Scratch::new("row_file_gzip");
        let raw = encode(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let gz = dir.write("g.idx.gz", &gzip(&raw));
        let text = message(RowFile::open(&gz));
        assert!(text.contains("g.idx.gz: gzip stream") && text.contains("decompress it first"), "{text}");
        let copy = dir.0.join("g.idx");
        let mut out = File::create(&copy).unwrap();
        IdxFile::open(&gz).unwrap().copy_to(&mut out, &copy).unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), raw);
        let mut row = [0u8; 3];
        RowFile::open(&copy).unwrap().read_row(1, &mut row).unwrap();
        assert_eq!(row, [4, 5, 6]);
        // a truncated stream is an error of the source, not a short copy
        let cut = dir.write("c.idx.gz", &gzip(&raw[..raw.len() - 1]));
        let text = message(IdxFile::open(&cut).unwrap().copy_to(&mut Vec::new(), &copy));
        assert!(text.contains("c.idx.gz: byte offset 17: truncated"), "{text}");
    }
}
