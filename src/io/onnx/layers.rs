//! Each layer kind of a spec in standard ONNX operators, in its inference form. One `match` over
//! [`LayerSpec`] without a `_` arm: a new layer kind does not compile until it says how it is
//! exported.
//!
//! How the layers that ONNX has no operator for are written:
//! - a partial connection table (LeNet-5's C3): a plain `Conv` whose weights are multiplied by
//!   the table's 0/1 mask, as nabla's forward pass does;
//! - trainable sub-sampling w₁·Σ(window) + w₂ (LeNet-5's S2, S4): a depthwise `Conv` (one group
//!   per map) whose kernel is w₁ everywhere and whose bias is w₂;
//! - scaled tanh A·tanh(S·u): `Mul`, `Tanh`, `Mul`;
//! - RBF units y_k = Σ_j (x_j − w_kj)²: the differences by broadcasting (`Unsqueeze`, `Sub`),
//!   squared (`Mul`) and summed (`ReduceSum`), which keeps the precision that the expanded form
//!   |x|² − 2x·w + |w|² would lose to cancellation;
//! - the Elman RNN and the LSTM: ONNX's own `RNN` and `LSTM` (time-major, so a `Transpose` before
//!   and after); nabla's W (F × 4H, gates i, f, g, o) becomes ONNX's W (4H × F, gates i, o, f, c),
//!   its one bias goes to Wb and Rb is zero;
//! - local response normalisation: ONNX's `LRN` where its window is nabla's (odd sizes, 4-D
//!   inputs); otherwise the sum of squares over each window as a `MatMul` by a 0/1 band matrix;
//! - dropout: nothing (inverted dropout is the identity at inference), or `Mul` by 1 − p for the
//!   weight-scaling rule; auxiliary classifiers: nothing (their heads are dropped at inference).

use super::graph::{Graph, float, int, ints, text};
use super::proto::AttributeProto;
use crate::nn::{Activation, DropoutRule, Layer, LayerSpec, LrnSpec, Size2};
use crate::ops::{SCALED_TANH_A, SCALED_TANH_S};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// A model's parameters by dotted name (`3.weight`).
pub(super) type Params<'a> = HashMap<String, &'a Tensor>;

/// Appends the nodes of `layers` (the first one reads `x`, of per-sample shape `input`; their
/// output shapes are `shapes`); returns the name of the last output.
pub(super) fn emit_layers(
    g: &mut Graph,
    layers: &[Layer],
    input: &[usize],
    shapes: &[Vec<usize>],
    mut x: String,
    params: &Params,
) -> String {
    let mut input = input;
    for (i, (layer, output)) in layers.iter().zip(shapes).enumerate() {
        g.set_scope(&match &layer.name {
            Some(name) => format!("{i}.{name}"),
            None => format!("{i}.{}", layer.spec.kind()),
        });
        let at = At { prefix: format!("{i}."), params, input };
        x = emit(g, &layer.spec, &at, &x);
        input = output;
    }
    x
}

/// Where a layer sits: its parameters' prefix and its per-sample input shape.
struct At<'a> {
    prefix: String,
    params: &'a Params<'a>,
    input: &'a [usize],
}

impl At<'_> {
    /// The parameter `name` of this layer; the model was built from the spec being exported,
    /// so it has every parameter the spec implies.
    fn param(&self, name: &str) -> &Tensor {
        let full = format!("{}{name}", self.prefix);
        self.params.get(&full).unwrap_or_else(|| panic!("onnx export: the model has no parameter '{full}'"))
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Appends the nodes of one layer reading `x`; returns the name of its output.
fn emit(g: &mut Graph, spec: &LayerSpec, at: &At, x: &str) -> String {
    match spec {
        LayerSpec::Linear(_) => {
            // nabla stores W as in × out, which is Gemm's B without transposition
            let w = g.tensor(&at.name("weight"), at.param("weight"));
            let b = g.tensor(&at.name("bias"), at.param("bias"));
            if at.input.len() == 1 {
                g.node("Gemm", &[x, &w, &b], vec![])
            } else {
                // on every step of N × T × F: MatMul broadcasts over the leading axes, Gemm does not
                let product = g.node("MatMul", &[x, &w], vec![]);
                g.node("Add", &[&product, &b], vec![])
            }
        }
        LayerSpec::Conv2d(conv) => {
            let mut weight = at.param("weight").clone();
            if let Some(table) = &conv.connections {
                mask_weights(&mut weight, table);
            }
            let w = g.tensor(&at.name("weight"), &weight);
            let b = g.tensor(&at.name("bias"), at.param("bias"));
            g.node("Conv", &[x, &w, &b], window_attributes(conv.kernel, conv.stride, conv.padding))
        }
        LayerSpec::MaxPool2d(pool) => {
            let stride = pool.stride.unwrap_or(pool.kernel);
            g.node("MaxPool", &[x], window_attributes(pool.kernel, stride, pool.padding))
        }
        LayerSpec::AvgPool2d(pool) => {
            // nabla pads with zeros and divides by the whole window
            let mut attributes = window_attributes(pool.kernel, pool.stride.unwrap_or(pool.kernel), pool.padding);
            attributes.push(int("count_include_pad", 1));
            g.node("AveragePool", &[x], attributes)
        }
        LayerSpec::Subsample(sub) => {
            let (c, (kh, kw)) = (at.input[0], sub.kernel.pair());
            let coefficient = at.param("weight").data();
            let kernel: Vec<f32> = coefficient.iter().flat_map(|&w| std::iter::repeat_n(w, kh * kw)).collect();
            let w = g.floats(Some(&at.name("weight")), &[c, 1, kh, kw], &kernel);
            let b = g.tensor(&at.name("bias"), at.param("bias"));
            let mut attributes = window_attributes(sub.kernel, sub.stride.unwrap_or(sub.kernel), Size2(0, 0));
            attributes.push(int("group", c as i64));
            g.node("Conv", &[x, &w, &b], attributes)
        }
        LayerSpec::Pad(pad) => {
            let (ph, pw) = (pad.padding.0 as i64, pad.padding.1 as i64);
            let pads = g.int64s(&[0, 0, ph, pw, 0, 0, ph, pw]);
            let value = g.scalar(pad.value);
            g.node("Pad", &[x, &pads, &value], vec![])
        }
        LayerSpec::Flatten(_) => g.node("Flatten", &[x], vec![int("axis", 1)]),
        LayerSpec::OneHot(o) => {
            // indices (floats) → one-hot along a new last axis, off 0 and on 1; the depth is a
            // float too: onnxruntime has no OneHot kernel for float indices with an int64 depth
            let depth = g.floats(None, &[1], &[o.classes as f32]);
            let values = g.floats(None, &[2], &[0.0, 1.0]);
            g.node("OneHot", &[x, &depth, &values], vec![int("axis", -1)])
        }
        LayerSpec::Rbf(_) => {
            // x: N × F → N × 1 × F; minus the centres K × F → N × K × F; squared, summed over F
            let w = g.tensor(&at.name("weight"), at.param("weight"));
            let axis = g.int64s(&[1]);
            let column = g.node("Unsqueeze", &[x, &axis], vec![]);
            let d = g.node("Sub", &[&column, &w], vec![]);
            let d2 = g.node("Mul", &[&d, &d], vec![]);
            let features = g.int64s(&[2]);
            g.node("ReduceSum", &[&d2, &features], vec![int("keepdims", 0)])
        }
        LayerSpec::Rnn(rnn) => recurrent(g, at, x, rnn.hidden, rnn.sequence, Recurrence::Elman, Stack::SINGLE),
        LayerSpec::Lstm(l) => {
            let stack = Stack { layers: l.layers, bidirectional: l.bidirectional };
            recurrent(g, at, x, l.hidden, l.sequence, Recurrence::Lstm, stack)
        }
        LayerSpec::Gru(l) => {
            let stack = Stack { layers: l.layers, bidirectional: l.bidirectional };
            recurrent(g, at, x, l.hidden, l.sequence, Recurrence::Gru, stack)
        }
        LayerSpec::Lrn(lrn) => local_response_norm(g, lrn, at.input, x),
        LayerSpec::Inception(_) => emit_inception(g, at, x),
        // dropped at inference: the head is not evaluated, the layer passes its input on
        LayerSpec::Auxiliary(_) => x.to_string(),
        LayerSpec::Dropout(dropout) => match dropout.rule {
            DropoutRule::Inverted => x.to_string(),
            DropoutRule::WeightScaling => {
                let q = g.scalar(1.0 - dropout.p);
                g.node("Mul", &[x, &q], vec![])
            }
        },
        LayerSpec::Scale(scale) => {
            let factor = g.scalar(scale.factor);
            g.node("Mul", &[x, &factor], vec![])
        }
        LayerSpec::Relu(_) => activation(g, Activation::Relu, x),
        LayerSpec::Gelu(_) => activation(g, Activation::Gelu, x),
        LayerSpec::Sigmoid(_) => activation(g, Activation::Sigmoid, x),
        LayerSpec::Tanh(_) => activation(g, Activation::Tanh, x),
        LayerSpec::ScaledTanh(_) => activation(g, Activation::ScaledTanh, x),
        LayerSpec::Identity(_) => activation(g, Activation::Identity, x),
    }
}

/// `f(x)` for an activation of the table.
fn activation(g: &mut Graph, f: Activation, x: &str) -> String {
    match f {
        Activation::Identity => x.to_string(),
        Activation::Relu => g.node("Relu", &[x], vec![]),
        Activation::Sigmoid => g.node("Sigmoid", &[x], vec![]),
        Activation::Tanh => g.node("Tanh", &[x], vec![]),
        // the exact GELU, u·Φ(u) with Φ from erf (opset 20's `Gelu`, approximate = "none")
        Activation::Gelu => g.node("Gelu", &[x], vec![]),
        Activation::ScaledTanh => {
            let s = g.scalar(SCALED_TANH_S);
            let a = g.scalar(SCALED_TANH_A);
            let su = g.node("Mul", &[x, &s], vec![]);
            let t = g.node("Tanh", &[&su], vec![]);
            g.node("Mul", &[&t, &a], vec![])
        }
    }
}

/// `kernel_shape`, `strides` and `pads` (the same border before and after) of a sliding window.
fn window_attributes(kernel: Size2, stride: Size2, padding: Size2) -> Vec<AttributeProto> {
    vec![
        ints("kernel_shape", &[kernel.0, kernel.1]),
        ints("strides", &[stride.0, stride.1]),
        ints("pads", &[padding.0, padding.1, padding.0, padding.1]),
    ]
}

/// Zeroes the weights (O × C × KH × KW) of the input maps that `table` does not connect to each
/// output map: nabla multiplies the same mask onto them in every forward pass.
pub(super) fn mask_weights(weight: &mut Tensor, table: &[Vec<usize>]) {
    let shape = weight.shape().to_vec();
    let (inputs, area) = (shape[1], shape[2] * shape[3]);
    let data = weight.data_mut();
    for (o, sources) in table.iter().enumerate() {
        for c in (0..inputs).filter(|c| !sources.contains(c)) {
            let at = (o * inputs + c) * area;
            data[at..at + area].fill(0.0);
        }
    }
}

/// The three recurrent layers, which share ONNX's interface.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Recurrence {
    Elman,
    Lstm,
    Gru,
}

impl Recurrence {
    /// The ONNX operator.
    pub(super) fn op(self) -> &'static str {
        match self {
            Recurrence::Elman => "RNN",
            Recurrence::Lstm => "LSTM",
            Recurrence::Gru => "GRU",
        }
    }

    /// ONNX's gate block k is nabla's block `order()[k]` (nabla: LSTM i, f, g, o, GRU r, z, n;
    /// ONNX: i, o, f, c and z, r, h).
    pub(super) fn order(self) -> &'static [usize] {
        match self {
            Recurrence::Elman => &[0],
            Recurrence::Lstm => &[0, 3, 1, 2],
            Recurrence::Gru => &[1, 0, 2],
        }
    }
}

/// How many layers, and whether each reads both ways (ONNX's `direction = "bidirectional"`).
struct Stack {
    layers: usize,
    bidirectional: bool,
}

impl Stack {
    const SINGLE: Stack = Stack { layers: 1, bidirectional: false };
}

/// `RNN`, `LSTM` or `GRU` nodes over x (N × T × F), one per layer of the stack, giving the last
/// layer's last state (N × D·H, both directions' concatenated, forward first) or, with
/// `sequence`, its every state (N × T × D·H). Dropout between layers is the identity here.
fn recurrent(g: &mut Graph, at: &At, x: &str, hidden: usize, sequence: bool, kind: Recurrence, stack: Stack) -> String {
    let (op, gates) = (kind.op(), kind.order().len());
    // Y and Y_h, and the LSTM's Y_c
    let outputs = if kind == Recurrence::Lstm { 3 } else { 2 };
    let single = stack.layers == 1 && !stack.bidirectional;
    let directions: &[&str] = if stack.bidirectional { &["", "_reverse"] } else { &[""] };
    let d = directions.len();
    let mut features = at.input[1];
    // time-major from here to the end: T × N × features
    let mut y = g.node("Transpose", &[x], vec![ints("perm", &[1, 0, 2])]);
    let mut last_states = String::new();
    for k in 0..stack.layers {
        let layer = if single { String::new() } else { format!("_l{k}") };
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for direction in directions {
            let name = |part: &str| format!("{part}{layer}{direction}");
            w.extend(gate_rows(at.param(&name("weight_ih")), features, hidden, kind));
            r.extend(gate_rows(at.param(&name("weight_hh")), hidden, hidden, kind));
            let row = |t: &Tensor| gate_rows(&t.reshape(&[1, gates * hidden]), 1, hidden, kind);
            if kind == Recurrence::Gru {
                // Wb, then Rb: with linear_before_reset, Rb's h block is inside r⊙(·), as in nabla
                b.extend(row(at.param(&name("bias_ih"))));
                b.extend(row(at.param(&name("bias_hh"))));
            } else {
                // nabla's one bias in Wb, Rb zero
                b.extend(row(at.param(&name("bias"))));
                b.extend(std::iter::repeat_n(0.0, gates * hidden));
            }
        }
        let gh = gates * hidden;
        let w = g.floats(Some(&at.name(&format!("weight_ih{layer}"))), &[d, gh, features], &w);
        let r = g.floats(Some(&at.name(&format!("weight_hh{layer}"))), &[d, gh, hidden], &r);
        let b = g.floats(Some(&at.name(&format!("bias{layer}"))), &[d, 2 * gh], &b);
        let mut attributes = vec![int("hidden_size", hidden as i64)];
        if stack.bidirectional {
            attributes.push(text("direction", "bidirectional"));
        }
        if kind == Recurrence::Gru {
            attributes.push(int("linear_before_reset", 1));
        }
        let out = g.node_n(op, &[&y, &w, &r, &b], outputs, attributes);
        // Y: T × D × N × H → T × N × D·H, the next layer's input
        let t_n_d_h = g.node("Transpose", &[&out[0]], vec![ints("perm", &[0, 2, 1, 3])]);
        let keep_two = g.int64s(&[0, 0, -1]);
        y = g.node("Reshape", &[&t_n_d_h, &keep_two], vec![]);
        last_states = out[1].clone();
        features = d * hidden;
    }
    if sequence {
        g.node("Transpose", &[&y], vec![ints("perm", &[1, 0, 2])])
    } else {
        // Y_h: D × N × H → N × D·H
        let n_d_h = g.node("Transpose", &[&last_states], vec![ints("perm", &[1, 0, 2])]);
        let keep_one = g.int64s(&[0, -1]);
        g.node("Reshape", &[&n_d_h, &keep_one], vec![])
    }
}

/// nabla's `rows × gates·H` matrix (gates i, f, g, o for the LSTM, r, z, n for the GRU) as
/// ONNX's `gates·H × rows` (gates i, o, f, c; z, r, h), row-major.
pub(super) fn gate_rows(m: &Tensor, rows: usize, hidden: usize, kind: Recurrence) -> Vec<f32> {
    let order = kind.order();
    let (data, columns) = (m.data(), order.len() * hidden);
    let mut out = Vec::with_capacity(columns * rows);
    for &block in order {
        for j in 0..hidden {
            out.extend((0..rows).map(|k| data[k * columns + block * hidden + j]));
        }
    }
    out
}

/// Local response normalisation over the channels of x (N × C × …).
fn local_response_norm(g: &mut Graph, lrn: &LrnSpec, input: &[usize], x: &str) -> String {
    let LrnSpec { size, alpha, beta, k } = *lrn;
    // ONNX's window is c − ⌊(n−1)/2⌋ … c + ⌈(n−1)/2⌉, nabla's (and Caffe's, PyTorch's)
    // c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋: the same for odd n
    if size % 2 == 1 && input.len() == 3 {
        let attributes = vec![int("size", size as i64), float("alpha", alpha), float("beta", beta), float("bias", k)];
        return g.node("LRN", &[x], attributes);
    }
    // D = k + (α/n)·B·x² with B[c][c′] = 1 where c′ is in c's window; y = x·D^(−β)
    let (c, rest) = (input[0], input[1..].iter().product::<usize>());
    let mut band = vec![0.0; c * c];
    for row in 0..c {
        let window = row.saturating_sub(size / 2)..(row + (size - 1) / 2 + 1).min(c);
        band[row * c..(row + 1) * c][window].fill(1.0);
    }
    let band = g.floats(None, &[c, c], &band);
    let to_3d = g.int64s(&[0, c as i64, rest as i64]);
    let back: Vec<i64> = std::iter::once(0).chain(input.iter().map(|&d| d as i64)).collect();
    let back = g.int64s(&back);
    let x3 = g.node("Reshape", &[x, &to_3d], vec![]);
    let squares = g.node("Mul", &[&x3, &x3], vec![]);
    let sums = g.node("MatMul", &[&band, &squares], vec![]);
    let (scale, k, minus_beta) = (g.scalar(alpha / size as f32), g.scalar(k), g.scalar(-beta));
    let scaled = g.node("Mul", &[&sums, &scale], vec![]);
    let d = g.node("Add", &[&scaled, &k], vec![]);
    let factor = g.node("Pow", &[&d, &minus_beta], vec![]);
    let y = g.node("Mul", &[&x3, &factor], vec![]);
    g.node("Reshape", &[&y, &back], vec![])
}

/// GoogLeNet's module: four branches concatenated along the channels, every convolution
/// followed by a ReLU.
fn emit_inception(g: &mut Graph, at: &At, x: &str) -> String {
    let conv = |g: &mut Graph, name: &str, k: usize, x: &str| {
        let w = g.tensor(&at.name(&format!("{name}.weight")), at.param(&format!("{name}.weight")));
        let b = g.tensor(&at.name(&format!("{name}.bias")), at.param(&format!("{name}.bias")));
        let u = g.node("Conv", &[x, &w, &b], window_attributes(Size2(k, k), Size2(1, 1), Size2(k / 2, k / 2)));
        g.node("Relu", &[&u], vec![])
    };
    let b1 = conv(g, "1x1", 1, x);
    let reduced = conv(g, "3x3_reduce", 1, x);
    let b2 = conv(g, "3x3", 3, &reduced);
    let reduced = conv(g, "5x5_reduce", 1, x);
    let b3 = conv(g, "5x5", 5, &reduced);
    let pooled = g.node("MaxPool", &[x], window_attributes(Size2(3, 3), Size2(1, 1), Size2(1, 1)));
    let b4 = conv(g, "pool_proj", 1, &pooled);
    g.node("Concat", &[&b1, &b2, &b3, &b4], vec![int("axis", 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstm_gates_go_from_ifgo_columns_to_iofc_rows() {
        // 2 inputs, H = 1: column j of nabla's W is gate j (i, f, g, o); entry (k, j) = 10k + j
        let w = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0], &[2, 4]);
        // ONNX rows: i, o, f, c (= g), each holding the 2 inputs' weights
        assert_eq!(gate_rows(&w, 2, 1, Recurrence::Lstm), [0.0, 10.0, 3.0, 13.0, 1.0, 11.0, 2.0, 12.0]);
        // the Elman RNN only transposes
        let w = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
        assert_eq!(gate_rows(&w, 3, 2, Recurrence::Elman), [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn a_connection_table_zeroes_the_weights_of_unconnected_maps() {
        let mut w = Tensor::full(&[2, 3, 1, 2], 1.0);
        mask_weights(&mut w, &[vec![0, 2], vec![1]]);
        assert_eq!(w.data(), [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }
}
