//! The IDX format (LeCun's MNIST files), raw or gzip-compressed.
//!
//! A file is a big-endian u32 magic `00 00 TT NN` (TT = data type, only 0x08 = unsigned byte is
//! read here; NN = number of dimensions), then one big-endian u32 per dimension, then the values,
//! row-major. A file that starts with the gzip magic `1f 8b` is decompressed first, whatever its
//! name.

use crate::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

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
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) { gunzip(path, &bytes)? } else { bytes };
    parse(path, bytes)
}

/// Decompresses a whole gzip file (all members, as `cat a.gz b.gz` or pigz may write).
fn gunzip(path: &Path, compressed: &[u8]) -> Result<Vec<u8>> {
    // The trailer's last 4 bytes hold the uncompressed size mod 2³², a good capacity hint that saves
    // the reallocations of a growing Vec; it is capped at deflate's best ratio (about 1032:1) so
    // that a corrupt trailer cannot reserve gigabytes.
    let hint = compressed.len().checked_sub(4).map_or(0, |at| {
        let size = u32::from_le_bytes([compressed[at], compressed[at + 1], compressed[at + 2], compressed[at + 3]]);
        (size as usize).min(compressed.len().saturating_mul(1032))
    });
    let mut out = Vec::with_capacity(hint);
    MultiGzDecoder::new(compressed)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, "gzip stream", format!("cannot decompress: {e}")))?;
    Ok(out)
}

/// Splits the header from the data of an uncompressed IDX file and checks that they agree.
fn parse(path: &Path, mut bytes: Vec<u8>) -> Result<Idx> {
    let Some(&[zero_a, zero_b, kind, ndims]) = bytes.first_chunk::<4>() else {
        let message = format!("the file has {} bytes, too short for the 4-byte IDX magic", bytes.len());
        return Err(Error::format(path, "magic number", message));
    };
    if zero_a != 0 || zero_b != 0 || kind != UBYTE {
        let found = u32::from_be_bytes([zero_a, zero_b, kind, ndims]);
        let message = format!(
            "found 0x{found:08x}, expected 0x0000{UBYTE:02x}NN (IDX of unsigned bytes with NN dimensions){}",
            type_hint(zero_a, zero_b, kind)
        );
        return Err(Error::format(path, "magic number", message));
    }
    let header_len = 4 + 4 * ndims as usize;
    let mut dims = Vec::with_capacity(ndims as usize);
    for i in 0..ndims as usize {
        let at = 4 + 4 * i;
        let Some(&word) = bytes.get(at..).and_then(|rest| rest.first_chunk::<4>()) else {
            let message = format!(
                "the header ends at byte {}, but the magic declares {ndims} dimensions ({header_len} header bytes)",
                bytes.len()
            );
            return Err(Error::format(path, format!("dimension {i}"), message));
        };
        dims.push(u32::from_be_bytes(word) as usize);
    }
    let Some(expected) = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
        return Err(Error::format(path, "dimensions", format!("{dims:?} multiply past the address space")));
    };
    let found = bytes.len() - header_len;
    if found != expected {
        let what = if found < expected { "truncated" } else { "trailing bytes" };
        let message = format!("{what}: dimensions {dims:?} need {expected} data bytes, found {found}");
        return Err(Error::format(path, format!("byte offset {}", header_len + found.min(expected)), message));
    }
    // Moving the data down by the header length is one memmove; it keeps the buffer without a copy.
    bytes.drain(..header_len);
    Ok(Idx { dims, data: bytes })
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
