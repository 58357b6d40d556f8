//! ONNX export: a model as an ONNX file (opset 20, IR version 9) that onnxruntime, tract and the
//! other ONNX runtimes run without nabla.
//!
//! # The exported graph
//! - **input** `input`: float32, N × the spec's input shape (N × 1 × 28 × 28 for the CNNs,
//!   N × 28 × 28 for the row-reading LSTM, N × 784 for an MLP on MNIST, N × F for a table), the
//!   batch size N left free. The values are *raw*: pixels 0–255 for images, the table's columns
//!   as they are in the CSV file. The graph starts with nabla's input scaling: pixels are divided
//!   by 255 (as nabla's MNIST and PNG readers do), then x′ = (x − mean)/std with the mean and std
//!   stored in the checkpoint (one pair, or one per column); a spec's `input_map` is stored there
//!   as such a pair too.
//! - **outputs**: `logits` (the raw outputs, N × K) and `probabilities` (their softmax, or their
//!   sigmoid, as the model's loss turns logits into predictions) for the cross-entropy losses;
//!   `outputs` (the raw outputs) for least squares.
//! - **nodes**: the layers in their inference form (dropout off, auxiliary heads dropped), each
//!   as standard ONNX operators (`io/onnx/layers.rs` says how the ones that ONNX has no operator for are written); node and
//!   value names start with the layer's index and name (`5.C3/Conv_12`), and the weights keep
//!   nabla's parameter names (`5.weight`) in the layouts ONNX's operators want.
//! - **metadata**: the spec (`nabla.spec`, JSON), the input scaling (`nabla.input`) and what the
//!   outputs are (`nabla.outputs`), and any entries the caller adds (a character model's
//!   vocabulary, `nabla.vocabulary`).
//!
//! A character model (one that starts with a one-hot layer) takes symbol indices 0 … V−1 as
//! floats, N × T, unscaled; its outputs are N × T × V.
//!
//! [`import_onnx`] reads such a file back (`nabla import --from onnx`): the spec from the
//! metadata, or one given, and the weights from the initialisers (see `read.rs`).
//!
//! The encoding is `prost` over hand-written message structs ([`proto`]): no protoc, no build
//! script, no generated code to keep in step.

mod graph;
mod layers;
pub mod proto;
mod read;

pub use read::{Imported, import_onnx, onnx_export_spec};

use super::atomic_write;
use crate::loss::Loss;
use crate::nn::{Model, Module};
use crate::{Error, Result};
use graph::Graph;
use prost::Message;
use proto::{
    DataType, Dimension, GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto,
    TensorTypeProto, TypeProto, ValueInfoProto,
};
use std::path::Path;

/// The ONNX operator set the graph uses (`Gelu` needs 20).
pub const OPSET: i64 = 20;
/// The ONNX IR (file format) version that goes with opset 20.
pub const IR_VERSION: i64 = 9;
/// The name of the graph's input.
pub const INPUT: &str = "input";
/// The metadata key of the spec, as in a checkpoint.
const SPEC_KEY: &str = "nabla.spec";

/// What the exported model's input values are before nabla's normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawInput {
    /// Image pixels 0–255, which nabla's readers divide by 255 first.
    Pixels,
    /// Table columns, used as they are.
    Columns,
    /// Symbol indices (a character model's), read by its one-hot layer as they are: the
    /// scaling must be the identity (mean 0, std 1) and the graph has none.
    Symbols,
}

/// The input scaling that the graph applies first: x′ = (x/255 − mean)/std for pixels,
/// (x − mean)/std for columns, with one mean and std or one per input value.
#[derive(Clone, Debug, PartialEq)]
pub struct InputScaling {
    /// What the raw inputs are.
    pub raw: RawInput,
    /// One mean, or one per input value.
    pub mean: Vec<f32>,
    /// One standard deviation, or one per input value.
    pub std: Vec<f32>,
}

impl InputScaling {
    /// The scaling of symbol indices: none.
    pub fn symbols() -> InputScaling {
        InputScaling { raw: RawInput::Symbols, mean: vec![0.0], std: vec![1.0] }
    }

    /// A one-line description for the model's metadata.
    fn describe(&self) -> String {
        match self.raw {
            RawInput::Symbols => "symbol indices 0..V-1 as floats (nabla.vocabulary), not scaled".into(),
            RawInput::Pixels => {
                format!("raw pixels 0-255; the graph computes (x/255 - {:?})/{:?}", self.mean, self.std)
            }
            RawInput::Columns if self.mean.len() == 1 => {
                format!("raw table columns; the graph computes (x - {:?})/{:?}", self.mean, self.std)
            }
            RawInput::Columns => "raw table columns; the graph standardises each column with the training \
                                  part's mean and std (initialisers input.mean, input.std)"
                .into(),
        }
    }
}

/// The model as the bytes of an ONNX file, its graph starting with `scaling` (see the module
/// docs). An error if `scaling` does not fit the model's inputs, or if the model is too large
/// for one protobuf message (2 GiB).
pub fn onnx_bytes(model: &Model, scaling: &InputScaling) -> Result<Vec<u8>> {
    onnx_bytes_with(model, scaling, &[])
}

/// [`onnx_bytes`] with `extra` entries added to the metadata after nabla's own.
pub fn onnx_bytes_with(model: &Model, scaling: &InputScaling, extra: &[(String, String)]) -> Result<Vec<u8>> {
    let spec = model.spec();
    let shapes = spec.shapes()?;
    let inputs = spec.input_size();
    let (means, stds) = (scaling.mean.len(), scaling.std.len());
    if means != stds || !(means == 1 || means == inputs) {
        return Err(Error::config(format!(
            "model '{}': {means} means and {stds} stds for {inputs} inputs; expected one of each, or one of each \
             per input",
            spec.name
        )));
    }
    if let Some(s) = scaling.mean.iter().chain(&scaling.std).find(|v| !v.is_finite()) {
        return Err(Error::config(format!("model '{}': input scaling holds {s}, expected finite numbers", spec.name)));
    }
    if let Some(j) = scaling.std.iter().position(|&s| s == 0.0) {
        return Err(Error::config(format!("model '{}': input std {j} is 0, inputs are divided by it", spec.name)));
    }
    let one_hot = matches!(spec.layers.first().map(|l| &l.spec), Some(crate::nn::LayerSpec::OneHot(_)));
    if (scaling.raw == RawInput::Symbols) != one_hot || (one_hot && *scaling != InputScaling::symbols()) {
        return Err(Error::config(format!(
            "model '{}': symbol indices (unscaled) are the input of a model that starts with a one-hot layer, and \
             only of such a model",
            spec.name
        )));
    }

    let params: layers::Params = model.params().into_iter().map(|(name, p)| (name, p.value())).collect();
    let mut g = Graph::default();
    g.set_scope("input");
    let mut x = INPUT.to_string();
    if scaling.raw == RawInput::Pixels {
        let full = g.scalar(255.0);
        x = g.node("Div", &[&x, &full], vec![]);
    }
    if scaling.raw != RawInput::Symbols {
        let stat_shape: &[usize] = if means == 1 { &[] } else { &spec.input };
        let mean = g.floats(Some("input.mean"), stat_shape, &scaling.mean);
        let std = g.floats(Some("input.std"), stat_shape, &scaling.std);
        let centred = g.node("Sub", &[&x, &mean], vec![]);
        x = g.node("Div", &[&centred, &std], vec![]);
    }
    let u = layers::emit_layers(&mut g, &spec.layers, &spec.input, &shapes, x, &params);

    g.set_scope("output");
    let output_shape = shapes.last().unwrap_or(&spec.input);
    let (mut outputs, what) = match spec.loss {
        Loss::LeastSquares => (vec![("outputs", u)], "outputs: the model's raw outputs (least squares)"),
        Loss::SoftmaxCrossEntropy => {
            let p = g.node("Softmax", &[&u], vec![graph::int("axis", -1)]);
            (vec![("logits", u), ("probabilities", p)], "logits; probabilities = softmax(logits)")
        }
        Loss::SigmoidCrossEntropy => {
            let p = g.node("Sigmoid", &[&u], vec![]);
            (vec![("logits", u), ("probabilities", p)], "logits; probabilities = sigmoid(logits), one per output")
        }
    };
    let mut output_info = Vec::new();
    for (name, value) in outputs.drain(..) {
        g.name_output(&value, name);
        output_info.push(value_info(name, output_shape, ""));
    }

    let metadata = [
        (SPEC_KEY, serde_json::to_string(spec).expect("a spec always serializes")),
        ("nabla.input", scaling.describe()),
        ("nabla.outputs", what.to_string()),
    ];
    let onnx = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "nabla".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{} exported by nabla: {}; {what}", spec.name, scaling.describe()),
        graph: Some(GraphProto {
            node: g.nodes,
            name: spec.name.clone(),
            initializer: g.initializers,
            doc_string: String::new(),
            input: vec![value_info(INPUT, &spec.input, &scaling.describe())],
            output: output_info,
        }),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto { key: key.into(), value })
            .chain(extra.iter().map(|(key, value)| StringStringEntryProto { key: key.clone(), value: value.clone() }))
            .collect(),
    };
    let length = onnx.encoded_len();
    if length > i32::MAX as usize {
        return Err(Error::config(format!(
            "model '{}': the ONNX file would take {length} bytes, more than the 2 GiB that one protobuf message \
             may hold",
            spec.name
        )));
    }
    Ok(onnx.encode_to_vec())
}

/// Writes the model as an ONNX file at `path` (atomically: a temporary file renamed), its graph
/// starting with `scaling`, with `extra` metadata entries; see [`onnx_bytes_with`].
pub fn export_onnx(model: &Model, scaling: &InputScaling, extra: &[(String, String)], path: &Path) -> Result<()> {
    let bytes = onnx_bytes_with(model, scaling, extra)?;
    atomic_write(path, &bytes)
}

/// A float tensor value of shape N × `shape` (N named, so any batch size fits).
fn value_info(name: &str, shape: &[usize], doc: &str) -> ValueInfoProto {
    let batch = Dimension { dim_value: None, dim_param: Some("N".into()) };
    let dims = shape.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None });
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim: std::iter::once(batch).chain(dims).collect() }),
            }),
        }),
        doc_string: doc.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, ModelSpec};
    use crate::rng::Rng;
    use tract_onnx::pb;

    /// The hand-written messages against tract's, which prost generated from `onnx.proto`: a
    /// field number or type written wrong here would decode as missing or garbled there.
    #[test]
    fn the_messages_decode_as_onnx_proto_says() {
        let spec = ModelSpec::mlp(4, &[3], 2, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(1)).unwrap();
        let scaling = InputScaling { raw: RawInput::Pixels, mean: vec![0.5], std: vec![0.25] };
        let bytes = onnx_bytes(&model, &scaling).unwrap();
        let decoded = pb::ModelProto::decode(&bytes[..]).unwrap();
        assert_eq!((decoded.ir_version, decoded.producer_name.as_str()), (IR_VERSION, "nabla"));
        assert_eq!((decoded.opset_import[0].domain.as_str(), decoded.opset_import[0].version), ("", OPSET));
        assert_eq!(
            decoded.metadata_props.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["nabla.spec", "nabla.input", "nabla.outputs"]
        );
        let graph = decoded.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Div", "Sub", "Div", "Gemm", "Relu", "Gemm", "Softmax", "Identity", "Identity"]);
        let softmax = &graph.node[6];
        assert_eq!(
            (softmax.attribute[0].name.as_str(), softmax.attribute[0].i, softmax.attribute[0].r#type),
            ("axis", -1, 2)
        );
        // the first layer's weight: nabla's name, shape and values
        let w = graph.initializer.iter().find(|t| t.name == "0.weight").unwrap();
        assert_eq!((w.dims.as_slice(), w.data_type), (&[4i64, 3][..], 1));
        let values: Vec<f32> = w.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(values, model.params()[0].1.value().data());
        // the input: float, N × 4
        let input = &graph.input[0];
        let pb::type_proto::Value::TensorType(tensor) = input.r#type.as_ref().unwrap().value.as_ref().unwrap();
        assert_eq!((input.name.as_str(), tensor.elem_type), (INPUT, 1));
        let dims: Vec<_> = tensor.shape.as_ref().unwrap().dim.iter().map(|d| d.value.clone().unwrap()).collect();
        use pb::tensor_shape_proto::dimension::Value;
        assert_eq!(dims, [Value::DimParam("N".into()), Value::DimValue(4)]);
        assert_eq!(graph.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["logits", "probabilities"]);
    }
}
