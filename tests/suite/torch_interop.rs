//! PyTorch in and out (issue 16): state dicts made by PyTorch imported into nabla and matched
//! against PyTorch's outputs; `nabla export --format torch` then `nabla import --from torch`
//! through the binary, giving back identical predictions.
//!
//! The fixtures in `tests/fixtures/torch/` were made by
//! `/tmp/torch-ref/bin/python scripts/torch_interop.py fixtures` (torch 2.15.0, CPU): for an MLP,
//! a small CNN and an LSTM built from plain `torch.nn` modules, `<name>.safetensors` is the state
//! dict (`safetensors.torch.save_file(net.state_dict())`), `<name>.toml` the same network as a
//! nabla spec, and `<name>_io.safetensors` inputs `x` and PyTorch's outputs `y` (computed in
//! float64 from the float32 weights and inputs). Python is needed only to regenerate them.
//!
//! `scripts/torch_interop.py check` runs the ignored test at the end of this file, which writes
//! every zoo model exported by the binary with nabla's outputs on fixed inputs, and checks that
//! PyTorch loads each with `load_state_dict(strict=True)` and computes the same outputs.
//!
//! Tolerance: |nabla − torch| ≤ 1e-5 + 1e-5·|torch|, as in `tests/suite/torch_reference.rs`. A wrong
//! mapping fails by far more: imported without the bias_hh term, the LSTM's first output was
//! 0.305 where PyTorch's is 0.233; with Linear weights read out × in as if they were in × out
//! (the shape check bypassed), the MLP's first output was −0.043 where PyTorch's is 0.081.

use crate::common::{Scratch, assert_clean_failure, nabla, nabla_ok};
use nabla::autodiff::no_grad;
use nabla::io::torch::import_torch;
use nabla::io::{load_checkpoint, save_checkpoint};
use nabla::nn::{Model, ModelSpec, Module, SizeLimits, ZOO};
use nabla::rng::Rng;
use nabla::{Tensor, Var};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// The F32 tensors of a safetensors file.
fn read_tensors(path: &Path) -> HashMap<String, Tensor> {
    let buf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SafeTensors::deserialize(&buf).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32, "{name}");
            let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (name, Tensor::from_vec(data, view.shape()))
        })
        .collect()
}

/// The model's raw outputs for flat rows `x`, in evaluation mode.
fn outputs(model: &mut Model, x: &Tensor) -> Tensor {
    model.set_training(false);
    let rows = x.reshape(&[x.shape()[0], x.numel() / x.shape()[0]]);
    no_grad(|| model.forward(&Var::constant(rows))).value().clone()
}

#[test]
fn torch_made_state_dicts_import_and_match_torchs_outputs() {
    for name in ["mlp", "cnn", "lstm"] {
        let spec = ModelSpec::load(&fixture(&format!("{name}.toml")).to_string_lossy()).unwrap();
        let (mut model, norm) =
            import_torch(&fixture(&format!("{name}.safetensors")), spec, &SizeLimits::default()).unwrap();
        assert_eq!(norm, None, "{name}: plain torch.nn modules have no normalisation buffers");
        let io = read_tensors(&fixture(&format!("{name}_io.safetensors")));
        let (got, want) = (outputs(&mut model, &io["x"]), &io["y"]);
        assert_eq!(got.shape(), want.shape(), "{name}");
        for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
            let bound = ATOL + RTOL * w.abs();
            assert!((g - w).abs() <= bound, "{name}: output {i}: nabla {g}, torch {w}");
        }
    }
}

/// Spec-file networks with the layer kinds and options that no zoo model has: a simple RNN,
/// stacked recurrent layers returning every step, GELU, sigmoid, tanh, identity, padded average
/// pooling, a constant border, LRN with other constants, weight-scaling dropout, a scale.
const SPEC_FILES: [(&str, &str); 3] = [
    (
        "kinds-cnn",
        r#"
name = "kinds-cnn"
input = [2, 12, 12]
loss = "softmax-cross-entropy"
layers = [
    { type = "conv2d", out = 4, kernel = 3, padding = 1 },
    { type = "gelu" },
    { type = "avgpool2d", kernel = 3, stride = 2, padding = 1 },
    { type = "lrn", size = 3, alpha = 0.01, beta = 0.5, k = 2.0 },
    { type = "pad", padding = [1, 2], value = 0.5 },
    { type = "conv2d", out = 3, kernel = [3, 2], stride = [2, 1] },
    { type = "tanh" },
    { type = "flatten" },
    { type = "dropout", p = 0.25, rule = "weight-scaling" },
    { type = "linear", out = 8 },
    { type = "sigmoid" },
    { type = "identity" },
    { type = "scale", factor = 2.5 },
    { type = "linear", out = 3 },
]"#,
    ),
    (
        "kinds-rnn",
        r#"
name = "kinds-rnn"
input = [6, 4]
loss = "sigmoid-cross-entropy"
layers = [
    { type = "rnn", hidden = 5, sequence = true },
    { type = "lstm", hidden = 3, sequence = true },
    { type = "rnn", hidden = 4 },
    { type = "linear", out = 2 },
]"#,
    ),
    (
        "kinds-gru",
        r#"
name = "kinds-gru"
input = [6, 4]
loss = "softmax-cross-entropy"
layers = [
    { type = "gru", hidden = 5, sequence = true, layers = 2, dropout = 0.2, bidirectional = true },
    { type = "lstm", hidden = 3, bidirectional = true },
    { type = "linear", out = 2 },
]"#,
    ),
];

/// The spec of a zoo model or of one of [`SPEC_FILES`].
fn spec(name: &str) -> ModelSpec {
    match SPEC_FILES.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => ModelSpec::from_toml(text, Path::new(name)).unwrap(),
        None => ModelSpec::zoo(name).unwrap(),
    }
}

/// A model of `name` (see [`spec`]) whose every parameter is random, biases included (LeNet's
/// unconnected C3 weights stay zero), saved as a nabla model file with `mean` and `std` as its
/// normalisation.
fn random_checkpoint(name: &str, path: &Path, mean: f32, std: f32) -> Model {
    let mut model = Model::new(spec(name), &mut Rng::seed(5)).unwrap();
    let mut rng = Rng::seed(6);
    for (_, p) in model.params_mut() {
        let noise = rng.normal_tensor(p.value().shape(), 0.05);
        let conv = p.value().ndim() == 4;
        for (w, n) in p.value_mut().data_mut().iter_mut().zip(noise.data()) {
            if *w != 0.0 || !conv {
                *w += n;
            }
        }
    }
    let norm = format!(r#"{{"mean":[{mean}],"std":[{std}]}}"#);
    save_checkpoint(path, &model, &HashMap::from([("nabla.normalization".to_string(), norm)])).unwrap();
    model
}

/// Issue 16's round trip through the binary: nabla → PyTorch → nabla gives the same weights
/// bit for bit, the same normalisation and identical outputs.
#[test]
fn export_then_import_through_the_cli_gives_identical_predictions() {
    let dir = Scratch::new("torch-round-trip");
    for name in ["lenet5", "lstm-rows", "mlp-dropout", "kinds-cnn", "kinds-rnn", "kinds-gru"] {
        let original = dir.0.join(format!("{name}.safetensors"));
        let mut model = random_checkpoint(name, &original, 0.1307, 0.3081);
        let torch = format!("{name}.torch.safetensors");
        let out = nabla_ok(
            &["export", "--weights", &original.to_string_lossy(), "--format", "torch", "--out", &torch],
            &dir.0,
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("model.py"));
        let py = std::fs::read_to_string(dir.0.join("model.py")).unwrap();
        assert!(py.contains("def build():") && py.contains("class NablaNet"), "{py}");
        let exported = read_tensors(&dir.0.join(&torch));
        assert_eq!(exported["input_mean"].data(), [0.1307]);
        // the spec comes from the export itself
        nabla_ok(&["import", "--from", "torch", "--weights", &torch, "--out", "back.safetensors"], &dir.0);
        let (mut back, meta) = load_checkpoint(&dir.0.join("back.safetensors")).unwrap();
        assert_eq!(meta["nabla.normalization"], r#"{"mean":[0.1307],"std":[0.3081]}"#);
        for ((n1, p1), (n2, p2)) in model.params().iter().zip(back.params()) {
            assert_eq!(n1, &n2);
            assert!(p1.value().data().iter().zip(p2.value().data()).all(|(a, b)| a.to_bits() == b.to_bits()), "{n1}");
        }
        let x = Rng::seed(9).uniform_tensor(&[3, model.spec().input_size()], -1.0, 2.0);
        assert_eq!(outputs(&mut model, &x).data(), outputs(&mut back, &x).data(), "{name}");
    }
    // the wrong network: errors name the tensor and the shape the spec expects, and write nothing
    let import = |spec: &str| {
        let args = [
            "import",
            "--from",
            "torch",
            "--weights",
            "lstm-rows.torch.safetensors",
            "--spec",
            spec,
            "--out",
            "x.safetensors",
        ];
        nabla(&args, &dir.0)
    };
    let lstm = ModelSpec::zoo("lstm-rows").unwrap().to_toml();
    std::fs::write(dir.0.join("narrow.toml"), lstm.replace("hidden = 128", "hidden = 64")).unwrap();
    let out = import("narrow.toml");
    assert_clean_failure(
        &out,
        &["lstm-rows.torch.safetensors", "'0.weight_ih_l0'", "shape [512, 28]", "expects [256, 28]"],
    );
    let deeper = format!("{lstm}\n[[layers]]\ntype = \"relu\"\n\n[[layers]]\ntype = \"linear\"\nout = 10\n");
    std::fs::write(dir.0.join("deeper.toml"), deeper).unwrap();
    let out = import("deeper.toml");
    assert_clean_failure(&out, &["'3.weight'", "missing", "layer 3 (linear)", "[10, 10]"]);
    let out = import("mlp");
    assert_clean_failure(&out, &["'0.bias_hh_l0'", "not a tensor of model 'mlp'"]);
    assert!(!dir.0.join("x.safetensors").exists());
    // a PyTorch export is not a nabla model file, and says how to make it one
    let out = nabla(&["eval", "--weights", "lstm-rows.torch.safetensors"], &dir.0);
    assert_clean_failure(&out, &["lstm-rows.torch.safetensors", "nabla import --from torch"]);
}

/// Writes every zoo model and [`SPEC_FILES`] network exported by the binary, with nabla's outputs on fixed raw inputs, for
/// `scripts/torch_interop.py check` (not run in CI: GoogLeNet's forward pass on 224×224 images
/// takes a few seconds, and nothing here is checked without PyTorch).
#[test]
#[ignore]
fn write_exports_for_python() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("torch-interop");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ZOO.iter().chain(&SPEC_FILES).map(|(name, _)| *name) {
        // a char model reads symbol indices, unscaled; the others pixels in [0, 1], normalised
        let symbols = match &spec(name).layers[0].spec {
            nabla::nn::LayerSpec::OneHot(o) => Some(o.classes),
            _ => None,
        };
        let (mean, std) = if symbols.is_some() { (0.0, 1.0) } else { (0.1307, 0.3081) };
        let weights = dir.join(format!("{name}.nabla.safetensors"));
        let mut model = random_checkpoint(name, &weights, mean, std);
        let (out, py) = (format!("{name}.safetensors"), format!("{name}.py"));
        let args = ["export", "--weights", &weights.to_string_lossy(), "--format", "torch", "--out", &out, "--py", &py];
        nabla_ok(&args, &dir);
        let x = Rng::seed(11).uniform_tensor(&[2, model.spec().input_size()], 0.0, 1.0);
        let x = match symbols {
            Some(classes) => x.map(|v| (v * classes as f32).floor().min(classes as f32 - 1.0)),
            None => x,
        };
        let y = outputs(&mut model, &x.map(|v| (v - mean) / std));
        let bytes = |t: &Tensor| t.data().iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let (xb, yb) = (bytes(&x), bytes(&y));
        let views = [
            ("x", safetensors::tensor::TensorView::new(Dtype::F32, x.shape().to_vec(), &xb).unwrap()),
            ("y", safetensors::tensor::TensorView::new(Dtype::F32, y.shape().to_vec(), &yb).unwrap()),
        ];
        safetensors::serialize_to_file(views, None, &dir.join(format!("{name}_io.safetensors"))).unwrap();
    }
    println!("wrote {}", dir.display());
}
