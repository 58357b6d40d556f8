//! A small builder for an ONNX graph: nodes appended in topological order, constant tensors
//! (initialisers), fresh value names, and the attribute kinds nabla uses.

use super::proto::{AttributeProto, AttributeType, DataType, NodeProto, TensorProto};
use crate::tensor::Tensor;

/// The nodes and initialisers of a graph under construction. Values are named
/// `<scope>/<op>_<k>`, where the scope is the layer being exported (`3.C3`), so that a viewer
/// (Netron) shows which layer of the spec each node comes from.
#[derive(Default)]
pub(super) struct Graph {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    scope: String,
    count: usize,
}

impl Graph {
    /// Names the following nodes and constants after a layer.
    pub fn set_scope(&mut self, scope: &str) {
        self.scope = scope.to_string();
    }

    fn fresh(&mut self, what: &str) -> String {
        self.count += 1;
        if self.scope.is_empty() {
            format!("{what}_{}", self.count)
        } else {
            format!("{}/{what}_{}", self.scope, self.count)
        }
    }

    /// A float initialiser of shape `dims` named `name` (a nabla parameter's dotted name, or a
    /// fresh one when `None`); returns its name.
    pub fn floats(&mut self, name: Option<&str>, dims: &[usize], values: &[f32]) -> String {
        assert_eq!(
            dims.iter().product::<usize>(),
            values.len(),
            "onnx initialiser: shape {dims:?} for {} values",
            values.len()
        );
        let name = name.map_or_else(|| self.fresh("const"), str::to_string);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    /// A float initialiser holding `t` as it is.
    pub fn tensor(&mut self, name: &str, t: &Tensor) -> String {
        self.floats(Some(name), t.shape(), t.data())
    }

    /// A float scalar (rank 0) initialiser.
    pub fn scalar(&mut self, value: f32) -> String {
        self.floats(None, &[], &[value])
    }

    /// A 1-D int64 initialiser (axes, pads, shapes); returns its name.
    pub fn int64s(&mut self, values: &[i64]) -> String {
        let name = self.fresh("ints");
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    /// Appends a node of operator `op` reading `inputs`, with `outputs` outputs; returns their
    /// names.
    pub fn node_n(&mut self, op: &str, inputs: &[&str], outputs: usize, attribute: Vec<AttributeProto>) -> Vec<String> {
        let name = self.fresh(op);
        let output: Vec<String> =
            (0..outputs).map(|k| if k == 0 { name.clone() } else { format!("{name}:{k}") }).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name,
            op_type: op.to_string(),
            attribute,
        });
        output
    }

    /// Appends a node with one output; returns its name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, 1, attribute).remove(0)
    }

    /// Appends an `Identity` node that gives `value` the name `name` (a graph output's).
    pub fn name_output(&mut self, value: &str, name: &str) {
        let node = self.fresh("Identity");
        let (input, output) = (vec![value.to_string()], vec![name.to_string()]);
        self.nodes.push(NodeProto { input, output, name: node, op_type: "Identity".into(), attribute: Vec::new() });
    }
}

/// An integer attribute.
pub(super) fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

/// A float attribute.
pub(super) fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}

/// A string attribute.
pub(super) fn text(name: &str, value: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::String as i32, s: value.into(), ..Default::default() }
}

/// A list-of-integers attribute.
pub(super) fn ints(name: &str, values: &[usize]) -> AttributeProto {
    let ints = values.iter().map(|&v| v as i64).collect();
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints, ..Default::default() }
}
