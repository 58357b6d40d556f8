//! The files of a run folder that `--resume` needs: the weights, the optimizer's and the
//! trainer's state after every epoch (and the best epoch's weights with early stopping).
//!
//! Run folder (`runs/<name>/`): `config.json` (the arguments), `metrics.csv`, `loss.png`,
//! `model.safetensors` (the weights after the last epoch; the best epoch's after early stopping),
//! `optimizer.safetensors`, `trainer.json` (epoch, history, schedule), and with early stopping
//! `best.safetensors`.

use nabla::io::{load_checkpoint, save_checkpoint};
use nabla::nn::{Model, Module};
use nabla::optim::{load_optimizer, save_optimizer};
use nabla::report::RunRecord;
use nabla::rng::Rng;
use nabla::train::{Trainer, TrainerState};
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

pub const MODEL_FILE: &str = "model.safetensors";
const BEST_FILE: &str = "best.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const TRAINER_FILE: &str = "trainer.json";

/// Puts the trainer back where the run in `dir` stopped.
pub fn restore(trainer: &mut Trainer, dir: &Path) -> Result<()> {
    let state_path = dir.join(TRAINER_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: TrainerState =
        serde_json::from_str(&text).map_err(|e| Error::format(&state_path, "trainer state", e.to_string()))?;
    let model_path = dir.join(MODEL_FILE);
    let (model, _) = load_checkpoint(&model_path)?;
    if model.spec() != trainer.model.spec() {
        return Err(Error::format(&model_path, "metadata 'nabla.spec'", "does not match the run's config.json"));
    }
    trainer.model = model;
    load_optimizer(&dir.join(OPTIMIZER_FILE), &mut trainer.optimizer, &trainer.model)?;
    let best = if trainer.config.early_stop.is_some() && state.best.is_some() {
        let (best, _) = load_checkpoint(&dir.join(BEST_FILE))?;
        Some(best.params().into_iter().map(|(_, p)| p.value().clone()).collect())
    } else {
        None
    };
    trainer.restore(state, best)
}

/// Saves everything `--resume` needs after an epoch, and the epoch's metrics and plot.
pub fn save_epoch(trainer: &Trainer, record: &mut RunRecord, meta: &HashMap<String, String>) -> Result<()> {
    let dir = record.dir().to_path_buf();
    save_checkpoint(&dir.join(MODEL_FILE), &trainer.model, meta)?;
    save_optimizer(&dir.join(OPTIMIZER_FILE), &trainer.optimizer)?;
    if let Some(weights) = trainer.best_weights() {
        let mut best = Model::new(trainer.model.spec().clone(), &mut Rng::seed(0))?;
        for ((_, p), w) in best.params_mut().into_iter().zip(weights) {
            *p.value_mut() = w.clone();
        }
        save_checkpoint(&dir.join(BEST_FILE), &best, meta)?;
    }
    let json = serde_json::to_vec_pretty(&trainer.state()).expect("the state serializes");
    nabla::io::atomic_write(&dir.join(TRAINER_FILE), &json)?;
    let r = trainer.history.last().expect("an epoch just ended");
    record.push(r.clone())
}
