//! ONNX export (issue 16): every zoo model and the spec-file layers the zoo lacks, exported and
//! run by tract (a Rust ONNX runtime, a dev-dependency) on raw inputs, must give nabla's outputs.
//!
//! The tolerance is |onnx − nabla| ≤ 1e-5·max(1, |nabla|): absolute for values up to 1
//! (probabilities, small logits), relative above, because both sides compute in f32 and only
//! the order of their sums differs (GEMM, convolution and LSTM kernels), whose rounding grows
//! with the size of the values. nabla's tanh, sigmoid and erf are rational approximations
//! within 5·10⁻⁷ of the true functions, which tract computes its own way; that is inside it too.

use crate::common::{Scratch, nabla, nabla_ok, write_gray_png};
use nabla::data::load_mnist;
use nabla::io::onnx::{InputScaling, RawInput, onnx_bytes};
use nabla::io::save_checkpoint;
use nabla::loss::Loss;
use nabla::nn::{Activation, Model, ModelSpec, Module};
use nabla::rng::Rng;
use nabla::{Tensor, Var, autodiff::no_grad};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use tract_onnx::prelude as tract;
use tract_onnx::prelude::{DatumExt, Framework, InferenceModelExt, IntoRunnable};

const MNIST_MEAN: f32 = 0.1307;
const MNIST_STD: f32 = 0.3081;

/// The first MNIST test images as raw pixels 0–255 (k × 784).
fn mnist_pixels(k: usize) -> Vec<f32> {
    static TEST: OnceLock<Tensor> = OnceLock::new();
    let test = TEST.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
        load_mnist(&dir).expect("the bundled MNIST loads").1.inputs.to_tensor()
    });
    // the loader divides each byte by 255; multiplying back gives the byte exactly
    test.data()[..k * 784].iter().map(|&v| (v * 255.0).round()).collect()
}

/// What nabla's command line does to raw inputs before the model: pixels divided by 255, then
/// (x − mean)/std with one pair or one per column (`cli/shared/source.rs`).
fn normalise(raw: &[f32], scaling: &InputScaling) -> Vec<f32> {
    let d = scaling.mean.len();
    raw.iter()
        .enumerate()
        .map(|(i, &x)| {
            let x = if scaling.raw == RawInput::Pixels { x / 255.0 } else { x };
            let j = if d == 1 { 0 } else { i % d };
            (x - scaling.mean[j]) / scaling.std[j]
        })
        .collect()
}

/// Runs ONNX bytes in tract on `input` (shape N × …); returns every output as flat values.
fn run_tract(bytes: &[u8], input: &[f32], shape: &[usize]) -> Vec<Vec<f32>> {
    let plan = tract::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the file")
        .with_input_fact(0, f32::fact(shape).into())
        .expect("the input fits")
        .into_optimized()
        .expect("tract optimizes the graph")
        .into_runnable()
        .expect("tract plans it");
    let x = tract::Tensor::from_shape(shape, input).unwrap();
    let outputs = plan.run(std::iter::once(x.into()).collect()).expect("tract runs the graph");
    outputs.iter().map(|t| t.to_plain_array_view::<f32>().unwrap().iter().copied().collect()).collect()
}

/// The largest |a − b|/max(1, |b|); panics if the lengths differ.
fn worst(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "{} values against {}", a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max)
}

/// Builds `spec` with weights from `seed`, runs nabla on the normalised `raw` inputs (n rows)
/// and the exported graph in tract on the raw ones, and compares the raw outputs and the
/// predictions. Returns the ONNX bytes.
fn check(spec: ModelSpec, seed: u64, raw: &[f32], scaling: &InputScaling) -> Vec<u8> {
    let mut model = Model::new(spec, &mut Rng::seed(seed)).unwrap();
    model.set_training(false);
    let n = raw.len() / model.spec().input_size();
    let x = Tensor::from_vec(normalise(raw, scaling), &[n, model.spec().input_size()]);
    let logits = no_grad(|| model.forward(&Var::constant(x.clone()))).value().clone();
    let predicted = model.predict(&x);
    let bytes = onnx_bytes(&model, scaling).unwrap();
    let mut shape = vec![n];
    shape.extend_from_slice(&model.spec().input);
    let outputs = run_tract(&bytes, raw, &shape);
    let name = &model.spec().name;
    let e = worst(&outputs[0], logits.data());
    assert!(e <= 1e-5, "{name}: outputs differ by {e:e} (relative above 1)");
    if model.spec().loss != Loss::LeastSquares {
        assert_eq!(outputs.len(), 2, "{name}: logits and probabilities");
        let e = worst(&outputs[1], predicted.data());
        assert!(e <= 1e-5, "{name}: probabilities differ by {e:e}");
    }
    bytes
}

fn zoo(name: &str) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(format!("{name}.toml"));
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fixture(name: &str) -> ModelSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx").join(format!("{name}.toml"));
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// MNIST's scaling, or a spec's input map written as the same normalisation (what training
/// stores in the checkpoint).
fn mnist_scaling(spec: &ModelSpec) -> InputScaling {
    let (mean, std) = spec.input_map.map_or((MNIST_MEAN, MNIST_STD), |map| map.mean_std());
    InputScaling { raw: RawInput::Pixels, mean: vec![mean], std: vec![std] }
}

/// A zoo model on five MNIST test digits.
fn check_zoo(name: &str) {
    let spec = zoo(name);
    let scaling = mnist_scaling(&spec);
    check(spec, 7, &mnist_pixels(5), &scaling);
}

#[test]
fn mlp_exports() {
    check_zoo("mlp");
}

#[test]
fn mlp_dropout_exports_with_dropout_as_the_identity() {
    check_zoo("mlp-dropout");
}

#[test]
fn lenet5_exports_with_c3_table_subsampling_scaled_tanh_and_rbf() {
    check_zoo("lenet5");
}

#[test]
fn lenet5_modern_exports() {
    check_zoo("lenet5-modern");
}

#[test]
fn lstm_rows_exports_as_an_onnx_lstm() {
    let spec = zoo("lstm-rows");
    let scaling = mnist_scaling(&spec);
    let bytes = check(spec, 7, &mnist_pixels(5), &scaling);
    assert!(String::from_utf8_lossy(&bytes).contains("LSTM"));
}

#[test]
fn googlenet_mnist_exports_with_inception_and_auxiliary_heads_dropped() {
    check_zoo("googlenet-mnist");
}

/// GoogLeNet at its full 3 × 224 × 224 on one image of random pixels (no ImageNet here): the
/// stem's LRN, nine Inception modules, the global average pool.
#[test]
fn googlenet_exports_with_lrn() {
    let spec = zoo("googlenet");
    let mut rng = Rng::seed(3);
    let raw: Vec<f32> = (0..spec.input_size()).map(|_| rng.below(256) as f32).collect();
    let scaling = InputScaling { raw: RawInput::Pixels, mean: vec![0.45], std: vec![0.25] };
    check(spec, 5, &raw, &scaling);
}

#[test]
fn gru_rows_exports_as_an_onnx_gru() {
    let spec = zoo("gru-rows");
    let scaling = mnist_scaling(&spec);
    let bytes = check(spec, 7, &mnist_pixels(5), &scaling);
    assert!(String::from_utf8_lossy(&bytes).contains("linear_before_reset"));
}

#[test]
fn bilstm_rows_exports_as_a_bidirectional_onnx_lstm() {
    check_zoo("bilstm-rows");
}

/// The character model: symbol indices (floats, unscaled) into ONNX's `OneHot`, an LSTM with
/// every step's output, and the linear layer on every step (`MatMul`, `Add`); N × T × V logits
/// and a softmax over the vocabulary at each step.
#[test]
fn char_lstm_exports_with_one_hot_symbols_and_a_linear_layer_per_step() {
    let spec = zoo("char-lstm");
    let classes = match &spec.layers[0].spec {
        nabla::nn::LayerSpec::OneHot(o) => o.classes,
        _ => panic!("char-lstm starts with a one-hot layer"),
    };
    let mut rng = Rng::seed(4);
    let symbols: Vec<f32> = (0..2 * spec.input_size()).map(|_| rng.below(classes) as f32).collect();
    let bytes = check(spec, 7, &symbols, &InputScaling::symbols());
    assert!(String::from_utf8_lossy(&bytes).contains("OneHot"));
}

#[test]
fn stacked_bidirectional_grus_feeding_a_bidirectional_lstm_export() {
    check(fixture("stacked"), 13, &mnist_pixels(3), &mnist_scaling(&fixture("stacked")));
}

#[test]
fn an_rnn_feeding_an_lstm_exports_as_onnx_rnn_and_lstm() {
    check(fixture("recurrent"), 11, &mnist_pixels(3), &mnist_scaling(&fixture("recurrent")));
}

#[test]
fn padded_pools_even_lrn_weight_scaled_dropout_and_sigmoid_outputs_export() {
    check(fixture("odd-layers"), 13, &mnist_pixels(3), &mnist_scaling(&fixture("odd-layers")));
}

/// A table's model: raw columns, one mean and std per column, least squares (raw outputs).
#[test]
fn a_regression_on_raw_table_columns_exports() {
    let spec = ModelSpec::mlp(5, &[7], 2, Activation::Tanh, Loss::LeastSquares);
    let mut rng = Rng::seed(9);
    let raw: Vec<f32> = (0..4 * 5).map(|_| rng.uniform(-50.0, 300.0)).collect();
    let scaling = InputScaling {
        raw: RawInput::Columns,
        mean: vec![10.0, -3.0, 250.0, 0.5, 7.0],
        std: vec![40.0, 2.0, 80.0, 0.1, 3.0],
    };
    check(spec, 2, &raw, &scaling);
}

#[test]
fn scaling_that_does_not_fit_the_inputs_is_refused() {
    let model = Model::new(zoo("mlp"), &mut Rng::seed(1)).unwrap();
    let bad = InputScaling { raw: RawInput::Columns, mean: vec![0.0; 3], std: vec![1.0; 3] };
    let err = onnx_bytes(&model, &bad).unwrap_err().to_string();
    assert!(err.contains("'mlp'") && err.contains("3 means and 3 stds for 784 inputs"), "{err}");
    let zero = InputScaling { raw: RawInput::Pixels, mean: vec![0.0], std: vec![0.0] };
    let err = onnx_bytes(&model, &zero).unwrap_err().to_string();
    assert!(err.contains("std 0 is 0"), "{err}");
}

/// The command: a checkpoint as training writes it (LeNet-5, whose input map is stored as the
/// normalisation) exported by `nabla export`, against `nabla predict` on a PNG of a test digit.
#[test]
fn nabla_export_writes_a_model_that_agrees_with_nabla_predict() {
    let dir = Scratch::new("onnx-export");
    let model = Model::new(zoo("lenet5"), &mut Rng::seed(21)).unwrap();
    let (mean, std) = model.spec().input_map.unwrap().mean_std();
    let norm = serde_json::json!({ "mean": [mean], "std": [std] }).to_string();
    let weights = dir.0.join("lenet5.safetensors");
    save_checkpoint(&weights, &model, &HashMap::from([("nabla.normalization".to_string(), norm)])).unwrap();
    let pixels = mnist_pixels(1);
    let bytes: Vec<u8> = pixels.iter().map(|&p| p as u8).collect();
    write_gray_png(&dir.0.join("digit.png"), &bytes, 28, 28);
    nabla_ok(&["export", "--weights", "lenet5.safetensors", "--format", "onnx", "--out", "out/lenet5.onnx"], &dir.0);
    let onnx = std::fs::read(dir.0.join("out/lenet5.onnx")).unwrap();
    let outputs = run_tract(&onnx, &pixels, &[1, 1, 28, 28]);
    let predicted = crate::common::last_json(&nabla_ok(
        &["predict", "--weights", "lenet5.safetensors", "digit.png", "--json"],
        &dir.0,
    ));
    let probabilities: Vec<f32> =
        predicted["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap() as f32).collect();
    let e = worst(&outputs[1], &probabilities);
    assert!(e <= 1e-5, "nabla export's probabilities differ from nabla predict's by {e:e}");
    // nothing else is left in the folder: the file was written through a renamed temporary
    let left: Vec<_> = std::fs::read_dir(dir.0.join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["lenet5.onnx"]);
}

/// `nabla import --from onnx` reads back what `nabla export --format onnx` wrote, with the spec
/// the file stores: the same weights bit for bit and the same normalisation, so `nabla predict`
/// gives the same probabilities; a character model keeps its vocabulary (for `nabla sample`).
#[test]
fn nabla_import_reads_back_what_nabla_export_wrote() {
    let dir = Scratch::new("onnx-import");
    let model = Model::new(zoo("lenet5-modern"), &mut Rng::seed(22)).unwrap();
    let norm = serde_json::json!({ "mean": [MNIST_MEAN], "std": [MNIST_STD] }).to_string();
    save_checkpoint(&dir.0.join("a.safetensors"), &model, &HashMap::from([("nabla.normalization".into(), norm)]))
        .unwrap();
    nabla_ok(&["export", "--weights", "a.safetensors", "--format", "onnx", "--out", "a.onnx"], &dir.0);
    nabla_ok(&["import", "--from", "onnx", "--weights", "a.onnx", "--out", "b.safetensors"], &dir.0);
    let (a, meta_a) = nabla::io::load_checkpoint(&dir.0.join("a.safetensors")).unwrap();
    let (b, meta_b) = nabla::io::load_checkpoint(&dir.0.join("b.safetensors")).unwrap();
    assert_eq!(a.spec(), b.spec());
    for ((n1, p1), (_, p2)) in a.params().iter().zip(b.params()) {
        let same = p1.value().data().iter().zip(p2.value().data()).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{n1} changed");
    }
    // the same f32 statistics (their JSON spellings differ: f32 through f64, or shortest f32)
    let stats = |m: &HashMap<String, String>| -> Vec<f32> {
        let v: serde_json::Value = serde_json::from_str(&m["nabla.normalization"]).unwrap();
        ["mean", "std"]
            .iter()
            .flat_map(|k| v[k].as_array().unwrap().clone())
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    assert_eq!(stats(&meta_a), stats(&meta_b));
    let bytes: Vec<u8> = mnist_pixels(1).iter().map(|&p| p as u8).collect();
    write_gray_png(&dir.0.join("digit.png"), &bytes, 28, 28);
    let predict =
        |w: &str| crate::common::last_json(&nabla_ok(&["predict", "--weights", w, "digit.png", "--json"], &dir.0));
    assert_eq!(predict("a.safetensors")["probabilities"], predict("b.safetensors")["probabilities"]);

    // a character model: its vocabulary travels in the ONNX metadata and back
    let char_model = Model::new(zoo("char-lstm"), &mut Rng::seed(5)).unwrap();
    let vocabulary: String = (0..96u8).map(|k| (b' ' + k % 95) as char).collect();
    let meta = HashMap::from([("nabla.vocabulary".to_string(), vocabulary.clone())]);
    save_checkpoint(&dir.0.join("c.safetensors"), &char_model, &meta).unwrap();
    nabla_ok(&["export", "--weights", "c.safetensors", "--format", "onnx", "--out", "c.onnx"], &dir.0);
    nabla_ok(
        &["import", "--from", "onnx", "--weights", "c.onnx", "--model", "char-lstm", "--out", "d.safetensors"],
        &dir.0,
    );
    let (d, meta_d) = nabla::io::load_checkpoint(&dir.0.join("d.safetensors")).unwrap();
    assert_eq!(meta_d["nabla.vocabulary"], vocabulary);
    assert!(!meta_d.contains_key("nabla.normalization"), "symbol indices are not scaled");
    assert_eq!(char_model.params()[0].1.value(), d.params()[0].1.value());

    // errors name the file and what was expected
    std::fs::write(dir.0.join("junk.onnx"), b"\x08\x09junk").unwrap();
    let out = nabla(&["import", "--from", "onnx", "--weights", "junk.onnx", "--out", "e.safetensors"], &dir.0);
    crate::common::assert_clean_failure(&out, &["junk.onnx"]);
    let out =
        nabla(&["import", "--from", "onnx", "--weights", "a.onnx", "--model", "mlp", "--out", "e.safetensors"], &dir.0);
    crate::common::assert_clean_failure(&out, &["a.onnx", "model 'mlp'", "the file has only"]);
    assert!(!dir.0.join("e.safetensors").exists());
}

#[test]
fn nabla_export_errors_name_the_file() {
    let dir = Scratch::new("onnx-export-errors");
    let out = nabla(&["export", "--weights", "missing.safetensors", "--format", "onnx", "--out", "m.onnx"], &dir.0);
    crate::common::assert_clean_failure(&out, &["missing.safetensors"]);
    let out = nabla(&["export", "--weights", "missing.safetensors", "--format", "tflite", "--out", "m.onnx"], &dir.0);
    crate::common::assert_clean_failure(&out, &["tflite", "onnx"]);
    // a checkpoint without the input normalisation cannot say what raw inputs are
    let model = Model::new(zoo("mlp"), &mut Rng::seed(1)).unwrap();
    save_checkpoint(&dir.0.join("bare.safetensors"), &model, &HashMap::new()).unwrap();
    let out = nabla(&["export", "--weights", "bare.safetensors", "--format", "onnx", "--out", "m.onnx"], &dir.0);
    crate::common::assert_clean_failure(&out, &["bare.safetensors", "nabla.normalization"]);
    assert!(!dir.0.join("m.onnx").exists());
}
