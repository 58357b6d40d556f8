//! The `nabla` command: train, evaluate and use networks from the shell.

mod cli;

use clap::Parser;
use std::io::Write;

/// Training allocates fresh gradient and activation buffers of a few megabytes every step. glibc's
/// malloc hands such blocks back to the kernel when they are freed and page-faults them in again
/// at the next step (about 1 ms of a 2.5 ms MLP step here); mimalloc keeps and reuses them. The
/// wrapper caps allocations while `nabla fuzz` runs (one relaxed load per allocation otherwise).
#[global_allocator]
static ALLOCATOR: nabla::fuzz::CappedAlloc<mimalloc::MiMalloc> = nabla::fuzz::CappedAlloc(mimalloc::MiMalloc);

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        // as the CLI's errln!: nothing to do when stderr itself is gone
        let _ = writeln!(std::io::stderr(), "error: {e}");
        std::process::exit(1);
    }
}
