//! `nabla train`: build a model, train it, and keep a run folder (config, metrics, loss plot,
//! checkpoints) that `--resume` continues from; with `--ensemble K`, K of them ([`ensemble`]).
//! The flags and the pipeline live in `super::training`.

mod distributed;
mod ensemble;

use super::training::{self, MODEL_FILE, TrainArgs};
use crate::cli::shared::print::{errln, outln};
use nabla::Result;

/// Trains one run (or hands an ensemble to [`ensemble::run`], one rank of a data-parallel job to
/// [`distributed`]), reports where its files went, and
/// with `--json` prints its summary.
pub fn run(args: TrainArgs) -> Result<()> {
    if distributed::wanted(&args)? {
        #[cfg(feature = "mpi")]
        return distributed::run(args);
    }
    if let Some(k) = args.ensemble_members()? {
        return ensemble::run(args, k);
    }
    let json = args.json;
    let run = training::execute(training::prepare(args)?, false)?;
    let weights = run.args.out.clone().unwrap_or_else(|| run.record.dir().join(MODEL_FILE));
    errln!("saved weights to {}; metrics and loss plot in {}", weights.display(), run.record.dir().display());
    if json {
        outln!("{}", training::summary(&run, &weights));
    }
    Ok(())
}
