use super::*;
use crate::autodiff::{Var, no_grad};
use crate::loss::Loss;
use crate::nn::ZOO;

/// A fresh folder for one test's files.
fn temp_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nabla-torch-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The model's outputs for `x` (flat rows) in evaluation mode.
fn outputs(model: &mut Model, x: &Tensor) -> Tensor {
    model.set_training(false);
    no_grad(|| model.forward(&Var::constant(x.clone()))).value().clone()
}

/// A model of `spec` whose every parameter is random (biases included, so that a lost or
/// doubled bias shows), with LeNet's masked weights kept at zero.
fn random_model(spec: ModelSpec, seed: u64) -> Model {
    let mut model = Model::new(spec, &mut Rng::seed(seed)).unwrap();
    let mut rng = Rng::seed(seed + 100);
    for (_, p) in model.params_mut() {
        let was_zero: Vec<bool> = p.value().data().iter().map(|&w| w == 0.0).collect();
        let noise = rng.normal_tensor(p.value().shape(), 0.1);
        let is_weight = p.value().ndim() == 4;
        for ((w, n), zero) in p.value_mut().data_mut().iter_mut().zip(noise.data()).zip(was_zero) {
            // a masked convolution's zeros stay zero; every other value moves
            if !(is_weight && zero) {
                *w += n;
            }
        }
    }
    model
}

/// Issue 16: nabla → PyTorch → nabla gives back every zoo model's weights bit for bit, and so
/// the same outputs (GoogLeNet's are compared on weights only: one 224×224 forward pass costs
/// more than this test should).
#[test]
fn every_zoo_model_round_trips_through_the_torch_layout_bit_for_bit() {
    let dir = temp_dir("round-trip");
    for (name, _) in ZOO {
        let spec = ModelSpec::zoo(name).unwrap();
        let mut model = random_model(spec.clone(), 3);
        let norm = InputNorm { mean: vec![0.25], std: vec![0.5] };
        let (weights, py) = (dir.join(format!("{name}.safetensors")), dir.join(format!("{name}.py")));
        save_torch(&weights, &py, &model, &norm).unwrap();
        assert_eq!(torch_export_spec(&weights).unwrap().as_ref(), Some(&spec), "{name}");
        let (mut back, norm_back) = import_torch(&weights, spec.clone(), &SizeLimits::default()).unwrap();
        assert_eq!(norm_back, Some(norm), "{name}");
        for ((n1, p1), (n2, p2)) in model.params().iter().zip(back.params()) {
            assert_eq!(n1, &n2);
            let same = p1.value().data().iter().zip(p2.value().data()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && p1.value().shape() == p2.value().shape(), "{name}: {n1} changed");
        }
        if name != "googlenet" {
            let mut x = Rng::seed(7).normal_tensor(&[2, spec.input_size()], 1.0);
            if let crate::nn::LayerSpec::OneHot(o) = &spec.layers[0].spec {
                // a char model reads symbol indices
                x = x.map(|v| (v.abs() * 10.0).floor() % o.classes as f32);
            }
            let (a, b) = (outputs(&mut model, &x), outputs(&mut back, &x));
            assert_eq!(a.data(), b.data(), "{name}: outputs differ");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The layouts are PyTorch's: Linear out × in, LSTM gates stacked 4H × F with the bias split
/// into bias_ih = b and bias_hh = 0, Conv2d as it is; the normalisation as buffers.
#[test]
fn the_state_dict_has_torchs_names_and_layouts() {
    let spec = ModelSpec::zoo("lstm-rows").unwrap();
    let model = random_model(spec, 1);
    let sd: HashMap<String, Tensor> = torch_state_dict(&model, &InputNorm::identity()).into_iter().collect();
    let mut names: Vec<&str> = sd.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0.bias_hh_l0",
            "0.bias_ih_l0",
            "0.weight_hh_l0",
            "0.weight_ih_l0",
            "1.bias",
            "1.weight",
            "input_mean",
            "input_std"
        ]
    );
    let params: HashMap<String, Tensor> = model.params().into_iter().map(|(n, p)| (n, p.value().clone())).collect();
    assert_eq!(sd["0.weight_ih_l0"].shape(), [512, 28]);
    assert_eq!(sd["0.weight_hh_l0"].shape(), [512, 128]);
    assert_eq!(sd["1.weight"].shape(), [10, 128]);
    // element (gate row r, input column c) of PyTorch's is nabla's (c, r)
    assert_eq!(sd["0.weight_ih_l0"].data()[3 * 28 + 5], params["0.weight_ih"].data()[5 * 512 + 3]);
    assert_eq!(sd["1.weight"].data()[2 * 128 + 7], params["1.weight"].data()[7 * 10 + 2]);
    assert_eq!(sd["0.bias_ih_l0"], params["0.bias"]);
    assert!(sd["0.bias_hh_l0"].data().iter().all(|&b| b == 0.0));
    let lenet = random_model(ModelSpec::zoo("lenet5").unwrap(), 1);
    let sd: HashMap<String, Tensor> = torch_state_dict(&lenet, &InputNorm::identity()).into_iter().collect();
    assert_eq!(sd["1.weight"].shape(), [6, 1, 5, 5]);
    assert_eq!(sd["5.weight"].shape(), [16, 6, 5, 5]);
    assert_eq!(sd["3.weight"].shape(), [6]);
}

/// Importing sums PyTorch's two biases, and zeroes C3's unconnected weights (which PyTorch's
/// masked module ignores, and nabla's mask would too, but nabla keeps them at zero).
#[test]
fn import_sums_the_two_biases_and_masks_unconnected_weights() {
    let dir = temp_dir("biases");
    let path = dir.join("t.safetensors");
    let spec = ModelSpec::zoo("lstm-rows").unwrap();
    let model = random_model(spec.clone(), 2);
    let mut sd = torch_state_dict(&model, &InputNorm::identity());
    for (name, t) in &mut sd {
        if name == "0.bias_hh_l0" {
            *t = Tensor::full(t.shape(), 0.5);
        }
    }
    write_tensors(&path, &sd, HashMap::new()).unwrap();
    let (back, _) = import_torch(&path, spec, &SizeLimits::default()).unwrap();
    let (b0, b1) = (model.params()[2].1.value().data().to_vec(), back.params()[2].1.value().data().to_vec());
    assert!(b0.iter().zip(&b1).all(|(a, b)| *b == a + 0.5));

    let spec = ModelSpec::zoo("lenet5").unwrap();
    let model = random_model(spec.clone(), 2);
    let mut sd = torch_state_dict(&model, &InputNorm::identity());
    for (name, t) in &mut sd {
        if name == "5.weight" {
            *t = Tensor::full(t.shape(), 1.0);
        }
    }
    write_tensors(&path, &sd, HashMap::new()).unwrap();
    let (back, _) = import_torch(&path, spec, &SizeLimits::default()).unwrap();
    let c3 = back.params()[4].1.value().clone();
    // C3 map 0 reads S2 maps 0, 1, 2 only; map 15 reads all six
    let ones = |o: usize, c: usize| c3.data()[(o * 6 + c) * 25..(o * 6 + c + 1) * 25].iter().all(|&w| w == 1.0);
    let zeros = |o: usize, c: usize| c3.data()[(o * 6 + c) * 25..(o * 6 + c + 1) * 25].iter().all(|&w| w == 0.0);
    assert!(ones(0, 0) && ones(0, 2) && zeros(0, 3) && zeros(0, 5) && (0..6).all(|c| ones(15, c)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A missing, extra, mis-shaped (a square Linear is no exception: PyTorch's layout is checked
/// by name, not guessed from the shape) or non-F32 tensor is an error naming it and the
/// expected shape.
#[test]
fn bad_state_dicts_are_refused_naming_the_tensor_and_the_expected_shape() {
    let dir = temp_dir("bad");
    let path = dir.join("t.safetensors");
    let spec = ModelSpec::mlp(6, &[5], 3, crate::nn::Activation::Relu, Loss::SoftmaxCrossEntropy);
    let model = random_model(spec.clone(), 4);
    let good = torch_state_dict(&model, &InputNorm::identity());
    let err = |sd: Vec<(String, Tensor)>| {
        write_tensors(&path, &sd, HashMap::new()).unwrap();
        import_torch(&path, spec.clone(), &SizeLimits::default()).err().unwrap().to_string()
    };
    let without = |name: &str| good.iter().filter(|(n, _)| n != name).cloned().collect::<Vec<_>>();
    let e = err(without("2.weight"));
    assert!(e.contains("t.safetensors") && e.contains("'2.weight'") && e.contains("missing"), "{e}");
    assert!(e.contains("[3, 5]") && e.contains("layer 2 (linear)"), "{e}");
    let mut extra = good.clone();
    extra.push(("fc.weight".into(), Tensor::zeros(&[1])));
    let e = err(extra);
    assert!(e.contains("'fc.weight'") && e.contains("not a tensor of model 'mlp'") && e.contains("0.weight"), "{e}");
    let mut transposed = good.clone();
    transposed[0].1 = transposed[0].1.transpose();
    let e = err(transposed);
    assert!(e.contains("'0.weight'") && e.contains("shape [6, 5]") && e.contains("expects [5, 6]"), "{e}");
    let mut nan = good.clone();
    nan[1].1.data_mut()[2] = f32::NAN;
    let e = err(nan);
    assert!(e.contains("'0.bias'") && e.contains("value 2 is NaN"), "{e}");
    let e = err(without("input_std"));
    assert!(e.contains("'input_std'") && e.contains("missing"), "{e}");
    // no normalisation at all is fine: inputs are then used as they are
    let (_, norm) = import_torch(
        &{
            write_tensors(
                &path,
                &without("input_std").into_iter().filter(|(n, _)| n != "input_mean").collect::<Vec<_>>(),
                HashMap::new(),
            )
            .unwrap();
            path.clone()
        },
        spec.clone(),
        &SizeLimits::default(),
    )
    .unwrap();
    assert_eq!(norm, None);
    // not a safetensors file at all, or one cut short
    std::fs::write(&path, b"garbage").unwrap();
    let e = import_torch(&path, spec.clone(), &SizeLimits::default()).err().unwrap().to_string();
    assert!(e.contains("t.safetensors") && e.contains("not a safetensors file"), "{e}");
    write_tensors(&path, &good, HashMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = import_torch(&path, spec.clone(), &SizeLimits::default()).err().unwrap().to_string();
    assert!(e.contains("t.safetensors") && e.contains("header"), "{e}");
    // a table's per-column normalisation comes back whole; a wrong count is named
    let per_column = InputNorm { mean: (0..6).map(|j| j as f32).collect(), std: vec![2.0; 6] };
    write_tensors(&path, &torch_state_dict(&model, &per_column), HashMap::new()).unwrap();
    let (_, norm) = import_torch(&path, spec.clone(), &SizeLimits::default()).unwrap();
    assert_eq!(norm, Some(per_column));
    let e = err(torch_state_dict(&model, &InputNorm { mean: vec![0.0; 4], std: vec![1.0; 4] }));
    assert!(e.contains("'input_mean'") && e.contains("shape [4]") && e.contains("expects [6]"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The generated module names every layer kind of the zoo in the spec's order, with the
/// shapes its constructor needs.
#[test]
fn the_python_module_lists_the_layers_in_order() {
    let lenet = torch_module_source(&ModelSpec::zoo("lenet5").unwrap(), 1).unwrap();
    for line in [
        "nn.ConstantPad2d((2, 2, 2, 2), -0.1),",
        "nn.Conv2d(1, 6, (5, 5), stride=(1, 1), padding=(0, 0)),  # C1",
        "Subsample(6, (2, 2), (2, 2)),  # S2",
        "MaskedConv2d(6, 16, (5, 5), (1, 1), (0, 0), connections=[[0, 1, 2], [1, 2, 3],",
        "Rbf(84, 10),  # output",
        "Scale(-0.1),",
        "], input_shape=(1, 28, 28), normalised=1)",
    ] {
        assert!(lenet.contains(line), "missing {line:?} in\n{lenet}");
    }
    let googlenet = torch_module_source(&ModelSpec::zoo("googlenet-mnist").unwrap(), 1).unwrap();
    assert!(googlenet.contains("Inception(32, 16, 24, 32, 4, 8, 8),  # inception_3a"), "{googlenet}");
    assert!(googlenet.contains("Auxiliary(0.3,\n            nn.AvgPool2d((5, 5), stride=(3, 3)"), "{googlenet}");
    let lstm = torch_module_source(&ModelSpec::zoo("lstm-rows").unwrap(), 784).unwrap();
    assert!(
        lstm.contains("LSTM(28, 128, sequence=False, num_layers=1, dropout=0.0, bidirectional=False),")
            && lstm.contains("normalised=784)"),
        "{lstm}"
    );
    // a linear layer on a sequence maps each step's features, the last axis (nn.Linear's too)
    let char_lstm = torch_module_source(&ModelSpec::zoo("char-lstm").unwrap(), 0).unwrap();
    assert!(char_lstm.contains("nn.Linear(256, 96),"), "{char_lstm}");
}
