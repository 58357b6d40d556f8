//! Command-line interface: one module per subcommand, over two modules that they share.
//!
//! Imports run one way, commands → `training` → `shared`:
//! - commands: `train` (with its `ensemble`), `compare`, `eval`, `predict`, `explain`, `bench`,
//!   `summary`, `conv`, `augment`, `fuzz`, `export`, `import`, `sample`; none imports another;
//! - `training`: the training pipeline that `train` and `compare` share (the train flags, preparing,
//!   running and summarising a run, its run folder);
//! - `shared`: helpers of several commands (the `--data` flags and input normalisation, the
//!   augmentation flags, JSON numbers, PNG reading, help texts built from the library's tables,
//!   and `outln!`/`errln!`, through which every line is printed so that a closed stdout ends the
//!   process quietly instead of panicking).

mod augment;
mod bench;
mod compare;
mod conv;
mod eval;
mod explain;
mod export;
mod fuzz;
mod import;
mod predict;
mod sample;
mod shared;
mod summary;
mod train;
mod training;

use clap::{Parser, Subcommand};
use nabla::Result;

/// nabla: train neural networks from a lecture, fast.
#[derive(Parser, Debug)]
#[command(name = "nabla", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model (by default lenet5-modern on the bundled MNIST) and save its weights.
    Train(Box<training::TrainArgs>),
    /// Train under several settings (--lr 0.5,0.1,0.02 …) and plot their loss curves together.
    Compare(compare::CompareArgs),
    /// Evaluate saved weights on a test set.
    Eval(eval::EvalArgs),
    /// Classify one 28×28 grayscale PNG, or many PNG/JPEG images (--data) into a CSV, with saved
    /// weights.
    Predict(predict::PredictArgs),
    /// Run the lecture's backpropagation example step by step.
    Explain,
    /// Measure GEMM and training speed.
    Bench(bench::BenchArgs),
    /// Print a model's layers: output shapes, parameters and connections.
    Summary(summary::SummaryArgs),
    /// The lecture's convolutions: a polynomial product by conv1d, two 5×5 filters on a PNG.
    Conv(conv::ConvArgs),
    /// Write a PNG grid of MNIST digits beside augmented versions of them (--show N).
    Augment(augment::ShowArgs),
    /// Fuzz the file readers: mutated IDX, CSV, PNG, spec and checkpoint files must give an error,
    /// never a panic or a huge allocation.
    Fuzz(fuzz::FuzzArgs),
    /// Write saved weights for another framework: --format torch (safetensors and a Python
    /// module) or --format onnx (an ONNX model taking raw inputs).
    Export(export::ExportArgs),
    /// Read weights from another framework (--from torch) into a nabla model file.
    Import(import::ImportArgs),
    /// Generate text with a character-level model (trained with --model char-lstm on a text file).
    Sample(sample::SampleArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Compare(args) => compare::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Explain => explain::run(),
        Command::Bench(args) => bench::run(args),
        Command::Summary(args) => summary::run(args),
        Command::Conv(args) => conv::run(args),
        Command::Augment(args) => augment::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
        Command::Sample(args) => sample::run(args),
    }
}
