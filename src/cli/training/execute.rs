//! Training a prepared run to its end, with a progress display and the run folder saved after
//! every epoch.

use super::model::describe;
use super::prepare::Run;
use super::progress::Progress;
use super::run_folder;
use super::text::TextFacts;
use crate::cli::shared::images::{classes_meta, image_meta};
use crate::cli::shared::print::errln;
use crate::cli::shared::source::PADDED_KEY;
use nabla::io::save_checkpoint;
use nabla::nn::Module;
use nabla::train::{Quiet, Sets};
use nabla::{Error, Result};

/// Trains a prepared run to its end; returns it with its history.
pub fn execute(mut run: Run, quiet: bool) -> Result<Run> {
    if !run.leader {
        return follow(run);
    }
    let mut meta = run.data.normalization.checkpoint_meta();
    if let Some(schema) = &run.data.schema {
        meta.extend(schema.checkpoint_meta());
    }
    meta.extend(run.data.classes.as_deref().map(classes_meta).unwrap_or_default());
    meta.extend(run.data.train.image_shape.map(image_meta).unwrap_or_default());
    meta.extend(run.text.as_ref().map(TextFacts::checkpoint_meta).unwrap_or_default());
    if run.data.train.lengths.is_some() {
        meta.insert(PADDED_KEY.into(), "each row's length masks the recurrent layers".into());
    }
    let t = &run.trainer;
    errln!(
        "training {} ({} parameters){} on {} samples{}, {}: {}, {}, m = {}; run folder {}",
        describe(t.model.spec()),
        t.model.num_parameters(),
        t.device_name().map(|d| format!(" on the GPU {d}")).unwrap_or_default(),
        run.data.train.len(),
        run.val.as_ref().map(|v| format!(", validating on {}", v.len())).unwrap_or_default(),
        match run.data.test.len() {
            0 => "no test set (no test figures)".to_string(),
            n => format!("testing on {n}"),
        },
        t.optimizer.name(),
        t.schedule.describe(),
        run.args.batch_size(),
        run.record.dir().display()
    );
    let sets = Sets { train: &run.data.train, val: run.val.as_ref(), test: Some(&run.data.test) };
    let mut progress = Progress::new(run.args.epochs(), quiet);
    if let Some(scale) = run.data.schema.as_ref().and_then(|s| s.target_scale) {
        errln!(
            "regression: the loss is ½·MSE of the standardised target (mean {}, std {}); mse, rmse and mae are in \
             the target's units",
            scale.mean,
            scale.std
        );
        progress = progress.regression(scale.std);
    }
    if let Some(t) = &run.text {
        let d = &t.data;
        errln!(
            "text: {} characters in the vocabulary, sequences of {} characters; the training part's unigram entropy is \
             {:.3} bits per character{}",
            d.vocabulary.len(),
            run.trainer.model.spec().input[0],
            d.unigram_bits,
            match d.unknown {
                0 => String::new(),
                n => format!("; {n} characters of the held-out text are not in the vocabulary and were left out"),
            }
        );
        progress = progress.bits_per_char();
    }
    let record = &mut run.record;
    let trained = run.trainer.run(sets, &mut progress, &mut |t| run_folder::save_epoch(t, record, &meta));
    if let Err(e) = trained {
        return Err(match run.trainer.divergence() {
            Some(d) => diverged(&mut run, d.epoch, e),
            None => e,
        });
    }
    if let Some(best) = run.trainer.best_epoch().filter(|_| run.trainer.config.early_stop.is_some()) {
        let why = if run.trainer.stopped_early() { "stopped early" } else { "finished" };
        errln!("{why}; restored the weights of epoch {best}, the lowest validation loss");
    }
    run_folder::finish(&run.trainer, &mut run.record, &meta)?;
    if let Some(out) = &run.args.out {
        save_checkpoint(out, &run.trainer.model, &meta)?;
    }
    Ok(run)
}

/// Trains a rank other than 0 of a data-parallel run: the same steps as rank 0, silently and
/// without writing files (rank 0 prints and writes them).
fn follow(mut run: Run) -> Result<Run> {
    let sets = Sets { train: &run.data.train, val: run.val.as_ref(), test: Some(&run.data.test) };
    run.trainer.run(sets, &mut Quiet, &mut |_| Ok(()))?;
    Ok(run)
}

/// The error of a run that diverged in `epoch`: which weights the run folder kept. The diverged
/// epoch's figures still go to `metrics.csv` and the plot (a comparison shows them), its weights
/// nowhere.
fn diverged(run: &mut Run, epoch: usize, e: Error) -> Error {
    if let Err(write) = run.record.push_last(run.trainer.history.last().expect("the diverged epoch").clone()) {
        errln!("{write}");
    }
    let kept = match epoch - 1 {
        0 => "no epoch ended before it, so no weights were saved".to_string(),
        k => format!("{} keeps the weights of epoch {k}", run.record.dir().join(run_folder::MODEL_FILE).display()),
    };
    Error::config(format!("{e}; {kept}"))
}
