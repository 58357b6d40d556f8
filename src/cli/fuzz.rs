//! `nabla fuzz`: the mutation fuzzer of `nabla::fuzz` over every reader, for as many cases as
//! asked (the test suite runs 2,000 per format). Allocations are capped while it runs: a case that
//! allocates more aborts the process with its format, seed and case.

use clap::Args;
use nabla::fuzz::{Format, set_caps};
use nabla::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct FuzzArgs {
    /// Which reader: idx, idx-gz, csv, png, spec, checkpoint, or all.
    #[arg(long, default_value = "all")]
    pub format: String,
    /// Cases per format.
    #[arg(long, default_value_t = 10_000)]
    pub cases: u64,
    /// The seed; a case is a function of (format, seed, case number) alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The number of the first case (to rerun one: --first K --cases 1).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// The largest single allocation allowed, in MiB.
    #[arg(long, default_value_t = 256)]
    pub max_alloc_mib: usize,
    /// Where the cases' files are written [default: a folder in the system's temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the files of the cases that panicked into this folder.
    #[arg(long)]
    pub save_failures: Option<PathBuf>,
}

pub fn run(args: FuzzArgs) -> Result<()> {
    let formats = if args.format == "all" { Format::ALL.to_vec() } else { vec![Format::parse(&args.format)?] };
    let dir =
        args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("nabla-fuzz-{}", std::process::id())));
    set_caps(args.max_alloc_mib.saturating_mul(1 << 20), 4 << 30);
    let mut panics = 0;
    for format in formats {
        let report = nabla::fuzz::run(format, args.seed, args.first, args.cases, &dir)?;
        println!("{}", report.line());
        for f in &report.panics {
            println!("  case {}: {}", f.case, f.message);
            if let Some(out) = &args.save_failures {
                std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
                let path = out.join(format!("{}-{}-{}", format.name(), args.seed, f.case));
                std::fs::write(&path, &f.file).map_err(|e| Error::io(&path, e))?;
            }
        }
        panics += report.panics.len();
    }
    set_caps(usize::MAX, usize::MAX);
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if panics > 0 {
        return Err(Error::config(format!("{panics} cases panicked")));
    }
    Ok(())
}
