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
    assert!(report.panics.is_empty(), "{} panics; rerun one with `nabla fuzz --format {} --seed {SEED} --first CASE --cases 1`", report.panics.len(), format.name());
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
