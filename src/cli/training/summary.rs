//! The JSON summary of a finished run, the last line of `nabla train --json`.

use super::model::describe;
use super::prepare::Run;
use super::text::TextFacts;
use crate::cli::shared::json::json_f32;
use crate::cli::shared::regression;
use nabla::nn::{Model, Module};
use std::path::Path;

/// The JSON summary of a finished run.
pub fn summary(run: &Run, weights: &Path) -> serde_json::Value {
    let t = &run.trainer;
    let last = t.history.last().expect("at least one epoch");
    let seconds: Vec<f64> = t.history.iter().map(|r| r.seconds).collect();
    let total: f64 = seconds.iter().sum();
    // after early stopping the reported figures are the restored best epoch's
    let shown = t.best_epoch().filter(|_| t.config.early_stop.is_some()).map_or(last, |e| &t.history[e - 1]);
    let mut out = serde_json::json!({
        "model": describe(t.model.spec()),
        "epochs": t.history.len(),
        "batch_size": run.args.batch_size(),
        "lr": json_f32(t.history[0].lr),
        "optimizer": t.optimizer.name(),
        "schedule": t.schedule.describe(),
        "seed": run.args.seed,
        "train_samples": run.data.train.len(),
        "train_loss": json_f32(shown.train_loss),
        "penalty": json_f32(shown.penalty),
        "val_loss": shown.val_loss.map(json_f32),
        "val_accuracy": shown.val_accuracy.map(json_f32),
        "test_loss": shown.test_loss.map(json_f32),
        "test_accuracy": shown.test_accuracy.map(json_f32),
        "best_epoch": t.best_epoch(),
        "seconds_per_epoch": seconds,
        "samples_per_second": (run.data.train.len() * t.history.len()) as f64 / total,
        "parameters": t.model.num_parameters(),
        "weight_norm": json_f32(weight_norm(&t.model)),
        "run_dir": run.record.dir(),
        "weights": weights,
        "pretrain": (!run.pretrained.is_empty()).then(|| run.pretrained.iter().map(|d| serde_json::json!({
            "layer": d.layer,
            "units": d.shape.1,
            "reconstruction_loss": d.losses.iter().copied().map(json_f32).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()),
    });
    if let Some(t) = &run.text {
        out["test_bits_per_char"] = shown.test_loss.map(|l| json_f32(TextFacts::bits(l) as f32)).into();
        out["unigram_bits_per_char"] = json_f32(t.data.unigram_bits as f32);
        out["vocabulary"] = t.data.vocabulary.len().into();
        out["unknown_test_characters"] = t.data.unknown.into();
    }
    if let Some(schema) = run.data.schema.as_ref().filter(|s| s.target_scale.is_some()) {
        let std = regression::target_std(Some(schema));
        regression::json(&mut out, "val", shown.val_regression.map(|m| m.in_units(std)));
        regression::json(&mut out, "test", shown.test_regression.map(|m| m.in_units(std)));
    }
    out
}

/// √(Σ w²) over the weights (not the biases).
fn weight_norm(model: &Model) -> f32 {
    let sq: f64 = model
        .params()
        .iter()
        .filter(|(n, _)| n.ends_with("weight"))
        .map(|(_, p)| p.value().data().iter().map(|&w| (w * w) as f64).sum::<f64>())
        .sum();
    sq.sqrt() as f32
}
