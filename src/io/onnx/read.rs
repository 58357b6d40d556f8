//! ONNX import: the weights of an ONNX model (its initialisers) as a nabla model of a given spec,
//! or of the spec that `nabla export --format onnx` stored in the file's metadata.
//!
//! Each parameter of the spec's model is looked up under the name and in the layout that the
//! exporter (`layers.rs`) gives it, and turned back into nabla's layout:
//! - `linear`: W as it is (in × out, Gemm's B); a `Gemm` with `transB = 1` (out × in, the way
//!   PyTorch writes it) is transposed back;
//! - `conv2d`: as it is (OIHW), a connection table's mask applied again;
//! - sub-sampling: the depthwise kernel (C × 1 × KH × KW), which must hold one value per map;
//! - `rnn`, `lstm`, `gru`: ONNX's W (D × G·H × F) and R (D × G·H × H) transposed per direction
//!   and the gate blocks put back in nabla's order (ONNX i, o, f, c → nabla i, f, g, o; ONNX z, r,
//!   h → nabla r, z, n); the RNN's and LSTM's one bias is Wb + Rb (Wb itself when Rb is zero, as
//!   the exporter writes it, so that a round trip is bit for bit), the GRU's are Wb and Rb;
//! - the RBF centres and the Inception branches as they are.
//!
//! The graph's structure is checked where the mapping depends on it: each weight must be read
//! by a node of the operator its layer exports to (a spec that says `gru` where the file has an
//! `LSTM` is an error naming the node), and the input scaling is read back from the nodes that
//! the graph starts with. Auxiliary classifiers are not in an exported file (they are dropped at
//! inference): their weights keep the values a fresh build gives them, and [`Imported`] lists
//! them.
//!
//! Memory stays bounded by the file: the file is refused above protobuf's 2 GiB before it is
//! read, the spec's model is checked against the size limits and against the file's length
//! before it is built, and every initialiser's declared shape against its data before a value is
//! converted.

use super::layers::{Recurrence, mask_weights};
use super::proto::{DataType, GraphProto, ModelProto, NodeProto, TensorProto};
use super::{INPUT, InputScaling, RawInput, SPEC_KEY};
use crate::nn::{Layer, LayerSpec, Model, ModelSpec, Module, SizeLimits};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

/// What [`import_onnx`] gives back.
pub struct Imported {
    /// The model, its weights the file's.
    pub model: Model,
    /// The input scaling that the graph starts with, if it starts with nabla's.
    pub scaling: Option<InputScaling>,
    /// The file's metadata (`nabla.spec`, `nabla.vocabulary`, …).
    pub metadata: HashMap<String, String>,
    /// The parameters that the file does not hold (auxiliary heads'), left as built.
    pub not_in_file: Vec<String>,
}

/// The largest file read: one protobuf message holds at most 2 GiB.
const MAX_FILE: u64 = i32::MAX as u64;

/// Reads and decodes an ONNX file, refusing one larger than a protobuf message can be.
fn decode(path: &Path) -> Result<(ModelProto, usize)> {
    let length = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if length > MAX_FILE {
        return Err(Error::format(path, "file", format!("{length} bytes, more than the 2 GiB an ONNX file can hold")));
    }
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let model = ModelProto::decode(&buf[..])
        .map_err(|e| Error::format(path, "file", format!("not an ONNX model (protobuf: {e})")))?;
    Ok((model, buf.len()))
}

/// The spec that `nabla export --format onnx` stored in the file's metadata (`nabla.spec`), if
/// the file has one.
pub fn onnx_export_spec(path: &Path) -> Result<Option<ModelSpec>> {
    let (onnx, _) = decode(path)?;
    spec_in(path, &onnx)
}

fn spec_in(path: &Path, onnx: &ModelProto) -> Result<Option<ModelSpec>> {
    let Some(entry) = onnx.metadata_props.iter().find(|p| p.key == SPEC_KEY) else { return Ok(None) };
    let spec = serde_json::from_str(&entry.value)
        .map_err(|e| Error::format(path, format!("metadata '{SPEC_KEY}'"), e.to_string()))?;
    Ok(Some(spec))
}

/// Reads the initialisers of the ONNX file at `path` into a model of `spec` (or, when `None`, of
/// the spec stored in the file's metadata), built under `limits`. Errors name the file and the
/// initialiser, node or metadata entry, and what was expected; see the module docs.
pub fn import_onnx(path: &Path, spec: Option<ModelSpec>, limits: &SizeLimits) -> Result<Imported> {
    let (onnx, file_length) = decode(path)?;
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let spec = match spec {
        Some(spec) => spec,
        None => spec_in(path, &onnx)?.ok_or_else(|| {
            bad(
                "metadata",
                format!(
                    "no '{SPEC_KEY}' entry (not written by `nabla export --format onnx`): give the network with \
                     --spec FILE or --model NAME"
                ),
            )
        })?,
    };
    let graph = onnx.graph.as_ref().ok_or_else(|| bad("graph", "missing: the file holds no graph".into()))?;
    let place = format!("model '{}'", spec.name);
    let size = spec.check_size(limits).map_err(|e| bad(&place, e.to_string()))?;
    let aux = spec.layers.iter().any(|l| matches!(l.spec, LayerSpec::Auxiliary(_)));
    // auxiliary heads are not exported, so only a model without them can be weighed against the file
    if !aux && size.stored > file_length / 4 {
        return Err(bad(
            &place,
            format!(
                "the spec's model holds {} numbers ({} bytes of f32), but the file has only {file_length} bytes",
                size.stored,
                size.stored.saturating_mul(4)
            ),
        ));
    }
    let mut model = Model::with_limits(spec, &mut Rng::seed(0), limits).map_err(|e| bad(&place, e.to_string()))?;

    let reader = Reader::new(path, graph);
    let shapes = model.spec().shapes()?;
    let mut values = HashMap::new();
    let mut input = model.spec().input.clone();
    for (i, (layer, output)) in model.spec().layers.iter().zip(&shapes).enumerate() {
        reader.layer(layer, i, &input, &model, &mut values)?;
        input = output.clone();
    }
    let mut not_in_file = Vec::new();
    for (name, param) in model.params_mut() {
        match values.remove(&name) {
            Some(value) => *param.value_mut() = value,
            None => not_in_file.push(name),
        }
    }
    let scaling = reader.scaling(model.spec())?;
    let metadata = onnx.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
    Ok(Imported { model, scaling, metadata, not_in_file })
}

/// The graph's initialisers and which nodes read each of them.
struct Reader<'a> {
    path: &'a Path,
    initializers: HashMap<&'a str, &'a TensorProto>,
    readers: HashMap<&'a str, Vec<&'a NodeProto>>,
    nodes: &'a [NodeProto],
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path, graph: &'a GraphProto) -> Reader<'a> {
        let initializers = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut readers: HashMap<&str, Vec<&NodeProto>> = HashMap::new();
        for node in &graph.node {
            for input in &node.input {
                readers.entry(input.as_str()).or_default().push(node);
            }
        }
        Reader { path, initializers, readers, nodes: &graph.node }
    }

    fn bad(&self, place: &str, message: String) -> Error {
        Error::format(self.path, place, message)
    }

    /// The initialiser `name` as f32 values of shape `shape`, read by a node whose operator is
    /// one of `ops`; returns the values and that node.
    fn floats(&self, name: &str, shape: &[usize], ops: &[&str], layer: &str) -> Result<(Vec<f32>, &'a NodeProto)> {
        let place = format!("initializer '{name}'");
        let t = self.initializers.get(name).ok_or_else(|| {
            self.bad(&place, format!("missing: {layer} needs it, shape {shape:?} (float), read by {}", ops.join("/")))
        })?;
        let node = self.readers.get(name).and_then(|nodes| nodes.iter().find(|n| ops.contains(&n.op_type.as_str())));
        let node = *node.ok_or_else(|| {
            let found: Vec<String> = self
                .readers
                .get(name)
                .map(|nodes| nodes.iter().map(|n| format!("{} '{}'", n.op_type, n.name)).collect())
                .unwrap_or_default();
            let found = if found.is_empty() { "no node".to_string() } else { found.join(", ") };
            self.bad(&place, format!("read by {found}, but {layer} is exported as {}", ops.join("/")))
        })?;
        if t.data_location != 0 {
            return Err(self.bad(&place, "stored in an external file, which nabla does not read".into()));
        }
        if t.data_type != DataType::Float as i32 {
            return Err(self.bad(&place, format!("data type {}, expected 1 (float)", t.data_type)));
        }
        let dims: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d).unwrap_or(usize::MAX)).collect();
        if dims != shape {
            return Err(self.bad(&place, format!("shape {:?}, {layer} expects {shape:?}", t.dims)));
        }
        // the shape is the model's, which was built under the size limits; the data must match it
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if !t.raw_data.is_empty() {
            if t.raw_data.len() != 4 * n {
                let got = t.raw_data.len();
                return Err(self.bad(&place, format!("{got} bytes of data for shape {shape:?}, expected {}", 4 * n)));
            }
            t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        } else {
            if t.float_data.len() != n {
                let got = t.float_data.len();
                return Err(self.bad(&place, format!("{got} values for shape {shape:?}, expected {n}")));
            }
            t.float_data.clone()
        };
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            return Err(self.bad(&place, format!("value {i} is {}, weights must be finite", values[i])));
        }
        Ok((values, node))
    }

    /// Reads the parameters of one layer (named `<at>…`, per-sample input shape `input`) into
    /// `values`, in nabla's layouts.
    fn layer(
        &self,
        layer: &Layer,
        index: usize,
        input: &[usize],
        model: &Model,
        values: &mut HashMap<String, Tensor>,
    ) -> Result<()> {
        let at = &format!("{index}.");
        let described = format!("layer {index} ({})", layer.describe());
        let shape_of = |name: &str| -> Vec<usize> {
            let full = format!("{at}{name}");
            let found = model.params().into_iter().find(|(n, _)| *n == full);
            found.map(|(_, p)| p.value().shape().to_vec()).expect("the model was built from this spec")
        };
        // a parameter stored as it is
        let mut same = |name: &str, ops: &[&str]| -> Result<()> {
            let shape = shape_of(name);
            let (v, _) = self.floats(&format!("{at}{name}"), &shape, ops, &described)?;
            values.insert(format!("{at}{name}"), Tensor::from_vec(v, &shape));
            Ok(())
        };
        match &layer.spec {
            LayerSpec::Linear(_) => {
                // nabla's W is in × out (Gemm's B, or MatMul's); PyTorch writes out × in under transB = 1
                let (name, shape) = (format!("{at}weight"), shape_of("weight"));
                let gemm = self.readers.get(name.as_str()).into_iter().flatten().find(|n| n.op_type == "Gemm");
                if let Some(node) = gemm {
                    let scaled = node.attribute.iter().find(|a| (a.name == "alpha" || a.name == "beta") && a.f != 1.0);
                    if let Some(a) = scaled {
                        let message = format!("{} = {}, but {described} is x·W + b (1 expected)", a.name, a.f);
                        return Err(self.bad(&format!("node '{}'", node.name), message));
                    }
                }
                let trans_b = gemm.is_some_and(|n| n.attribute.iter().any(|a| a.name == "transB" && a.i == 1));
                let w = if trans_b {
                    let out_in = [shape[1], shape[0]];
                    Tensor::from_vec(self.floats(&name, &out_in, &["Gemm"], &described)?.0, &out_in).transpose()
                } else {
                    Tensor::from_vec(self.floats(&name, &shape, &["Gemm", "MatMul"], &described)?.0, &shape)
                };
                same("bias", &["Gemm", "Add"])?;
                values.insert(name, w);
            }
            LayerSpec::Conv2d(conv) => {
                same("weight", &["Conv"])?;
                same("bias", &["Conv"])?;
                if let Some(table) = &conv.connections {
                    let w = values.get_mut(&format!("{at}weight")).expect("just read");
                    mask_weights(w, table);
                }
            }
            LayerSpec::Subsample(sub) => {
                let (c, (kh, kw)) = (input[0], sub.kernel.pair());
                let name = format!("{at}weight");
                let (kernel, _) = self.floats(&name, &[c, 1, kh, kw], &["Conv"], &described)?;
                let area = kh * kw;
                if let Some(map) =
                    (0..c).find(|&m| kernel[m * area..(m + 1) * area].iter().any(|v| *v != kernel[m * area]))
                {
                    return Err(self.bad(
                        &format!("initializer '{name}'"),
                        format!("map {map}'s kernel holds different values; {described} has one weight per map"),
                    ));
                }
                let w: Vec<f32> = (0..c).map(|m| kernel[m * area]).collect();
                same("bias", &["Conv"])?;
                values.insert(name, Tensor::from_vec(w, &[c]));
            }
            LayerSpec::Rbf(_) => {
                same("weight", &["Sub"])?;
            }
            LayerSpec::Inception(_) => {
                for branch in ["1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"] {
                    same(&format!("{branch}.weight"), &["Conv"])?;
                    same(&format!("{branch}.bias"), &["Conv"])?;
                }
            }
            LayerSpec::Rnn(rnn) => {
                self.recurrent(at, input, rnn.hidden, Recurrence::Elman, 1, false, &described, values)?
            }
            LayerSpec::Lstm(l) => {
                self.recurrent(at, input, l.hidden, Recurrence::Lstm, l.layers, l.bidirectional, &described, values)?
            }
            LayerSpec::Gru(l) => {
                self.recurrent(at, input, l.hidden, Recurrence::Gru, l.layers, l.bidirectional, &described, values)?
            }
            // not exported: left as built (see `Imported::not_in_file`)
            LayerSpec::Auxiliary(_) => {}
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
        Ok(())
    }

    /// The cells of a recurrent layer: per layer of the stack, ONNX's W, R and B (every
    /// direction in one tensor) split into nabla's per-direction parameters.
    #[allow(clippy::too_many_arguments)]
    fn recurrent(
        &self,
        at: &str,
        input: &[usize],
        hidden: usize,
        kind: Recurrence,
        layers: usize,
        bidirectional: bool,
        layer: &str,
        values: &mut HashMap<String, Tensor>,
    ) -> Result<()> {
        let gates = kind.order().len();
        let gh = gates * hidden;
        let single = layers == 1 && !bidirectional;
        let directions: &[&str] = if bidirectional { &["", "_reverse"] } else { &[""] };
        let d = directions.len();
        let mut features = input[1];
        let op = [kind.op()];
        for k in 0..layers {
            let suffix = if single { String::new() } else { format!("_l{k}") };
            let (w, _) = self.floats(&format!("{at}weight_ih{suffix}"), &[d, gh, features], &op, layer)?;
            let (r, _) = self.floats(&format!("{at}weight_hh{suffix}"), &[d, gh, hidden], &op, layer)?;
            let (b, _) = self.floats(&format!("{at}bias{suffix}"), &[d, 2 * gh], &op, layer)?;
            for (j, direction) in directions.iter().enumerate() {
                let name = |part: &str| format!("{at}{part}{suffix}{direction}");
                let w = &w[j * gh * features..(j + 1) * gh * features];
                let r = &r[j * gh * hidden..(j + 1) * gh * hidden];
                let (wb, rb) = b[j * 2 * gh..(j + 1) * 2 * gh].split_at(gh);
                values.insert(name("weight_ih"), gate_columns(w, features, hidden, kind));
                values.insert(name("weight_hh"), gate_columns(r, hidden, hidden, kind));
                let row = |v: &[f32]| gate_columns(v, 1, hidden, kind).reshape(&[gh]);
                if kind == Recurrence::Gru {
                    values.insert(name("bias_ih"), row(wb));
                    values.insert(name("bias_hh"), row(rb));
                } else if rb.iter().all(|&v| v == 0.0) {
                    values.insert(name("bias"), row(wb));
                } else {
                    // both biases are added at every step: nabla's one bias is their sum
                    let sum: Vec<f32> = wb.iter().zip(rb).map(|(a, b)| a + b).collect();
                    values.insert(name("bias"), row(&sum));
                }
            }
            features = d * hidden;
        }
        Ok(())
    }

    /// The input scaling at the head of the graph, if it is nabla's: `Div` by 255 (pixels) or
    /// not (columns), then `Sub` `input.mean` and `Div` `input.std`; symbol indices (a model
    /// that starts with a one-hot layer) are read as they are.
    fn scaling(&self, spec: &ModelSpec) -> Result<Option<InputScaling>> {
        if matches!(spec.layers.first().map(|l| &l.spec), Some(LayerSpec::OneHot(_))) {
            return Ok(Some(InputScaling::symbols()));
        }
        let (Some(mean), Some(_)) = (self.initializers.get("input.mean"), self.initializers.get("input.std")) else {
            return Ok(None);
        };
        let first = self.nodes.iter().find(|n| n.input.first().is_some_and(|i| i == INPUT));
        let raw = match first.map(|n| n.op_type.as_str()) {
            Some("Div") => RawInput::Pixels,
            _ => RawInput::Columns,
        };
        // one pair is stored as scalars, one per input value in the input's shape
        let shape: Vec<usize> = if mean.dims.is_empty() { Vec::new() } else { spec.input.clone() };
        let (mean, _) = self.floats("input.mean", &shape, &["Sub"], "the input scaling")?;
        let (std, _) = self.floats("input.std", &shape, &["Div"], "the input scaling")?;
        if let Some(j) = std.iter().position(|&s| s == 0.0) {
            return Err(self.bad("initializer 'input.std'", format!("value {j} is 0; inputs are divided by it")));
        }
        Ok(Some(InputScaling { raw, mean, std }))
    }
}

/// ONNX's `gates·H × rows` matrix (row-major, ONNX's gate order) as nabla's `rows × gates·H`
/// (nabla's gate order): the inverse of the exporter's `gate_rows`.
fn gate_columns(onnx: &[f32], rows: usize, hidden: usize, kind: Recurrence) -> Tensor {
    let order = kind.order();
    let columns = order.len() * hidden;
    let mut out = vec![0.0; rows * columns];
    for (g, &block) in order.iter().enumerate() {
        for j in 0..hidden {
            for k in 0..rows {
                out[k * columns + block * hidden + j] = onnx[(g * hidden + j) * rows + k];
            }
        }
    }
    Tensor::from_vec(out, &[rows, columns])
}

#[cfg(test)]
mod tests;
