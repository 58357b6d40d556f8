//! The files of a run folder that `--resume` needs, and the model file that `eval` reads.
//!
//! Run folder (`runs/<name>/`): `config.json` (the arguments), `metrics.csv`, `loss.png`,
//! `checkpoint.safetensors` (weights, optimizer and trainer state of the last completed epoch,
//! and with early stopping the best epoch's weights: one file, so that a kill at any instant
//! leaves one whole epoch's checkpoint or the next one's, never a mix), and `model.safetensors`
//! (the weights alone: after the last epoch, the best epoch's after early stopping).
//!
//! After each epoch the checkpoint is written first: it is the commit point. `model.safetensors`,
//! `metrics.csv` and `loss.png` follow; a kill between them leaves them an epoch behind, and
//! `--resume` (which reads only the checkpoint) rewrites them.

use nabla::io::{remove_stale_temps, save_checkpoint};
use nabla::report::{CONFIG_FILE, RunRecord};
use nabla::train::{Trainer, load_training_checkpoint, save_training_checkpoint};
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

pub const MODEL_FILE: &str = "model.safetensors";
const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Checks, before any data is loaded, that `dir` holds a run that `--resume` can continue, and
/// clears away the temporary files of a write that was killed.
pub fn check_resumable(dir: &Path) -> Result<()> {
    let refuse = |why: &str| Err(Error::config(format!("--resume {}: {why}", dir.display())));
    if !dir.is_dir() {
        return refuse("no such run folder");
    }
    if !dir.join(CONFIG_FILE).is_file() {
        return refuse(&format!("no {CONFIG_FILE}: not a run folder, or one whose run was stopped as it started"));
    }
    if !dir.join(CHECKPOINT_FILE).is_file() {
        return refuse(&format!(
            "no {CHECKPOINT_FILE}: the run was stopped before its first epoch ended (or was made by an older \
             nabla); start it again"
        ));
    }
    remove_stale_temps(dir);
    Ok(())
}

/// Puts the trainer back where the run in `dir` stopped: its last complete checkpoint.
pub fn restore(trainer: &mut Trainer, dir: &Path) -> Result<()> {
    load_training_checkpoint(&dir.join(CHECKPOINT_FILE), trainer)
}

/// Saves everything `--resume` needs after an epoch (the checkpoint, in one atomic write), then
/// the weights for `eval` and the epoch's metrics and plot.
pub fn save_epoch(trainer: &Trainer, record: &mut RunRecord, meta: &HashMap<String, String>) -> Result<()> {
    let dir = record.dir().to_path_buf();
    save_training_checkpoint(&dir.join(CHECKPOINT_FILE), trainer, meta)?;
    save_checkpoint(&dir.join(MODEL_FILE), &trainer.model, meta)?;
    let r = trainer.history.last().expect("an epoch just ended");
    record.push(r.clone())
}

/// After the last epoch: the final weights (the best epoch's with early stopping), and the
/// metrics and plot again (a run resumed from a checkpoint of its last epoch has trained no
/// epoch, and a kill may have come before they were written).
pub fn finish(trainer: &Trainer, record: &mut RunRecord, meta: &HashMap<String, String>) -> Result<()> {
    save_checkpoint(&record.dir().join(MODEL_FILE), &trainer.model, meta)?;
    match trainer.history.last() {
        Some(r) => record.push_last(r.clone()),
        None => Ok(()),
    }
}
