//! An optimizer's state, in memory ([`OptimizerState`]) and in a safetensors file, so that a run
//! resumes exactly where it stopped.
//!
//! The file holds one f32 tensor per state buffer, named `<parameter>.<buffer index>` (`0.weight.1`
//! is the second buffer of parameter `0.weight`, Adam's v for example), and in the header's metadata
//! the rule's name, η and the step count t.

use super::Optimizer;
use crate::io::atomic_write;
use crate::nn::Module;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const RULE_KEY: &str = "nabla.optimizer.rule";
const ETA_KEY: &str = "nabla.optimizer.eta";
const STEP_KEY: &str = "nabla.optimizer.t";

/// Everything that an [`Optimizer`] carries from one step to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// The rule's name ([`super::UpdateRule::name`]), hyper-parameters included.
    pub rule: String,
    /// The learning rate η.
    pub eta: f32,
    /// The number of steps taken.
    pub t: u64,
    /// Each parameter's state buffers, in the rule's order, by the parameter's dotted name.
    pub buffers: BTreeMap<String, Vec<Vec<f32>>>,
}

/// What does not fit, and where.
struct Mismatch {
    place: String,
    message: String,
}

impl Mismatch {
    fn new(place: impl Into<String>, message: impl Into<String>) -> Mismatch {
        Mismatch { place: place.into(), message: message.into() }
    }

    fn in_file(self, path: &Path) -> Error {
        Error::format(path, self.place, self.message)
    }
}

fn param_place(name: &str) -> String {
    format!("parameter '{name}'")
}

impl Optimizer {
    /// A copy of the optimizer's state: rule name, η, t and every parameter's buffers.
    pub fn state_dict(&self) -> OptimizerState {
        OptimizerState { rule: self.rule.name(), eta: self.eta, t: self.t, buffers: self.state.clone() }
    }

    /// Replaces the optimizer's η, t and buffers by `state`, which must come from the same rule
    /// (same [`super::UpdateRule::name`]) and hold the rule's number of buffers per parameter, all of
    /// one length. On an error, naming the parameter, the optimizer is left as it was. That the
    /// buffers fit the model's parameters is checked by [`Optimizer::step`] (which panics) or, with
    /// an error, by [`load_optimizer`].
    pub fn load_state_dict(&mut self, state: OptimizerState) -> Result<()> {
        self.check(&state).map_err(|m| Error::config(format!("optimizer state: {}: {}", m.place, m.message)))?;
        self.eta = state.eta;
        self.t = state.t;
        self.state = state.buffers;
        Ok(())
    }

    fn check(&self, state: &OptimizerState) -> std::result::Result<(), Mismatch> {
        let rule = self.rule.name();
        if state.rule != rule {
            let hint = "resume with the same optimizer and settings";
            return Err(Mismatch::new(
                "rule",
                format!("saved by '{}', this optimizer runs '{rule}': {hint}", state.rule),
            ));
        }
        if !state.eta.is_finite() {
            return Err(Mismatch::new("eta", format!("η = {} is not a number", state.eta)));
        }
        let k = self.rule.state_buffers();
        for (name, buffers) in &state.buffers {
            if buffers.len() != k {
                return Err(Mismatch::new(
                    param_place(name),
                    format!("{} state buffers, '{rule}' keeps {k}", buffers.len()),
                ));
            }
            if let Some((i, b)) = buffers.iter().enumerate().find(|(_, b)| b.len() != buffers[0].len()) {
                let message = format!("buffer {i} holds {} numbers, buffer 0 holds {}", b.len(), buffers[0].len());
                return Err(Mismatch::new(param_place(name), message));
            }
        }
        Ok(())
    }
}

/// Checks that `state` holds buffers of the right length for every parameter of `model` (once
/// the rule has stepped and keeps buffers) and for no other.
fn check_model(state: &OptimizerState, buffers: usize, model: &dyn Module) -> std::result::Result<(), Mismatch> {
    let params = model.params();
    for (name, param) in &params {
        let n = param.value().numel();
        match state.buffers.get(name) {
            Some(b) => {
                if let Some(b) = b.iter().find(|b| b.len() != n) {
                    let message = format!("state of {} numbers, the model's parameter has {n}", b.len());
                    return Err(Mismatch::new(param_place(name), message));
                }
            }
            None if buffers > 0 && state.t > 0 => {
                return Err(Mismatch::new(param_place(name), "missing: the model has it, the state does not"));
            }
            None => {}
        }
    }
    match state.buffers.keys().find(|name| !params.iter().any(|(p, _)| p == *name)) {
        Some(name) => Err(Mismatch::new(param_place(name), "not a parameter of the model")),
        None => Ok(()),
    }
}

/// Saves `optimizer`'s state to `path` (atomically): tensors `<parameter>.<buffer index>`, and
/// the rule's name, η and t as metadata.
pub fn save_optimizer(path: &Path, optimizer: &Optimizer) -> Result<()> {
    let (bytes, meta) = state_entries(optimizer, "");
    let mut views = Vec::with_capacity(bytes.len());
    for (name, b, len) in &bytes {
        let view = TensorView::new(Dtype::F32, vec![*len], b)
            .map_err(|e| Error::config(format!("{}: tensor '{name}': {e}", path.display())))?;
        views.push((name.as_str(), view));
    }
    let mut meta: HashMap<String, String> = meta.into_iter().collect();
    meta.insert("format".to_string(), "pt".to_string());
    let out = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("{}: cannot serialize: {e}", path.display())))?;
    atomic_write(path, &out)
}

/// Safetensors entries: f32 vectors (name, little-endian bytes, length), and metadata entries.
type Entries = (Vec<(String, Vec<u8>, usize)>, Vec<(String, String)>);

/// `optimizer`'s state as safetensors entries: one f32 vector per buffer, named
/// `<prefix><parameter>.<buffer index>` (its little-endian bytes and its length), and the
/// metadata entries for the rule's name, η and t. [`save_optimizer`] writes them to a file of
/// their own (no prefix); a training checkpoint writes them beside the weights.
pub(crate) fn state_entries(optimizer: &Optimizer, prefix: &str) -> Entries {
    let bytes = optimizer
        .state
        .iter()
        .flat_map(|(name, buffers)| {
            buffers.iter().enumerate().map(move |(i, b)| {
                (format!("{prefix}{name}.{i}"), b.iter().flat_map(|x| x.to_le_bytes()).collect(), b.len())
            })
        })
        .collect();
    let meta = vec![
        (RULE_KEY.to_string(), optimizer.rule.name()),
        (ETA_KEY.to_string(), optimizer.eta.to_string()),
        (STEP_KEY.to_string(), optimizer.t.to_string()),
    ];
    (bytes, meta)
}

/// Restores into `optimizer` the state that [`save_optimizer`] wrote to `path`, for training
/// `model` further. The file must come from the same rule, hold each buffer of the rule for every
/// parameter of `model` at the parameter's size, and nothing else; otherwise the error names the
/// file and the parameter, and `optimizer` is left as it was.
pub fn load_optimizer(path: &Path, optimizer: &mut Optimizer, model: &dyn Module) -> Result<()> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let (_, header) =
        SafeTensors::read_metadata(&buf).map_err(|e| bad("header", format!("not a safetensors file ({e})")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let tensors = SafeTensors::deserialize(&buf).map_err(|e| bad("tensors", e.to_string()))?;
    restore_entries(path, &tensors, &metadata, "", optimizer, model)
}

/// Restores into `optimizer` the state that [`state_entries`] made with `prefix`, from a
/// safetensors file at `path` (for error messages) whose tensors and metadata are given. Tensors
/// whose names do not start with `prefix` are not the optimizer's and are skipped. The checks and
/// the guarantee are [`load_optimizer`]'s.
pub(crate) fn restore_entries(
    path: &Path,
    tensors: &SafeTensors,
    metadata: &HashMap<String, String>,
    prefix: &str,
    optimizer: &mut Optimizer,
    model: &dyn Module,
) -> Result<()> {
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let entry = |key: &str| {
        metadata.get(key).ok_or_else(|| bad("metadata", format!("no '{key}' entry: not a nabla optimizer state")))
    };
    let rule = entry(RULE_KEY)?.clone();
    let eta: f32 = entry(ETA_KEY)?.parse().map_err(|e| bad(&format!("metadata '{ETA_KEY}'"), format!("{e}")))?;
    let t: u64 = entry(STEP_KEY)?.parse().map_err(|e| bad(&format!("metadata '{STEP_KEY}'"), format!("{e}")))?;
    let mut state = OptimizerState { rule, eta, t, buffers: BTreeMap::new() };
    optimizer.check(&state).map_err(|m| m.in_file(path))?; // the rule, before reading any buffer

    let mut found: BTreeMap<String, BTreeMap<usize, Vec<f32>>> = BTreeMap::new();
    for (full_name, view) in tensors.tensors() {
        let Some(name) = full_name.strip_prefix(prefix) else { continue };
        let place = format!("tensor '{full_name}'");
        let Some((param, index)) = name.rsplit_once('.').and_then(|(p, i)| Some((p, i.parse::<usize>().ok()?))) else {
            return Err(bad(&place, format!("expected a name {prefix}<parameter>.<buffer index>")));
        };
        if view.dtype() != Dtype::F32 || view.shape().len() != 1 {
            return Err(bad(
                &place,
                format!("{:?} of shape {:?}, expected a vector of F32", view.dtype(), view.shape()),
            ));
        }
        let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        found.entry(param.to_string()).or_default().insert(index, values);
    }
    let k = optimizer.rule.state_buffers();
    for (param, mut by_index) in found {
        let mut buffers = Vec::with_capacity(k);
        for i in 0..k {
            let b = by_index.remove(&i).ok_or_else(|| {
                bad(&param_place(&param), format!("buffer {i} missing (no tensor '{prefix}{param}.{i}')"))
            })?;
            buffers.push(b);
        }
        if let Some(i) = by_index.keys().next() {
            return Err(bad(
                &format!("tensor '{prefix}{param}.{i}'"),
                format!("'{}' keeps only {k} buffers", state.rule),
            ));
        }
        state.buffers.insert(param, buffers);
    }
    optimizer.check(&state).map_err(|m| m.in_file(path))?;
    check_model(&state, k, model).map_err(|m| m.in_file(path))?;
    optimizer.load_state_dict(state)
}

#[cfg(test)]
mod tests {
    use super::super::testing::Quadratic;
    use super::super::*;
    use super::*;
    use crate::autodiff::Param;
    use crate::tensor::Tensor;
    use std::path::PathBuf;

    fn temp_file(test: &str) -> PathBuf {
        std::env::temp_dir().join(format!("nabla-optim-{}-{test}", std::process::id())).join("opt.safetensors")
    }

    type MakeOptimizer = fn() -> Optimizer;

    /// Every rule, with settings whose state changes in every step (a window of 2 wraps twice in 5).
    fn every_rule() -> Vec<(&'static str, MakeOptimizer)> {
        vec![
            ("sgd", || Optimizer::new(Sgd::default(), 0.01)),
            ("momentum", || Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.01)),
            ("nesterov", || Optimizer::new(Sgd { momentum: 0.9, nesterov: true }, 0.01)),
            ("adagrad", || Optimizer::new(AdaGrad::default(), 0.1)),
            ("adadelta-window", || Optimizer::new(AdaDeltaWindow { window: 2, eps: 1e-8 }, 0.1)),
            ("adadelta", || Optimizer::new(AdaDelta::default(), 1.0)),
            ("rmsprop", || Optimizer::new(RmsProp::default(), 0.01)),
            ("adam", || Optimizer::new(Adam::default(), 0.05)),
            ("adamw", || Optimizer::new(AdamW::default(), 0.05)),
        ]
    }

    #[test]
    fn a_restored_optimizer_continues_bit_for_bit() {
        for (label, make) in every_rule() {
            let path = temp_file(&format!("resume-{label}"));
            let mut model = Quadratic::ill_conditioned();
            let mut optimizer = make();
            for _ in 0..3 {
                model.step(&mut optimizer);
            }
            optimizer.set_lr(optimizer.lr() * 0.5); // a schedule's η is part of the state
            save_optimizer(&path, &optimizer).unwrap();

            let mut resumed_model = model.clone();
            let mut resumed = make();
            load_optimizer(&path, &mut resumed, &resumed_model).unwrap();
            assert_eq!(resumed.state_dict(), optimizer.state_dict(), "{label}");
            let mut in_memory = make();
            in_memory.load_state_dict(optimizer.state_dict()).unwrap();
            let mut in_memory_model = model.clone();

            for _ in 0..2 {
                model.step(&mut optimizer);
                resumed_model.step(&mut resumed);
                in_memory_model.step(&mut in_memory);
            }
            let bits = |m: &Quadratic| m.w.value().data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&resumed_model), bits(&model), "{label}: resumed from the file");
            assert_eq!(bits(&in_memory_model), bits(&model), "{label}: resumed from the state dict");
            assert_eq!(resumed.steps(), 5);
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
    }

    /// Writes an optimizer file by hand, with `tensors` and the metadata of `rule`.
    fn write_raw(path: &Path, rule: &str, tensors: &[(&str, Vec<f32>)]) {
        let bytes: Vec<(String, Vec<u8>, usize)> = tensors
            .iter()
            .map(|(n, v)| (n.to_string(), v.iter().flat_map(|x| x.to_le_bytes()).collect(), v.len()))
            .collect();
        let views = bytes.iter().map(|(n, b, len)| (n.as_str(), TensorView::new(Dtype::F32, vec![*len], b).unwrap()));
        let meta = HashMap::from([
            (RULE_KEY.to_string(), rule.to_string()),
            (ETA_KEY.to_string(), "0.1".to_string()),
            (STEP_KEY.to_string(), "3".to_string()),
        ]);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
    }

    #[test]
    fn mismatches_are_errors_naming_the_file_and_the_parameter() {
        let path = temp_file("mismatch");
        let mut model = Quadratic::ill_conditioned();
        let mut adam = Optimizer::new(Adam::default(), 0.05);
        model.step(&mut adam);
        save_optimizer(&path, &adam).unwrap();
        let err = |optimizer: &mut Optimizer, model: &Quadratic| {
            let before = optimizer.state_dict();
            let e = load_optimizer(&path, optimizer, model).expect_err("a mismatch").to_string();
            assert_eq!(optimizer.state_dict(), before, "a failed load changed the optimizer");
            assert!(e.contains("opt.safetensors"), "{e}");
            e
        };
        let fresh_adam = || Optimizer::new(Adam::default(), 0.05);

        // another rule, or the same rule with other settings
        let e = err(&mut Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.1), &model);
        assert!(e.contains("rule") && e.contains("adam(") && e.contains("sgd(momentum 0.9)"), "{e}");
        let e = err(&mut Optimizer::new(Adam { beta1: 0.8, ..Adam::default() }, 0.1), &model);
        assert!(e.contains("β₁ 0.8"), "{e}");

        // a parameter of another size
        let mut smaller = model.clone();
        smaller.w = Param::new(Tensor::zeros(&[4]));
        let e = err(&mut fresh_adam(), &smaller);
        assert!(e.contains("parameter 'w'") && e.contains("10 numbers") && e.contains("has 4"), "{e}");

        // a missing buffer, a parameter the file lacks, one the model lacks, a stray buffer
        let rule = Adam::default().name();
        write_raw(&path, &rule, &[("w.0", vec![0.0; 10])]);
        let e = err(&mut fresh_adam(), &model);
        assert!(e.contains("parameter 'w'") && e.contains("buffer 1 missing"), "{e}");
        write_raw(&path, &rule, &[("v.0", vec![0.0; 10]), ("v.1", vec![0.0; 10])]);
        let e = err(&mut fresh_adam(), &model);
        assert!(e.contains("parameter 'w'") && e.contains("missing"), "{e}");
        let w = [("w.0", vec![0.0; 10]), ("w.1", vec![0.0; 10])];
        write_raw(&path, &rule, &[w[0].clone(), w[1].clone(), ("v.0", vec![0.0; 10]), ("v.1", vec![0.0; 10])]);
        let e = err(&mut fresh_adam(), &model);
        assert!(e.contains("parameter 'v'") && e.contains("not a parameter of the model"), "{e}");
        write_raw(&path, &rule, &[w[0].clone(), w[1].clone(), ("w.2", vec![0.0; 10])]);
        let e = err(&mut fresh_adam(), &model);
        assert!(e.contains("tensor 'w.2'") && e.contains("only 2 buffers"), "{e}");
        write_raw(&path, &rule, &[("w.0", vec![0.0; 10]), ("w.1", vec![0.0; 9])]);
        let e = err(&mut fresh_adam(), &model);
        assert!(e.contains("parameter 'w'") && e.contains("buffer 1 holds 9"), "{e}");
        write_raw(&path, &rule, &[("w", vec![0.0; 10])]);
        assert!(err(&mut fresh_adam(), &model).contains("tensor 'w'"));

        // not an optimizer file at all
        std::fs::write(&path, b"garbage").unwrap();
        assert!(err(&mut fresh_adam(), &model).contains("header"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn load_state_dict_names_the_parameter() {
        let mut optimizer = Optimizer::new(Adam::default(), 0.05);
        let mut state = optimizer.state_dict();
        state.buffers.insert("0.weight".into(), vec![vec![0.0; 3]]);
        let e = optimizer.load_state_dict(state).err().unwrap().to_string();
        assert!(e.contains("parameter '0.weight'") && e.contains("1 state buffers"), "{e}");
    }
}
