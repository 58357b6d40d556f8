//! PyTorch in and out: a nabla model's weights under the names and in the layouts of the
//! equivalent `torch.nn` modules, with a generated Python file defining that module
//! ([`torch_module_source`]), and the way back.
//!
//! The layouts that differ (docs/checkpoint-format.md lists nabla's):
//! - `linear`: nabla's W is in × out, `nn.Linear.weight` out × in: transposed;
//! - `rnn`, `lstm`, `gru`: `weight_ih` F × 4H and `weight_hh` H × 4H become `weight_ih_l0` (4H × F)
//!   and `weight_hh_l0` (4H × H), transposed; the gate blocks are in the same order (LSTM i, f, g,
//!   o; GRU r, z, n); the RNN's and LSTM's one bias b becomes `bias_ih_l0` = b and `bias_hh_l0` =
//!   0, and on the way back b = `bias_ih_l0` + `bias_hh_l0` (PyTorch adds both to every step); the
//!   GRU has both already. Stacked and bidirectional layers have PyTorch's suffixes (`_l1`,
//!   `_l0_reverse`) in nabla too;
//! - everything else (Conv2d's OIHW, sub-sampling, RBF centres) is the same.
//!
//! The exported file also holds the input normalisation as the module's buffers `input_mean` and
//! `input_std`, so that the PyTorch module takes raw inputs (pixels / 255, or table columns).
//! An export round-trips: export then import gives back the same weights bit for bit.

mod python;

use super::checkpoint::{FORMAT_VERSION, FORMAT_VERSION_KEY, TORCH_SPEC_KEY};
use super::{atomic_write, canonical_header};
use crate::nn::{Layer, LayerSpec, Model, ModelSpec, Module, SizeLimits};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub use python::torch_module_source;

/// The buffer names of the input normalisation in the exported module's state dict.
pub const INPUT_MEAN: &str = "input_mean";
/// See [`INPUT_MEAN`].
pub const INPUT_STD: &str = "input_std";

/// The input normalisation x′ = (x − mean)/std that a model's inputs get before its first layer:
/// one mean and std for all inputs, or one of each per input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputNorm {
    /// The means, 1 or one per input.
    pub mean: Vec<f32>,
    /// The standard deviations, as many as the means.
    pub std: Vec<f32>,
}

impl InputNorm {
    /// No normalisation: mean 0, std 1.
    pub fn identity() -> InputNorm {
        InputNorm { mean: vec![0.0], std: vec![1.0] }
    }
}

/// How one nabla parameter is stored in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// Same name part, same layout.
    Same,
    /// A matrix, transposed.
    Transposed,
    /// One bias becomes two (`bias_ih` = b, `bias_hh` = 0); back: their sum.
    SplitBias,
}

/// One nabla parameter and the PyTorch tensor(s) it becomes.
struct Entry {
    /// Its name in nabla (`0.weight`).
    nabla: String,
    /// Its name(s) in PyTorch's state dict: two for a [`Rule::SplitBias`].
    torch: Vec<String>,
    rule: Rule,
    /// The connection table of a partially connected convolution, whose unconnected weights
    /// are set to zero on the way back (PyTorch's masked module ignores them too).
    connections: Option<Vec<Vec<usize>>>,
    /// The layer, for messages: "layer 3 (linear 'F6')".
    layer: String,
}

/// The entries of `layers`, whose parameters are named `<prefix><index>.…`.
fn entries(layers: &[Layer], prefix: &str, out: &mut Vec<Entry>) {
    for (i, layer) in layers.iter().enumerate() {
        let p = format!("{prefix}{i}.");
        let described = format!("layer {prefix}{i} ({})", layer.describe());
        let mut add = |nabla: &str, torch: &[&str], rule: Rule, connections: Option<&Vec<Vec<usize>>>| {
            out.push(Entry {
                nabla: format!("{p}{nabla}"),
                torch: torch.iter().map(|t| format!("{p}{t}")).collect(),
                rule,
                connections: connections.cloned(),
                layer: described.clone(),
            })
        };
        match &layer.spec {
            LayerSpec::Linear(_) => {
                add("weight", &["weight"], Rule::Transposed, None);
                add("bias", &["bias"], Rule::Same, None);
            }
            LayerSpec::Conv2d(conv) => {
                add("weight", &["weight"], Rule::Same, conv.connections.as_ref());
                add("bias", &["bias"], Rule::Same, None);
            }
            LayerSpec::Subsample(_) => {
                add("weight", &["weight"], Rule::Same, None);
                add("bias", &["bias"], Rule::Same, None);
            }
            LayerSpec::Rbf(_) => add("weight", &["weight"], Rule::Same, None),
            LayerSpec::Rnn(_) => recurrent(&[(String::new(), "_l0".into())], false, &mut add),
            LayerSpec::Lstm(l) => recurrent(&cells(l.layers, l.bidirectional), false, &mut add),
            LayerSpec::Gru(g) => recurrent(&cells(g.layers, g.bidirectional), true, &mut add),
            LayerSpec::Inception(_) => {
                for branch in ["1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"] {
                    for part in ["weight", "bias"] {
                        let name = format!("{branch}.{part}");
                        add(&name, &[&name], Rule::Same, None);
                    }
                }
            }
            LayerSpec::Auxiliary(aux) => entries(&aux.layers, &p, out),
            LayerSpec::MaxPool2d(_)
            | LayerSpec::AvgPool2d(_)
            | LayerSpec::Pad(_)
            | LayerSpec::Flatten(_)
            | LayerSpec::OneHot(_)
            | LayerSpec::Lrn(_)
            | LayerSpec::Dropout(_)
            | LayerSpec::Scale(_)
            | LayerSpec::Relu(_)
            | LayerSpec::Gelu(_)
            | LayerSpec::Sigmoid(_)
            | LayerSpec::Tanh(_)
            | LayerSpec::ScaledTanh(_)
            | LayerSpec::Identity(_) => {}
        }
    }
}

/// The cells of a recurrent layer: (nabla's suffix, PyTorch's suffix) of their parameters'
/// names. A single plain layer has nabla's plain names (`weight_ih`); a stack has PyTorch's
/// suffixes on both sides (see `nn::Stacked`).
fn cells(layers: usize, bidirectional: bool) -> Vec<(String, String)> {
    if layers == 1 && !bidirectional {
        return vec![(String::new(), "_l0".into())];
    }
    let directions: &[&str] = if bidirectional { &["", "_reverse"] } else { &[""] };
    (0..layers).flat_map(|k| directions.iter().map(move |d| format!("_l{k}{d}"))).map(|s| (s.clone(), s)).collect()
}

/// Adds the entries of a recurrent layer's `cells`: W and U transposed (PyTorch stores them
/// gates × inputs), and the GRU's two biases as they are or the RNN's and LSTM's one bias split
/// in two.
fn recurrent(
    cells: &[(String, String)],
    two_biases: bool,
    add: &mut impl FnMut(&str, &[&str], Rule, Option<&Vec<Vec<usize>>>),
) {
    for (ours, theirs) in cells {
        for w in ["weight_ih", "weight_hh"] {
            add(&format!("{w}{ours}"), &[&format!("{w}{theirs}")], Rule::Transposed, None);
        }
        let (b_ih, b_hh) = (format!("bias_ih{theirs}"), format!("bias_hh{theirs}"));
        if two_biases {
            add(&format!("bias_ih{ours}"), &[&b_ih], Rule::Same, None);
            add(&format!("bias_hh{ours}"), &[&b_hh], Rule::Same, None);
        } else {
            add(&format!("bias{ours}"), &[&b_ih, &b_hh], Rule::SplitBias, None);
        }
    }
}

/// The entries of a whole model, checked against the parameters its network really has (a
/// layer kind whose parameters this file does not map is a bug here, not in the caller's input).
fn model_entries(model: &Model) -> Vec<Entry> {
    let mut out = Vec::new();
    entries(&model.spec().layers, "", &mut out);
    let mapped: Vec<&str> = out.iter().map(|e| e.nabla.as_str()).collect();
    let params: Vec<String> = model.params().into_iter().map(|(name, _)| name).collect();
    assert_eq!(mapped, params, "io::torch: the PyTorch mapping does not cover the model's parameters");
    out
}

/// The 0/1 mask of a connection table for a weight of shape O × C × KH × KW.
fn table_mask(connections: &[Vec<usize>], shape: &[usize]) -> Vec<f32> {
    let (inputs, area) = (shape[1], shape[2] * shape[3]);
    let mut mask = vec![0.0; shape.iter().product()];
    for (o, sources) in connections.iter().enumerate() {
        for &c in sources {
            mask[(o * inputs + c) * area..(o * inputs + c + 1) * area].fill(1.0);
        }
    }
    mask
}

/// The shape of a nabla parameter of shape `shape` as PyTorch stores it under `rule`.
fn torch_shape(rule: Rule, shape: &[usize]) -> Vec<usize> {
    match rule {
        Rule::Transposed => shape.iter().rev().copied().collect(),
        Rule::Same | Rule::SplitBias => shape.to_vec(),
    }
}

/// The model's weights under PyTorch's names and layouts, then the normalisation buffers: the
/// state dict of the module that [`torch_module_source`] defines.
pub fn torch_state_dict(model: &Model, norm: &InputNorm) -> Vec<(String, Tensor)> {
    let params: HashMap<String, Tensor> =
        model.params().into_iter().map(|(name, p)| (name, p.value().clone())).collect();
    let mut out = Vec::new();
    for entry in model_entries(model) {
        let value = &params[&entry.nabla];
        match entry.rule {
            Rule::Same => out.push((entry.torch[0].clone(), value.clone())),
            Rule::Transposed => out.push((entry.torch[0].clone(), value.transpose())),
            Rule::SplitBias => {
                out.push((entry.torch[0].clone(), value.clone()));
                out.push((entry.torch[1].clone(), Tensor::zeros(value.shape())));
            }
        }
    }
    out.push((INPUT_MEAN.into(), Tensor::from_vec(norm.mean.clone(), &[norm.mean.len()])));
    out.push((INPUT_STD.into(), Tensor::from_vec(norm.std.clone(), &[norm.std.len()])));
    out
}

/// Writes `model` for PyTorch: its state dict ([`torch_state_dict`]) as safetensors at
/// `weights`, and the Python file defining the module ([`torch_module_source`]) at `py`, both
/// atomically. The spec goes in the file's metadata too (not under `nabla.spec`: nabla cannot
/// load these layouts as they are; `nabla import --from torch` finds it there).
pub fn save_torch(weights: &Path, py: &Path, model: &Model, norm: &InputNorm) -> Result<()> {
    let source = torch_module_source(model.spec(), norm.mean.len())?;
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (TORCH_SPEC_KEY.to_string(), serde_json::to_string(model.spec()).expect("a spec always serializes")),
        (FORMAT_VERSION_KEY.to_string(), FORMAT_VERSION.to_string()),
    ]);
    write_tensors(weights, &torch_state_dict(model, norm), meta)?;
    atomic_write(py, source.as_bytes())
}

/// Writes `tensors` (F32) and `meta` as a safetensors file at `path`, atomically.
fn write_tensors(path: &Path, tensors: &[(String, Tensor)], meta: HashMap<String, String>) -> Result<()> {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, t)| t.data().iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, t.shape().to_vec(), b)
            .map_err(|e| Error::config(format!("{}: tensor '{name}': {e}", path.display())))?;
        views.push((name.as_str(), view));
    }
    let out = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("{}: cannot serialize: {e}", path.display())))?;
    atomic_write(path, &canonical_header(out))
}

/// The spec that [`save_torch`] stored in a PyTorch export's metadata, if `path` is one.
pub fn torch_export_spec(path: &Path) -> Result<Option<ModelSpec>> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, header) = SafeTensors::read_metadata(&buf)
        .map_err(|e| Error::format(path, "header", format!("not a safetensors file ({e})")))?;
    let Some(json) = header.metadata().as_ref().and_then(|m| m.get(TORCH_SPEC_KEY)) else { return Ok(None) };
    let spec = serde_json::from_str(json)
        .map_err(|e| Error::format(path, format!("metadata '{TORCH_SPEC_KEY}'"), e.to_string()))?;
    Ok(Some(spec))
}

/// Reads a PyTorch state dict saved as safetensors (`safetensors.torch.save_file(net.state_dict(),
/// path)`) into the model of `spec`: every tensor the spec's layers need, under the names and in
/// the shapes of [`torch_state_dict`], F32; nothing else but the optional `input_mean` and
/// `input_std`, returned if present. A missing, extra, mis-shaped or non-finite tensor is an error
/// naming it, the layer and the expected shape.
pub fn import_torch(path: &Path, spec: ModelSpec, limits: &SizeLimits) -> Result<(Model, Option<InputNorm>)> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let tensors = SafeTensors::deserialize(&buf).map_err(|e| bad("header", format!("not a safetensors file ({e})")))?;
    let mut model = Model::with_limits(spec, &mut Rng::seed(0), limits)?;
    let entries = model_entries(&model);
    let read = |name: &str, shape: &[usize], layer: &str| -> Result<Vec<f32>> {
        let place = format!("tensor '{name}'");
        let view = tensors
            .tensor(name)
            .map_err(|_| bad(&place, format!("missing: {layer} needs it, shape {shape:?} (F32)")))?;
        if view.dtype() != Dtype::F32 {
            let hint = "save the state dict as float32 (`{k: v.float() for k, v in sd.items()}`)";
            return Err(bad(&place, format!("dtype {:?}, expected F32: {hint}", view.dtype())));
        }
        if view.shape() != shape {
            return Err(bad(&place, format!("shape {:?}, {layer} expects {shape:?}", view.shape())));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            return Err(bad(&place, format!("value {i} is {}, weights must be finite", values[i])));
        }
        Ok(values)
    };

    let mut known: HashSet<String> = entries.iter().flat_map(|e| e.torch.iter().cloned()).collect();
    known.extend([INPUT_MEAN.to_string(), INPUT_STD.to_string()]);
    let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
    names.sort();
    if let Some(extra) = names.iter().find(|n| !known.contains(*n)) {
        let expected: Vec<&str> = entries.iter().flat_map(|e| e.torch.iter().map(String::as_str)).collect();
        let more = if expected.len() > 6 { ", …" } else { "" };
        return Err(bad(
            &format!("tensor '{extra}'"),
            format!(
                "not a tensor of model '{}' (it expects {}{more}): a different network, or names with a prefix?",
                model.spec().name,
                expected[..expected.len().min(6)].join(", "),
            ),
        ));
    }

    let mut params: HashMap<String, &mut crate::autodiff::Param> = model.params_mut().into_iter().collect();
    for entry in &entries {
        let param = params.get_mut(&entry.nabla).expect("model_entries checked the names");
        let shape = param.value().shape().to_vec();
        let want = torch_shape(entry.rule, &shape);
        let first = read(&entry.torch[0], &want, &entry.layer)?;
        let mut value = match entry.rule {
            Rule::Same => Tensor::from_vec(first, &shape),
            Rule::Transposed => Tensor::from_vec(first, &want).transpose(),
            Rule::SplitBias => {
                let second = read(&entry.torch[1], &want, &entry.layer)?;
                Tensor::from_vec(first.iter().zip(&second).map(|(a, b)| a + b).collect(), &shape)
            }
        };
        if let Some(table) = &entry.connections {
            let mask = table_mask(table, &shape);
            value.data_mut().iter_mut().zip(&mask).for_each(|(w, m)| *w *= m);
        }
        *param.value_mut() = value;
    }

    let inputs = model.spec().input_size();
    let norm = match (tensors.tensor(INPUT_MEAN), tensors.tensor(INPUT_STD)) {
        (Err(_), Err(_)) => None,
        (Ok(mean), Ok(_)) => {
            let n = mean.shape().iter().product::<usize>();
            let shape = if n == 1 { vec![1] } else { vec![inputs] };
            let mean = read(INPUT_MEAN, &shape, "the input normalisation")?;
            let std = read(INPUT_STD, &shape, "the input normalisation")?;
            if let Some(j) = std.iter().position(|s| *s == 0.0) {
                return Err(bad(&format!("tensor '{INPUT_STD}'"), format!("value {j} is 0; inputs are divided by it")));
            }
            Some(InputNorm { mean, std })
        }
        (Ok(_), Err(_)) => {
            return Err(bad(&format!("tensor '{INPUT_STD}'"), format!("missing, but '{INPUT_MEAN}' is there")));
        }
        (Err(_), Ok(_)) => {
            return Err(bad(&format!("tensor '{INPUT_MEAN}'"), format!("missing, but '{INPUT_STD}' is there")));
        }
    };
    Ok((model, norm))
}

#[cfg(test)]
mod tests;
