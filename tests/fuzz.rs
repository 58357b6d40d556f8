//! The mutation fuzzer over every reader (see `nabla::fuzz`): 2,000 cases per format, each of
//! which must end in `Ok` or a clean `Err`, with no allocation over 256 MB and no more than 2 GB
//! live (the capped allocator below aborts with the seed and case otherwise). Longer runs:
//! `nabla fuzz --format FORMAT --cases 1000000 --seed S`.

use nabla::fuzz::{CappedAlloc, Format, set_caps};
use std::alloc::System;

#[global_allocator]
static ALLOCATOR: CappedAlloc<System> = CappedAlloc(System);

const SEED: u64 = 11;
const CASES: u64 = 2000;

fn fuzz(format: Format) {
    set_caps(256 << 20, 2 << 30);
    let dir = std::env::temp_dir().join(format!("nabla-fuzz-test-{}", std::process::id()));
    let report = nabla::fuzz::run(format, SEED, 0, CASES, &dir).expect("the fuzzer's own files");
    let _ = std::fs::remove_dir_all(dir.join(format.name()));
    eprintln!("{}", report.line());
    for f in &report.panics {
        let head: Vec<String> = f.file.iter().take(64).map(|b| format!("{b:02x}")).collect();
        eprintln!("case {}: {}\n  file ({} bytes): {} …", f.case, f.message, f.file.len(), head.join(" "));
    }
    assert!(
        report.panics.is_empty(),
        "{} panics; rerun one with `nabla fuzz --format {} --seed {SEED} --first CASE --cases 1`",
        report.panics.len(),
        format.name()
    );
    // the mutations must reach past the first check: some cases are read, most are refused
    assert!(report.ok > 0 && report.errors > 0, "{}", report.line());
}

#[test]
fn idx_files_never_panic() {
    fuzz(Format::Idx);
}

#[test]
fn gzip_idx_files_never_panic() {
    fuzz(Format::IdxGz);
}

#[test]
fn csv_files_never_panic() {
    fuzz(Format::Csv);
}

#[test]
fn png_files_never_panic() {
    fuzz(Format::Png);
}

#[test]
fn spec_files_never_panic() {
    fuzz(Format::Spec);
}

#[test]
fn checkpoints_never_panic() {
    fuzz(Format::Checkpoint);
}

#[test]
fn onnx_files_never_panic() {
    fuzz(Format::Onnx);
}

#[test]
fn sequence_files_never_panic() {
    fuzz(Format::Seq);
}

/// `bytes` gzip-compressed, fed in blocks of zeros after `head` (so that a bomb costs no memory
/// to make).
fn gzip_zeros(head: &[u8], zeros: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(head).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..zeros >> 20 {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

/// Issue 11: gzip bombs are refused under the memory cap (256 MB per allocation here): a header
/// claiming one image over 400 MB of zeros stops one byte past the image; an images file claiming
/// 600,000 images (470 MB decompressed) beside a labels file of one label is refused from the
/// headers, before the images are decompressed.
#[test]
fn gzip_bombs_are_refused_under_the_memory_cap() {
    set_caps(256 << 20, 2 << 30);
    let dir = std::env::temp_dir().join(format!("nabla-fuzz-bomb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one = nabla::fuzz::seeds::idx(&[1, 28, 28], &[0; 784]);
    let bomb = dir.join("bomb.gz");
    std::fs::write(&bomb, gzip_zeros(&one, 400 << 20)).unwrap();
    let err = nabla::data::read_idx(&bomb).err().unwrap().to_string();
    assert!(err.contains("trailing bytes") && err.contains("found 785 or more"), "{err}");
    let header = nabla::fuzz::seeds::idx(&[600_000, 28, 28], &[]);
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), gzip_zeros(&header, 600_000 * 784)).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        nabla::fuzz::seeds::gzip(&nabla::fuzz::seeds::idx(&[1], &[3])),
    )
    .unwrap();
    for set in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(dir.join(set.replace("t10k", "train")), dir.join(set)).unwrap();
    }
    let err = nabla::data::load_mnist(&dir).err().unwrap().to_string();
    assert!(err.contains("600000 images") && err.contains("1 labels"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 11: a PNG whose header claims 60000 × 60000 pixels is refused before its buffer (3.6 GB)
/// is allocated.
#[test]
fn a_huge_png_header_is_refused_under_the_memory_cap() {
    set_caps(256 << 20, 2 << 30);
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, 1, 1);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[7]).unwrap();
    writer.finish().unwrap();
    bytes[16..20].copy_from_slice(&60000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&60000u32.to_be_bytes());
    nabla::fuzz::seeds::fix_png_crcs(&mut bytes);
    let path = std::env::temp_dir().join(format!("nabla-fuzz-huge-{}.png", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let err = nabla::data::read_gray_png(&path).err().unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("PNG header") && err.contains("60000×60000"), "{err}");
}

/// Found by the fuzzer (png, seed 2024, case 215215): a PLTE chunk of 13 bytes (not 3 per entry)
/// made the `png` crate (0.18.1) panic while expanding the palette; it is an error now.
#[test]
fn a_palette_of_a_broken_length_is_an_error() {
    let hex = "89504e470d0a1a0a0000000d494844520000000700000003020300000022adfd560000000d504c54450014283c5064788ca0\
               b448dd05c2919a4a0000001149444154789c63666660646060616400000050000d53cc27a20000000049454e44ae426082";
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    let path = std::env::temp_dir().join(format!("nabla-fuzz-plte-{}.png", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let result = std::panic::catch_unwind(|| nabla::data::read_gray_png(&path));
    std::fs::remove_file(&path).unwrap();
    let err = result.expect("no panic").err().unwrap().to_string();
    assert!(err.contains("PNG PLTE chunk") && err.contains("13 bytes"), "{err}");
}
