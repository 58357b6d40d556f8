//! The IDX format (LeCun's MNIST files), raw or gzip-compressed.
//!
//! A file is a big-endian u32 magic `00 00 TT NN` (TT = data type, only 0x08 = unsigned byte is
//! read here; NN = number of dimensions), then one big-endian u32 per dimension, then the values,
//! row-major. A file that starts with the gzip magic `1f 8b` is decompressed first, whatever its
//! name.

use crate::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The contents of an IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// The size of each dimension, outermost first (MNIST images: count, 28, 28).
    pub dims: Vec<usize>,
    /// The values, row-major; exactly as many as the dimensions multiply to.
    pub data: Vec<u8>,
}

/// The IDX type byte for unsigned bytes, the only type MNIST uses.
const UBYTE: u8 = 0x08;

/// Reads an IDX file of unsigned bytes, raw or gzip-compressed.
pub fn read_idx(path: &Path) -> Result<Idx> {
    IdxFile::open(path)?.read_data()
}

/// An IDX file whose header has been read and checked, its data not yet: a caller can check the
/// dimensions (MNIST: one label per image) before the data is read. Memory is bounded by the
/// data itself: a raw file's dimensions are checked against the file's length before anything
/// is allocated, and a gzip stream is read as it decompresses, never more than the dimensions
/// need plus one byte, with no buffer reserved from the header's word (a gzip bomb claiming two
/// million images is refused at its real end, or as soon as the caller's count check says no).
pub struct IdxFile {
    path: PathBuf,
    /// The size of each dimension, outermost first.
    pub dims: Vec<usize>,
    header_len: usize,
    /// The number of data bytes the dimensions need.
    expected: usize,
    stream: Stream,
}

enum Stream {
    /// A raw file, with the number of data bytes after the header.
    Raw(BufReader<File>, usize),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
}

impl Stream {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Stream::Raw(r, _) => r,
            Stream::Gzip(r) => r.as_mut(),
        }
    }
}

impl IdxFile {
    /// Opens `path` and reads its header (decompressing only what the header needs).
    pub fn open(path: &Path) -> Result<IdxFile> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut start = [0u8; 2];
        let n = read_up_to(&mut file, &mut start).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
        let gzip = n == 2 && start == [0x1f, 0x8b];
        let mut stream = if gzip {
            Stream::Gzip(Box::new(MultiGzDecoder::new(BufReader::new(file))))
        } else {
            Stream::Raw(BufReader::new(file), 0)
        };
        let (dims, header_len) = read_header(path, stream.reader(), gzip)?;
        let Some(expected) = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            return Err(Error::format(path, "dimensions", format!("{dims:?} multiply past the address space")));
        };
        if let Stream::Raw(_, found) = &mut stream {
            // the header has been read whole, so the file has at least header_len bytes
            *found = usize::try_from(len).unwrap_or(usize::MAX) - header_len;
            check_length(path, &dims, header_len, expected, *found, "")?;
        }
        Ok(IdxFile { path: path.to_path_buf(), dims, header_len, expected, stream })
    }

    /// Reads the data, checking that there is exactly as much as the dimensions need.
    pub fn read_data(self) -> Result<Idx> {
        let IdxFile { path, dims, header_len, expected, mut stream } = self;
        let path = path.as_path();
        let data = match &mut stream {
            Stream::Raw(reader, _) => {
                // checked against the file's length when the header was read
                let mut data = vec![0; expected];
                reader.read_exact(&mut data).map_err(|e| Error::io(path, e))?;
                data
            }
            Stream::Gzip(reader) => {
                // grows with what the stream really holds, up to one byte past what is expected
                let mut data = Vec::new();
                let limit = (expected as u64).saturating_add(1);
                reader.as_mut().take(limit).read_to_end(&mut data).map_err(|e| gzip_error(path, e))?;
                check_length(path, &dims, header_len, expected, data.len(), " or more")?;
                data
            }
        };
        Ok(Idx { dims, data })
    }
}

impl IdxFile {
    /// The length of the header of a raw (uncompressed) file, whose data can be read at any
    /// offset; `None` for gzip, which can only be read from the start.
    pub fn raw_header_len(&self) -> Option<usize> {
        matches!(self.stream, Stream::Raw(..)).then_some(self.header_len)
    }

    /// Writes the file, uncompressed, to `out` (the file `out_path`, named in its errors) as it
    /// decompresses, through a buffer of 64 kB, never the whole data; checks that there is exactly
    /// as much data as the dimensions need.
    pub fn copy_to(self, out: &mut dyn Write, out_path: &Path) -> Result<()> {
        let IdxFile { path, dims, header_len, expected, mut stream } = self;
        let gzip = matches!(stream, Stream::Gzip(_));
        out.write_all(&header(&dims)).map_err(|e| Error::io(out_path, e))?;
        let mut data = stream.reader().take((expected as u64).saturating_add(1));
        let mut buf = vec![0u8; 64 * 1024];
        let mut found = 0usize;
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if gzip => return Err(gzip_error(&path, e)),
                Err(e) => return Err(Error::io(&path, e)),
            };
            found += n;
            out.write_all(&buf[..n]).map_err(|e| Error::io(out_path, e))?;
        }
        check_length(&path, &dims, header_len, expected, found, " or more")
    }
}

/// The header of a raw IDX file of unsigned bytes with `dims` (each below 2³², as the readers
/// checked or the writer checks).
pub(super) fn header(dims: &[usize]) -> Vec<u8> {
    let mut header = vec![0, 0, UBYTE, dims.len() as u8];
    dims.iter().for_each(|&d| header.extend_from_slice(&(d as u32).to_be_bytes()));
    header
}

/// Reads into `buf` until it is full or the stream ends; the number of bytes read.
fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn gzip_error(path: &Path, e: std::io::Error) -> Error {
    Error::format(path, "gzip stream", format!("cannot decompress: {e}"))
}

/// Reads the magic and the dimensions: (dims, header length).
fn read_header(path: &Path, reader: &mut dyn Read, gzip: bool) -> Result<(Vec<usize>, usize)> {
    let read_error = |e: std::io::Error| if gzip { gzip_error(path, e) } else { Error::io(path, e) };
    let mut magic = [0u8; 4];
    let n = read_up_to(reader, &mut magic).map_err(read_error)?;
    if n < 4 {
        let message = format!("the file has {n} bytes, too short for the 4-byte IDX magic");
        return Err(Error::format(path, "magic number", message));
    }
    let [zero_a, zero_b, kind, ndims] = magic;
    if zero_a != 0 || zero_b != 0 || kind != UBYTE {
        let found = u32::from_be_bytes(magic);
        let message = format!(
            "found 0x{found:08x}, expected 0x0000{UBYTE:02x}NN (IDX of unsigned bytes with NN dimensions){}",
            type_hint(zero_a, zero_b, kind)
        );
        return Err(Error::format(path, "magic number", message));
    }
    let header_len = 4 + 4 * ndims as usize;
    let mut words = vec![0u8; 4 * ndims as usize];
    let n = read_up_to(reader, &mut words).map_err(read_error)?;
    if n < words.len() {
        let message = format!(
            "the header ends at byte {}, but the magic declares {ndims} dimensions ({header_len} header bytes)",
            4 + n
        );
        return Err(Error::format(path, format!("dimension {}", n / 4), message));
    }
    let dims = words.chunks_exact(4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as usize).collect();
    Ok((dims, header_len))
}

/// An error unless `found` data bytes are what the dimensions need (`more` qualifies a count
/// that stopped reading at one byte past).
fn check_length(
    path: &Path,
    dims: &[usize],
    header_len: usize,
    expected: usize,
    found: usize,
    more: &str,
) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    let (what, more) = if found < expected { ("truncated", "") } else { ("trailing bytes", more) };
    let row_len = dims.iter().skip(1).product::<usize>();
    let row = match dims.len() {
        2.. if found < expected && row_len > 0 => {
            format!(" (row {} of {} is the first incomplete one)", found / row_len, dims[0])
        }
        _ => String::new(),
    };
    let message = format!("{what}: dimensions {dims:?} need {expected} data bytes, found {found}{more}{row}");
    Err(Error::format(path, format!("byte offset {}", header_len + found.min(expected)), message))
}

/// A hint for a magic number that is IDX of another type or not IDX at all.
fn type_hint(zero_a: u8, zero_b: u8, kind: u8) -> String {
    if zero_a != 0 || zero_b != 0 {
        return "; this is not an IDX file".to_string();
    }
    let name = match kind {
        0x09 => "signed byte",
        0x0b => "i16",
        0x0c => "i32",
        0x0d => "f32",
        0x0e => "f64",
        _ => return format!("; type 0x{kind:02x} is not an IDX type"),
    };
    format!("; type 0x{kind:02x} ({name}) is not supported")
}

/// The bytes of an IDX file of unsigned bytes with these dimensions and data, for tests.
#[cfg(test)]
pub(super) fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, UBYTE, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// `bytes` gzip-compressed, for tests.
#[cfg(test)]
pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip into a Vec");
    encoder.finish().expect("gzip into a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scratch;

    fn format_error(result: Result<Idx>) -> (String, String) {
        match result {
            Err(Error::Format { place, message, .. }) => (place, message),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn raw_and_gzip_read_the_same() {
        let dir = Scratch::new("idx_raw_gzip");
        let raw = encode(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        // The name says nothing: gzip is detected by its magic bytes.
        let a = read_idx(&dir.write("a.idx", &raw)).unwrap();
        let b = read_idx(&dir.write("b.idx", &gzip(&raw))).unwrap();
        let c = read_idx(&dir.write("c.gz", &raw)).unwrap();
        assert_eq!(a, Idx { dims: vec![2, 3], data: vec![1, 2, 3, 4, 5, 6] });
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn concatenated_gzip_members_are_read_whole() {
        let dir = Scratch::new("idx_multi_gzip");
        let raw = encode(&[4], &[9, 8, 7, 6]);
        let mut two = gzip(&raw[..6]);
        two.extend(gzip(&raw[6..]));
        assert_eq!(read_idx(&dir.write("m.gz", &two)).unwrap().data, vec![9, 8, 7, 6]);
    }

    #[test]
    fn wrong_magic_is_reported() {
        let dir = Scratch::new("idx_magic");
        let mut floats = encode(&[1], &[0, 0, 0, 0]);
        floats[2] = 0x0d;
        let (place, message) = format_error(read_idx(&dir.write("f", &floats)));
        assert_eq!(place, "magic number");
        assert!(message.contains("0x00000d01") && message.contains("f32"), "{message}");
        let (_, message) = format_error(read_idx(&dir.write("t", b"hello world")));
        assert!(message.contains("not an IDX file"), "{message}");
        let (place, _) = format_error(read_idx(&dir.write("s", &[0, 0])));
        assert_eq!(place, "magic number");
    }

    #[test]
    fn truncated_header_and_data_are_reported() {
        let dir = Scratch::new("idx_truncated");
        let full = encode(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let (place, message) = format_error(read_idx(&dir.write("h", &full[..10])));
        assert_eq!(place, "dimension 1");
        assert!(message.contains("ends at byte 10"), "{message}");
        let (place, message) = format_error(read_idx(&dir.write("d", &full[..full.len() - 2])));
        assert_eq!(place, "byte offset 16");
        assert!(message.contains("need 6 data bytes, found 4"), "{message}");
        // The same check holds inside a gzip stream.
        let (place, _) = format_error(read_idx(&dir.write("dz", &gzip(&full[..full.len() - 2]))));
        assert_eq!(place, "byte offset 16");
        let mut long = full.clone();
        long.push(0);
        let (_, message) = format_error(read_idx(&dir.write("l", &long)));
        assert!(message.contains("trailing bytes"), "{message}");
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let dir = Scratch::new("idx_corrupt_gzip");
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let good = gzip(&encode(&[4000], &data));
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid..mid + 8].copy_from_slice(&[0xff; 8]);
        let (place, _) = format_error(read_idx(&dir.write("c.gz", &flipped)));
        assert_eq!(place, "gzip stream");
        let (place, _) = format_error(read_idx(&dir.write("t.gz", &good[..good.len() / 2])));
        assert_eq!(place, "gzip stream");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = Scratch::new("idx_missing");
        let result = read_idx(&dir.0.join("nope"));
        assert!(matches!(result, Err(Error::Io { .. })), "{result:?}");
    }
}
