//! The Python file of a PyTorch export: nabla's own modules (`layers.py`, copied in whole), then a
//! `build()` that returns the model's `NablaNet`, one `torch.nn` module per spec layer in the
//! spec's order, so that the state dict's names are nabla's layer indices (`0.weight`).

use crate::Result;
use crate::loss::Loss;
use crate::nn::{DropoutRule, Layer, LayerSpec, ModelSpec, Size2};

/// nabla's modules that `torch.nn` lacks (masked convolution, sub-sampling, RBF, …).
const LAYERS: &str = include_str!("layers.py");

/// The Python source of a module that computes `spec`'s network in PyTorch, whose state dict is
/// [`super::torch_state_dict`]'s; `normalised` is the number of input means (1, or one per
/// input). An error if the spec's shapes do not fit.
pub fn torch_module_source(spec: &ModelSpec, normalised: usize) -> Result<String> {
    spec.shapes()?;
    let mut body = String::new();
    layers(&spec.layers, &spec.input, 2, &mut body);
    let outputs = match spec.loss {
        Loss::SoftmaxCrossEntropy => "logits: probabilities = torch.softmax(net(x), dim=1)",
        Loss::SigmoidCrossEntropy => "logits: probabilities = torch.sigmoid(net(x))",
        Loss::LeastSquares => "the predictions themselves (least squares)",
    };
    let input: Vec<String> = spec.input.iter().map(usize::to_string).collect();
    Ok(format!(
        "\"\"\"PyTorch module of the nabla model '{name}', written by `nabla export --format torch`.

    from safetensors.torch import load_file
    net = build()
    net.load_state_dict(load_file(\"model.safetensors\"), strict=True)
    net.eval()
    y = net(x)

x: N rows of {size} raw inputs (image pixels divided by 255, or a table's columns as they are);
the module normalises them with its buffers input_mean and input_std and reshapes them to
N × {shape}. y: {outputs}.
\"\"\"
{LAYERS}

def build():
    \"\"\"The network of '{name}', layer i of the spec as module i.\"\"\"
    return NablaNet([
{body}    ], input_shape=({input}), normalised={normalised})
",
        name = spec.name,
        size = spec.input_size(),
        shape = spec.input.iter().map(usize::to_string).collect::<Vec<_>>().join(" × "),
        input = input.join(", ") + if input.len() == 1 { "," } else { "" },
    ))
}

/// (a, b) as a Python tuple.
fn pair(s: Size2) -> String {
    format!("({}, {})", s.0, s.1)
}

/// A float as Python reads it back to the same f32.
fn float(x: f32) -> String {
    format!("{x:?}")
}

/// One line per layer of `layers` (whose input is `input`), indented by `indent` levels.
fn layers(layers: &[Layer], input: &[usize], indent: usize, out: &mut String) {
    let mut shape = input.to_vec();
    for layer in layers {
        let pad = "    ".repeat(indent);
        let comment = layer.name.as_ref().map(|n| format!("  # {n}")).unwrap_or_default();
        let module = match &layer.spec {
            LayerSpec::Linear(linear) => format!("nn.Linear({}, {})", shape[shape.len() - 1], linear.out),
            LayerSpec::Conv2d(conv) => {
                let (k, s, p) = (pair(conv.kernel), pair(conv.stride), pair(conv.padding));
                match &conv.connections {
                    None => format!("nn.Conv2d({}, {}, {k}, stride={s}, padding={p})", shape[0], conv.out),
                    Some(table) => {
                        format!("MaskedConv2d({}, {}, {k}, {s}, {p}, connections={table:?})", shape[0], conv.out)
                    }
                }
            }
            LayerSpec::MaxPool2d(pool) => format!(
                "nn.MaxPool2d({}, stride={}, padding={})",
                pair(pool.kernel),
                pair(pool.stride.unwrap_or(pool.kernel)),
                pair(pool.padding)
            ),
            LayerSpec::AvgPool2d(pool) => format!(
                "nn.AvgPool2d({}, stride={}, padding={}, count_include_pad=True)",
                pair(pool.kernel),
                pair(pool.stride.unwrap_or(pool.kernel)),
                pair(pool.padding)
            ),
            LayerSpec::Subsample(sub) => {
                format!("Subsample({}, {}, {})", shape[0], pair(sub.kernel), pair(sub.stride.unwrap_or(sub.kernel)))
            }
            LayerSpec::Pad(p) => {
                let (h, w) = (p.padding.0, p.padding.1);
                format!("nn.ConstantPad2d(({w}, {w}, {h}, {h}), {})", float(p.value))
            }
            LayerSpec::Flatten(_) => "nn.Flatten()".into(),
            LayerSpec::OneHot(o) => format!("OneHot({})", o.classes),
            LayerSpec::Rbf(rbf) => format!("Rbf({}, {})", shape[0], rbf.out),
            LayerSpec::Rnn(rnn) => format!("RNN({}, {}, sequence={})", shape[1], rnn.hidden, py_bool(rnn.sequence)),
            LayerSpec::Lstm(l) => {
                recurrent("LSTM", shape[1], l.hidden, l.sequence, l.layers, l.dropout, l.bidirectional)
            }
            LayerSpec::Gru(g) => recurrent("GRU", shape[1], g.hidden, g.sequence, g.layers, g.dropout, g.bidirectional),
            LayerSpec::Lrn(lrn) => format!(
                "nn.LocalResponseNorm({}, alpha={}, beta={}, k={})",
                lrn.size,
                float(lrn.alpha),
                float(lrn.beta),
                float(lrn.k)
            ),
            LayerSpec::Inception(m) => format!(
                "Inception({}, {}, {}, {}, {}, {}, {})",
                shape[0], m.c1x1, m.c3x3_reduce, m.c3x3, m.c5x5_reduce, m.c5x5, m.pool_proj
            ),
            LayerSpec::Auxiliary(aux) => {
                let mut head = String::new();
                self::layers(&aux.layers, &shape, indent + 1, &mut head);
                format!("Auxiliary({},\n{head}{pad})", float(aux.weight))
            }
            LayerSpec::Dropout(d) => match d.rule {
                DropoutRule::Inverted => format!("nn.Dropout({})", float(d.p)),
                DropoutRule::WeightScaling => format!("WeightScalingDropout({})", float(d.p)),
            },
            LayerSpec::Scale(s) => format!("Scale({})", float(s.factor)),
            LayerSpec::Relu(_) => "nn.ReLU()".into(),
            LayerSpec::Gelu(_) => "nn.GELU()".into(),
            LayerSpec::Sigmoid(_) => "nn.Sigmoid()".into(),
            LayerSpec::Tanh(_) => "nn.Tanh()".into(),
            LayerSpec::ScaledTanh(_) => "ScaledTanh()".into(),
            LayerSpec::Identity(_) => "nn.Identity()".into(),
        };
        out.push_str(&format!("{pad}{module},{comment}\n"));
        shape = layer.spec.output_shape(&shape).unwrap_or_else(|e| panic!("shapes were checked: {e}"));
    }
}

/// The module of a recurrent layer `class` (LSTM or GRU in layers.py), stacked and
/// bidirectional as the spec says.
fn recurrent(
    class: &str,
    inputs: usize,
    hidden: usize,
    sequence: bool,
    layers: usize,
    dropout: f32,
    bi: bool,
) -> String {
    let (sequence, bi, dropout) = (py_bool(sequence), py_bool(bi), float(dropout));
    format!(
        "{class}({inputs}, {hidden}, sequence={sequence}, num_layers={layers}, dropout={dropout}, bidirectional={bi})"
    )
}

/// Python's spelling of a bool.
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}
