//! The `nabla` command: train, evaluate and use networks from the shell.

mod cli;

use clap::Parser;

/// Training allocates fresh gradient and activation buffers of a few megabytes every step. glibc's
/// malloc hands such blocks back to the kernel when they are freed and page-faults them in again
/// at the next step (about 1 ms of a 2.5 ms MLP step here); mimalloc keeps and reuses them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = cli::Cli::parse();
    // Run the command on a worker of rayon's pool: a GEMM split over the cores then runs one block
    // on this thread and hands the other to the second worker, instead of parking the main thread
    // and waking two workers for every product. The workers get the main thread's stack size, as
    // the command now runs on one of them.
    let result = rayon::ThreadPoolBuilder::new()
        .stack_size(8 << 20)
        .build_global()
        .map_err(|e| e.to_string())
        .and_then(|()| rayon::scope(|_| cli::run(args)).map_err(|e| e.to_string()));
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
