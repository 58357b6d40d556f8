//! A seeded mutation fuzzer over every reader of files that users hand to nabla: IDX (raw and
//! gzip, alone and as an MNIST folder), CSV, PNG, TOML model specs and safetensors checkpoints.
//!
//! Each case is a function of (format, seed, case number) alone: a small valid file of the
//! format (made here, [`seeds`]) is mutated ([`mutate`]: bit flips, byte changes, truncations,
//! splices and duplications of ranges, lying header integers and lying numbers in text; for
//! gzip, PNG and safetensors also under the container, so that the checksums and the header
//! length still agree and the mutation reaches the reader behind them), written to a file and
//! read by the reader nabla uses. A model that a spec or checkpoint describes is then built (under
//! [`FUZZ_LIMITS`]) and run on one sample. Every case must end in `Ok` or a clean `Err`: a panic
//! is caught and reported with its seed and case; an allocation over the cap of [`set_caps`]
//! (with [`CappedAlloc`] as the global allocator) aborts with the same report.
//!
//! `cargo test --test fuzz` runs 2,000 cases per format; `nabla fuzz --format F --cases N --seed S`
//! runs as many as asked and reruns one (`--first K --cases 1`).

mod alloc;
pub mod mutate;
pub mod seeds;

pub use alloc::{CappedAlloc, set_caps};

use crate::nn::SizeLimits;
use crate::rng::Rng;
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The size limits under which the fuzzer builds models: far below the default (10⁹), so that
/// cases stay fast and under the memory cap; what the limit check refuses is the same.
pub const FUZZ_LIMITS: SizeLimits = SizeLimits { max_params: 4_000_000, max_activations: 4_000_000 };

/// A models's forward pass is run on one sample if it computes at most this many values.
const MAX_FORWARD: usize = 1_000_000;

/// The file formats the fuzzer mutates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Raw IDX files, read alone and as an MNIST folder.
    Idx,
    /// gzip-compressed IDX files, read alone and as an MNIST folder.
    IdxGz,
    /// Numeric CSV tables.
    Csv,
    /// PNG images.
    Png,
    /// TOML model specs (read, checked, built and run on one sample).
    Spec,
    /// safetensors checkpoints (read, built and run on one sample).
    Checkpoint,
    /// ONNX models as `nabla export` writes them (imported, built and run on one sample).
    Onnx,
    /// Sequence files of different lengths, labelled or tagged (`.seq`).
    Seq,
}

impl Format {
    /// Every format, in the order `nabla fuzz` runs them.
    pub const ALL: [Format; 8] = [
        Format::Idx,
        Format::IdxGz,
        Format::Csv,
        Format::Png,
        Format::Spec,
        Format::Checkpoint,
        Format::Onnx,
        Format::Seq,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::IdxGz => "idx-gz",
            Format::Csv => "csv",
            Format::Png => "png",
            Format::Spec => "spec",
            Format::Checkpoint => "checkpoint",
            Format::Onnx => "onnx",
            Format::Seq => "seq",
        }
    }

    /// The format called `name`.
    pub fn parse(name: &str) -> crate::Result<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            crate::Error::config(format!("--format {name}: expected one of {}, or all", names.join(", ")))
        })
    }

    fn index(self) -> usize {
        Format::ALL.iter().position(|&f| f == self).expect("listed")
    }
}

/// A case that panicked.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The case number (with the run's seed, all it takes to rerun it).
    pub case: u64,
    /// The panic's message and place.
    pub message: String,
    /// The file that made it panic.
    pub file: Vec<u8>,
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The format.
    pub format: Format,
    /// The seed.
    pub seed: u64,
    /// Cases run.
    pub cases: u64,
    /// Cases read without an error.
    pub ok: u64,
    /// Cases refused with an error.
    pub errors: u64,
    /// Cases that panicked.
    pub panics: Vec<Failure>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Report {
    /// One line: counts, rate and the first panic.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut line = format!(
            "{}: {} cases (seed {}), {} ok, {} errors, {} panics, {:.1} s ({:.0} cases/s)",
            self.format.name(),
            self.cases,
            self.seed,
            self.ok,
            self.errors,
            self.panics.len(),
            secs,
            self.cases as f64 / secs.max(1e-9)
        );
        if let Some(f) = self.panics.first() {
            line += &format!("; first panic: case {}: {}", f.case, f.message);
        }
        line
    }
}

thread_local! {
    /// Whether this thread is inside a fuzz case (its panics are reported, not printed).
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    /// The place of the last panic inside a case.
    static PANIC_PLACE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs (once) a panic hook that keeps quiet about panics inside fuzz cases and records
/// their place; other panics go to the hook that was there before.
fn quiet_panics_in_cases() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CASE.with(Cell::get) {
                let place = info.location().map(|l| l.to_string()).unwrap_or_default();
                PANIC_PLACE.with(|p| *p.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs cases `first .. first + cases` of `format` for `seed`, writing each case's files under
/// `dir` (created; one folder per format).
pub fn run(format: Format, seed: u64, first: u64, cases: u64, dir: &Path) -> crate::Result<Report> {
    quiet_panics_in_cases();
    let dir: PathBuf = dir.join(format.name());
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let corpus = seeds::corpus(format, &dir)?;
    let start = Instant::now();
    let mut report = Report { format, seed, cases: 0, ok: 0, errors: 0, panics: Vec::new(), elapsed: Duration::ZERO };
    for case in first..first.saturating_add(cases) {
        alloc::set_case(format.index(), seed, case);
        let mut rng = Rng::derive(seed, case);
        let file = seeds::mutated(format, &corpus, &mut rng);
        IN_CASE.with(|c| c.set(true));
        let outcome = catch_unwind(AssertUnwindSafe(|| seeds::read(format, &file, &dir, &mut rng)));
        IN_CASE.with(|c| c.set(false));
        report.cases += 1;
        match outcome {
            Ok(Ok(())) => report.ok += 1,
            Ok(Err(_)) => report.errors += 1,
            Err(payload) => {
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                let place = PANIC_PLACE.with(|p| p.borrow().clone());
                report.panics.push(Failure { case, message: format!("{text} (at {place})"), file });
            }
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
