//! Writes, for `scripts/onnx_check.py`, every zoo model and the export test's spec files as ONNX
//! files with nabla's outputs beside them, so that onnxruntime can be checked against nabla:
//!
//! ```sh
//! cargo run --release --example onnx_reference -- target/onnx-reference
//! python3 scripts/onnx_check.py target/onnx-reference
//! ```
//!
//! For each model `NAME` (weights drawn from a fixed seed): `NAME.onnx`, and `NAME.json` with
//! the raw inputs (pixels 0–255, table columns, or char-lstm's symbol indices), their shape, and nabla's outputs on them
//! under the ONNX output names (`logits` and `probabilities`, or `outputs`).

use nabla::data::load_mnist;
use nabla::io::onnx::{InputScaling, RawInput, export_onnx};
use nabla::loss::Loss;
use nabla::nn::{Activation, LayerSpec, Model, ModelSpec, Module};
use nabla::rng::Rng;
use nabla::{Result, Tensor, Var, no_grad};
use std::path::{Path, PathBuf};

fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/onnx-reference".into()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = |folder: &str, name: &str| -> Result<ModelSpec> {
        let path = root.join(folder).join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| nabla::Error::io(&path, e))?;
        toml::from_str(&text).map_err(|e| nabla::Error::config(format!("{}: {e}", path.display())))
    };
    // the first four MNIST test digits as raw pixels
    let test = load_mnist(&root.join("data/mnist"))?.1.inputs.to_tensor();
    let digits: Vec<f32> = test.data()[..4 * 784].iter().map(|&v| (v * 255.0).round()).collect();
    let pixels = |spec: &ModelSpec| {
        let (mean, std) = spec.input_map.map_or((0.1307, 0.3081), |map| map.mean_std());
        InputScaling { raw: RawInput::Pixels, mean: vec![mean], std: vec![std] }
    };

    let mut cases = Vec::new();
    for name in
        ["mlp", "mlp-dropout", "lenet5", "lenet5-modern", "lstm-rows", "gru-rows", "bilstm-rows", "googlenet-mnist"]
    {
        let spec = spec("models", name)?;
        cases.push((pixels(&spec), spec, digits.clone()));
    }
    for name in ["recurrent", "stacked", "odd-layers"] {
        let spec = spec("tests/fixtures/onnx", name)?;
        cases.push((pixels(&spec), spec, digits.clone()));
    }
    let googlenet = spec("models", "googlenet")?;
    let mut rng = Rng::seed(3);
    let image: Vec<f32> = (0..googlenet.input_size()).map(|_| rng.below(256) as f32).collect();
    cases.push((InputScaling { raw: RawInput::Pixels, mean: vec![0.45], std: vec![0.25] }, googlenet, image));
    // the character model on two sequences of symbol indices (its placeholder vocabulary)
    let chars = spec("models", "char-lstm")?;
    let classes = match &chars.layers[0].spec {
        LayerSpec::OneHot(o) => o.classes,
        _ => unreachable!("char-lstm starts with a one-hot layer"),
    };
    let symbols: Vec<f32> = (0..2 * chars.input_size()).map(|_| rng.below(classes) as f32).collect();
    cases.push((InputScaling::symbols(), chars, symbols));
    let mut table = ModelSpec::mlp(5, &[7], 2, Activation::Tanh, Loss::LeastSquares);
    table.name = "table-regression".into();
    let rows: Vec<f32> = (0..4 * 5).map(|_| rng.uniform(-50.0, 300.0)).collect();
    let columns = InputScaling {
        raw: RawInput::Columns,
        mean: vec![10.0, -3.0, 250.0, 0.5, 7.0],
        std: vec![40.0, 2.0, 80.0, 0.1, 3.0],
    };
    cases.push((columns, table, rows));

    std::fs::create_dir_all(&out).map_err(|e| nabla::Error::io(&out, e))?;
    for (scaling, spec, raw) in cases {
        let name = spec.name.clone();
        let mut model = Model::new(spec, &mut Rng::seed(7))?;
        model.set_training(false);
        let (d, n) = (model.spec().input_size(), raw.len() / model.spec().input_size());
        // nabla's command line: pixels divided by 255, then (x − mean)/std
        let normalised: Vec<f32> = raw
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let x = if scaling.raw == RawInput::Pixels { x / 255.0 } else { x };
                let j = if scaling.mean.len() == 1 { 0 } else { i % d };
                (x - scaling.mean[j]) / scaling.std[j]
            })
            .collect();
        let x = Tensor::from_vec(normalised, &[n, d]);
        let u = no_grad(|| model.forward(&Var::constant(x.clone()))).value().clone();
        let outputs = match model.spec().loss {
            Loss::LeastSquares => serde_json::json!({ "outputs": u.data() }),
            _ => serde_json::json!({ "logits": u.data(), "probabilities": model.predict(&x).data() }),
        };
        let mut shape = vec![n];
        shape.extend_from_slice(&model.spec().input);
        let reference = serde_json::json!({ "input_shape": shape, "input": raw, "outputs": outputs });
        export_onnx(&model, &scaling, &[], &out.join(format!("{name}.onnx")))?;
        let json = out.join(format!("{name}.json"));
        std::fs::write(&json, reference.to_string()).map_err(|e| nabla::Error::io(&json, e))?;
        println!("{name}: {} parameters, {n} inputs", model.num_parameters());
    }
    Ok(())
}
