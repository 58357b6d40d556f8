//! A training checkpoint: everything a run needs to continue after an epoch, in one file.
//!
//! The weights, the optimizer's state (buffers, η, t), the trainer's state (epoch, history,
//! schedule, best epoch, initial loss) and, with early stopping, the best epoch's weights are one
//! safetensors file, written with [`crate::io::atomic_write`]: a kill or a crash at any instant
//! leaves either the previous checkpoint or the new one, whole, never parts of two epochs.
//!
//! Tensors: `model.<parameter>`, `best.<parameter>` (early stopping only) and
//! `optimizer.<parameter>.<buffer index>`. Metadata: `nabla.checkpoint` (the format's version),
//! `nabla.spec` (the model spec), `nabla.trainer` (the [`TrainerState`] as JSON), the optimizer's
//! rule, η and t, and the caller's entries. A model file for `eval` and `predict` is
//! [`crate::io::save_checkpoint`]'s, not this.
//!
//! Both functions take the trainer of a spec-built [`crate::nn::Model`] (`Trainer<Model>`): the
//! spec is what makes the file rebuild its model and refuse another one. A trainer of a
//! hand-written module saves its weights by name in `after_epoch` with
//! [`crate::io::save_weights`] (the code rebuilds the module, [`crate::io::load_weights`] fills
//! it), as `examples/custom_module.rs` does.

use super::{Trainer, TrainerState};
use crate::io::{atomic_write, canonical_header};
use crate::nn::{ModelSpec, Module};
use crate::optim::{restore_entries, state_entries};
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

const VERSION_KEY: &str = "nabla.checkpoint";
const VERSION: &str = "1";
const SPEC_KEY: &str = "nabla.spec";
const TRAINER_KEY: &str = "nabla.trainer";
const MODEL_PREFIX: &str = "model.";
const BEST_PREFIX: &str = "best.";
const OPTIMIZER_PREFIX: &str = "optimizer.";

/// Saves `trainer`'s whole state, and `metadata`, to `path` in one atomic write.
pub fn save_training_checkpoint(path: &Path, trainer: &Trainer, metadata: &HashMap<String, String>) -> Result<()> {
    let f32_bytes = |t: &Tensor| t.data().iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let names: Vec<String> = trainer.model.params().iter().map(|(n, _)| n.clone()).collect();
    let mut tensors: Vec<(String, Vec<u8>, Vec<usize>)> = trainer
        .model
        .params()
        .iter()
        .map(|(name, p)| (format!("{MODEL_PREFIX}{name}"), f32_bytes(p.value()), p.value().shape().to_vec()))
        .collect();
    if let Some(best) = &trainer.best_weights {
        for (name, w) in names.iter().zip(best) {
            tensors.push((format!("{BEST_PREFIX}{name}"), f32_bytes(w), w.shape().to_vec()));
        }
    }
    let (buffers, optimizer_meta) = state_entries(&trainer.optimizer, OPTIMIZER_PREFIX);
    tensors.extend(buffers.into_iter().map(|(name, b, len)| (name, b, vec![len])));

    let mut views = Vec::with_capacity(tensors.len());
    for (name, b, shape) in &tensors {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| Error::config(format!("{}: tensor '{name}': {e}", path.display())))?;
        views.push((name.as_str(), view));
    }
    let mut meta = metadata.clone();
    meta.extend(optimizer_meta);
    meta.insert(VERSION_KEY.into(), VERSION.into());
    meta.insert(SPEC_KEY.into(), serde_json::to_string(trainer.model.spec()).expect("a spec always serializes"));
    meta.insert(TRAINER_KEY.into(), serde_json::to_string(&trainer.state()).expect("the state serializes"));
    meta.insert("format".into(), "pt".into());
    let out = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("{}: cannot serialize: {e}", path.display())))?;
    atomic_write(path, &canonical_header(out))
}

/// Puts `trainer` back in the state that [`save_training_checkpoint`] wrote to `path`. The
/// trainer must have been built for the same run: same model spec, optimizer rule and schedule;
/// anything else is an error naming the file and what differs.
pub fn load_training_checkpoint(path: &Path, trainer: &mut Trainer) -> Result<()> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let (_, header) =
        SafeTensors::read_metadata(&buf).map_err(|e| bad("header", format!("not a safetensors file ({e})")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    match metadata.get(VERSION_KEY).map(String::as_str) {
        Some(VERSION) => {}
        Some(v) => return Err(bad(&format!("metadata '{VERSION_KEY}'"), format!("version {v}, expected {VERSION}"))),
        None => return Err(bad("metadata", format!("no '{VERSION_KEY}' entry: not a nabla training checkpoint"))),
    }
    let entry = |key: &str| metadata.get(key).ok_or_else(|| bad("metadata", format!("no '{key}' entry")));
    let spec: ModelSpec =
        serde_json::from_str(entry(SPEC_KEY)?).map_err(|e| bad(&format!("metadata '{SPEC_KEY}'"), e.to_string()))?;
    if &spec != trainer.model.spec() {
        return Err(bad(
            &format!("metadata '{SPEC_KEY}'"),
            "another model than the run's config.json describes".into(),
        ));
    }
    let state: TrainerState = serde_json::from_str(entry(TRAINER_KEY)?)
        .map_err(|e| bad(&format!("metadata '{TRAINER_KEY}'"), e.to_string()))?;
    if state.epoch != state.history.len() {
        let message = format!("epoch {} with {} epochs of history", state.epoch, state.history.len());
        return Err(bad(&format!("metadata '{TRAINER_KEY}'"), message));
    }
    let tensors = SafeTensors::deserialize(&buf).map_err(|e| bad("tensors", e.to_string()))?;

    let read = |prefix: &str| -> Result<Vec<Tensor>> {
        let mut out = Vec::new();
        for (name, param) in trainer.model.params() {
            let full = format!("{prefix}{name}");
            let place = format!("tensor '{full}'");
            let view = tensors.tensor(&full).map_err(|_| bad(&place, "missing: the model needs it".into()))?;
            if view.dtype() != Dtype::F32 || view.shape() != param.value().shape() {
                let expected = param.value().shape();
                return Err(bad(&place, format!("{:?} {:?}, expected F32 {expected:?}", view.dtype(), view.shape())));
            }
            let values: Vec<f32> =
                view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                return Err(bad(&place, format!("value {i} is {}, weights must be finite", values[i])));
            }
            out.push(Tensor::from_vec(values, view.shape()));
        }
        Ok(out)
    };
    let weights = read(MODEL_PREFIX)?;
    let best = match (trainer.config.early_stop, state.best) {
        (Some(_), Some(_)) => Some(read(BEST_PREFIX)?),
        _ => None,
    };
    restore_entries(path, &tensors, &metadata, OPTIMIZER_PREFIX, &mut trainer.optimizer, &trainer.model)?;
    trainer.restore(state, best).map_err(|e| bad(&format!("metadata '{TRAINER_KEY}'"), e.to_string()))?;
    for ((_, p), w) in trainer.model.params_mut().into_iter().zip(weights) {
        *p.value_mut() = w;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::loss::Loss;
    use crate::nn::Activation;
    use crate::nn::Model;
    use crate::optim::{Optimizer, Sgd, schedule::Constant};
    use crate::rng::Rng;
    use crate::train::{Quiet, Sets, TrainConfig};

    fn trainer(seed: u64) -> Trainer {
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(seed)).unwrap();
        let config = TrainConfig { epochs: 4, batch_size: 4, seed, early_stop: Some(5), ..Default::default() };
        let sgd = Sgd { momentum: 0.9, nesterov: false };
        Trainer::new(model, Optimizer::new(sgd, 0.1), Box::new(Constant::new()), config)
    }

    fn data() -> Dataset {
        let targets = Tensor::from_vec(
            (0..16).flat_map(|i| [0.0, 1.0, 2.0].map(|c| f32::from(c == (i % 3) as f32))).collect(),
            &[16, 3],
        );
        let labels = Some((0..16).map(|i| i % 3).collect());
        Dataset {
            inputs: Rng::seed(1).normal_tensor(&[16, 6], 1.0).into(),
            targets,
            labels,
            image_shape: None,
            lengths: None,
        }
    }

    fn bits(t: &Trainer) -> Vec<u32> {
        t.model
            .params()
            .iter()
            .flat_map(|(_, p)| p.value().data().iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            .collect()
    }

    /// A run saved after epoch 2 and restored into a fresh trainer ends, after 4 epochs, with the
    /// weights of a run that never stopped; a mismatching or damaged file is an error naming it.
    #[test]
    fn a_restored_checkpoint_continues_bit_for_bit() {
        let dir = std::env::temp_dir().join(format!("nabla-train-ckpt-{}", std::process::id()));
        let path = dir.join("checkpoint.safetensors");
        let d = data();
        let sets = Sets { train: &d, val: Some(&d), test: None };

        let mut full = trainer(3);
        full.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();

        let mut part = trainer(3);
        part.config.epochs = 2;
        part.run(sets, &mut Quiet, &mut |t| save_training_checkpoint(&path, t, &HashMap::new())).unwrap();
        let mut resumed = trainer(3);
        load_training_checkpoint(&path, &mut resumed).unwrap();
        assert_eq!(resumed.epoch(), 2);
        assert!(resumed.best_weights().is_some(), "early stopping's best weights come back");
        resumed.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
        assert_eq!(bits(&resumed), bits(&full));

        // another optimizer: refused, the trainer untouched
        let mut other = trainer(3);
        other.optimizer = Optimizer::new(Sgd::default(), 0.1);
        let before = bits(&other);
        let err = load_training_checkpoint(&path, &mut other).unwrap_err().to_string();
        assert!(err.contains("checkpoint.safetensors") && err.contains("rule"), "{err}");
        assert_eq!(bits(&other), before);
        // a plain model file is not a training checkpoint
        crate::io::save_checkpoint(&path, &full.model, &HashMap::new()).unwrap();
        let err = load_training_checkpoint(&path, &mut trainer(3)).unwrap_err().to_string();
        assert!(err.contains("not a nabla training checkpoint"), "{err}");
        // a truncated one is refused
        std::fs::write(&path, b"\x10\0\0\0\0\0\0\0{").unwrap();
        assert!(load_training_checkpoint(&path, &mut trainer(3)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
