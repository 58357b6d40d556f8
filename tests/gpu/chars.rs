//! The character-level language model on the GPU (cargo feature `gpu`): the one-hot kernel
//! against nn/one_hot.rs, the per-step softmax cross-entropy against the CPU loss of sequence
//! outputs (loss/mod.rs, `Loss::apply` on m × T × K), one training step of the zoo's char-lstm on
//! both devices, and `nabla train --model char-lstm --device gpu` on a few KB of the GPL against
//! the CPU run; then `eval --device gpu` of least-squares and sigmoid-cross-entropy models.
//!
//! Tolerances: the one-hot rows are exact (0 and 1, no arithmetic). The loss and δ are held to
//! 1e-4 of their largest value, as the softmax cross-entropy of basics.rs: the same formulas in
//! f32, differing only in the last bits of exp and log. The char-lstm step compares the loss and
//! the weights after one Adam step as the other zoo models' steps do (harness.rs); the CLI run's
//! bits per character, after 8 Adam steps and an evaluation on the CPU model, to 1e-3 of their
//! value (the steps compound the GEMMs' different summation orders; measured: see the test).

use crate::common::{Scratch, assert_clean_failure, last_json, nabla, nabla_ok};
use crate::harness::{assert_same_weights, gpu, randn, up, zoo};
use nabla::data::Dataset;
use nabla::data::text::text_data;
use nabla::gpu::kernels;
use nabla::gpu::{Gpu, GpuPredictor, GpuTensor};
use nabla::loss::Loss;
use nabla::nn::{LayerSpec, Model, ModelSpec, one_hot};
use nabla::optim::{Adam, Optimizer, schedule::Constant};
use nabla::rng::Rng;
use nabla::train::{Quiet, Sets, TrainConfig, Trainer, evaluate};
use nabla::{Tensor, Var};

/// The first `bytes` of the GPL (data/text/gpl-3.txt), cut at a character boundary.
fn gpl(bytes: usize) -> String {
    let text = std::fs::read_to_string(format!("{}/data/text/gpl-3.txt", env!("CARGO_MANIFEST_DIR"))).unwrap();
    text.chars().scan(0, |n, c| (*n < bytes).then(|| *n += c.len_utf8()).map(|()| c)).collect()
}

/// The largest |got − want| over max|want|, or a panic naming `what` past 1e-4.
#[track_caller]
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * scale, "{what}: value {i}: GPU {g}, CPU {w}, max|CPU| {scale}");
    }
}

/// Indices of odd shapes (7 × 13, 11 classes: 1,001 values, not a multiple of 256) become the
/// CPU op's one-hot rows exactly; a value that is no symbol becomes a row of zeros (the CPU op
/// panics on it; the trainer refuses such data first, see below).
#[test]
fn one_hot_rows_are_the_cpu_op() {
    let gpu = gpu();
    let (n, classes) = (7 * 13, 11);
    let x = Tensor::from_vec((0..n).map(|i| ((i * 5) % classes) as f32).collect(), &[7, 13]);
    let y = GpuTensor::zeros(gpu, &[7, 13, classes]);
    kernels::one_hot(gpu, n, classes, up(&x).buffer(), y.buffer());
    assert_eq!(y.download(gpu).data(), one_hot(&x, classes).data());
    let bad = Tensor::from_vec(vec![2.0, 11.0, -1.0, 1.5], &[4]);
    let y = GpuTensor::zeros(gpu, &[4, classes]);
    kernels::one_hot(gpu, 4, classes, up(&bad).buffer(), y.buffer());
    let rows = y.download(gpu);
    let sums: Vec<f32> = rows.data().chunks(classes).map(|r| r.iter().sum()).collect();
    assert_eq!(sums, [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(rows.data()[2], 1.0);
}

/// The loss of m × T × K logits against one class a step, some steps padding (negative, not
/// counted): δ is the CPU loss's gradient, and the samples' shares sum to the CPU's batch loss
/// times m (what the trainer sums for a batch). 5 samples of 7 steps of 13 classes.
#[test]
fn per_step_softmax_cross_entropy_matches_the_cpu_loss() {
    let gpu = gpu();
    let (m, steps, k) = (5, 7, 13);
    let u = randn(3, &[m, steps, k]).map(|v| 3.0 * v);
    let classes: Vec<f32> = (0..m * steps).map(|i| if i % 9 == 4 { -1.0 } else { ((i * 7) % k) as f32 }).collect();
    let t = Tensor::from_vec(classes.clone(), &[m, steps]);
    let vu = Var::leaf(u.clone());
    let loss = Loss::SoftmaxCrossEntropy.apply(&vu, &t);
    let grads = loss.backward();
    let want_delta = grads.get(&vu).unwrap();
    let counted = classes.iter().filter(|&&c| c >= 0.0).count();
    let (delta, step_losses, losses) =
        (GpuTensor::zeros(gpu, &[m * steps, k]), GpuTensor::zeros(gpu, &[m * steps]), GpuTensor::zeros(gpu, &[m + 2]));
    let (gu, gt) = (up(&u), up(&t));
    let out = (losses.buffer(), 2);
    kernels::sequence_loss(
        gpu,
        (m, steps, k),
        counted,
        gu.buffer(),
        gt.buffer(),
        delta.buffer(),
        step_losses.buffer(),
        out,
    );
    assert_close(delta.download(gpu).data(), want_delta.data(), "δ");
    let shares = losses.download(gpu);
    assert_eq!(&shares.data()[..2], &[0.0, 0.0], "written from the offset on");
    let sum: f32 = shares.data()[2..].iter().sum();
    let want = loss.value().item() * m as f32;
    assert!((sum - want).abs() <= 1e-4 * want, "loss: GPU {sum}, CPU {want}");
}

/// The zoo's char-lstm (one-hot → LSTM of 256 with every state → linear per step → softmax
/// cross-entropy per step) fitted to a text's vocabulary, and its windows.
fn char_lstm(text: &str, steps: usize) -> (ModelSpec, Dataset) {
    let data = text_data(text, steps, None).unwrap();
    let v = data.vocabulary.len();
    let mut spec = zoo("char-lstm");
    spec.input = vec![steps];
    let (first, last) = (0, spec.layers.len() - 1);
    let LayerSpec::OneHot(one_hot) = &mut spec.layers[first].spec else { panic!("char-lstm starts one-hot") };
    one_hot.classes = v;
    let LayerSpec::Linear(linear) = &mut spec.layers[last].spec else { panic!("char-lstm ends linear") };
    linear.out = v;
    (spec, data.train)
}

/// One Adam step of char-lstm (16 windows of 20 characters as one batch) on both devices: the
/// same loss and weights (harness.rs's bound).
#[test]
fn a_step_of_char_lstm_agrees_on_both_devices() {
    let (spec, data) = char_lstm(&gpl(400), 20);
    assert_eq!(data.len(), 17);
    let data = data.take(16);
    let sets = Sets { train: &data, val: None, test: None };
    let trainer = || {
        let model = Model::new(spec.clone(), &mut Rng::seed(5)).unwrap();
        let config = TrainConfig { epochs: 1, batch_size: 16, seed: 3, ..Default::default() };
        Trainer::new(model, Optimizer::new(Adam::default(), 0.006), Box::new(Constant::new()), config)
    };
    let (mut cpu, mut on_gpu) = (trainer(), trainer());
    on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
    cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    let (c, g) = (cpu.history[0].train_loss, on_gpu.history[0].train_loss);
    assert!((c - g).abs() <= 1e-4 * c, "loss CPU {c}, GPU {g}");
    assert_same_weights("char-lstm", &cpu, &on_gpu);
}

/// A char model's predictions (softmax at each step, N × T × K) and its evaluation (the mean
/// per-step loss, no accuracy) on the device are the CPU's, over 17 windows.
#[test]
fn char_lstm_predicts_and_evaluates_as_on_the_cpu() {
    let (spec, data) = char_lstm(&gpl(400), 20);
    let mut model = Model::new(spec, &mut Rng::seed(5)).unwrap();
    let mut predictor = GpuPredictor::new(Gpu::new().unwrap(), &model).unwrap();
    let x = data.inputs.gather_rows(&(0..data.len()).collect::<Vec<_>>());
    let (got, want) = (predictor.predict(&x), model.predict(&x));
    assert_eq!(got.shape(), want.shape());
    assert_close(got.data(), want.data(), "predict");
    let cpu = evaluate(&mut model, &data, 1000);
    let (gpu, predicted) = predictor.evaluate(&data).unwrap();
    assert!((gpu.loss - cpu.loss).abs() <= 1e-4 * cpu.loss, "loss GPU {} vs CPU {}", gpu.loss, cpu.loss);
    assert_eq!((gpu.accuracy, cpu.accuracy, predicted), (None, None, None));
}

/// Data the net cannot read is refused by name before any step: an input that is no symbol of
/// the one-hot layer, a target that is no class; and truncated BPTT (a state carried across
/// batches), which the GPU's recurrent layers do not do yet.
#[test]
fn bad_symbols_and_a_carried_state_are_refused_by_name() {
    let (spec, data) = char_lstm(&gpl(400), 20);
    let trainer = |carry_state| {
        let model = Model::new(spec.clone(), &mut Rng::seed(5)).unwrap();
        let config = TrainConfig { epochs: 1, batch_size: 4, carry_state, ..Default::default() };
        Trainer::new(model, Optimizer::new(Adam::default(), 0.006), Box::new(Constant::new()), config)
    };
    let v = spec.layers[0].spec.clone();
    let LayerSpec::OneHot(one_hot) = v else { unreachable!() };
    let mut inputs = data.inputs.gather_rows(&(0..data.len()).collect::<Vec<_>>()).data().to_vec();
    inputs[2 * 20 + 3] = one_hot.classes as f32;
    let bad_input = Dataset { inputs: Tensor::from_vec(inputs, &[data.len(), 20]).into(), ..data.clone() };
    let mut targets = data.targets.data().to_vec();
    targets[5] = 0.5;
    let bad_target = Dataset { targets: Tensor::from_vec(targets, &[data.len(), 20]), ..data.clone() };
    for (bad, want) in [
        (bad_input, format!("row 2, step 3: {} is not a symbol index", one_hot.classes)),
        (bad_target, "row 0, step 5: target 0.5 is not a class index".to_string()),
    ] {
        let mut t = trainer(false);
        t.to_gpu(Gpu::new().unwrap()).unwrap();
        let err = t.fit(Sets { train: &bad, val: None, test: None }).unwrap_err().to_string();
        assert!(err.contains("the training set") && err.contains(&want), "{err}");
    }
    let err = trainer(true).to_gpu(Gpu::new().unwrap()).unwrap_err().to_string();
    assert!(err.contains("truncated BPTT") && err.contains("--device cpu"), "{err}");
}

/// `nabla train --model char-lstm` on 3 KB of the GPL (one epoch, 5 steps of 13 or 14 windows of
/// 40 characters, Adam) gives the same held-out bits per character on both devices (measured on
/// lavapipe: CPU 4.567942, GPU 4.5679426; most of the test's 8 s is the GPU run, lavapipe's
/// GEMMs through an LSTM of 256); `--bptt` is refused on the GPU by name.
#[test]
fn char_lstm_on_the_cli_gives_the_cpu_bits_per_char() {
    let s = Scratch::new("gpu-char-lstm");
    std::fs::write(s.0.join("gpl.txt"), gpl(3000)).unwrap();
    let train = |device: &str| {
        let args =
            ["train", "--model", "char-lstm", "--data", "gpl.txt", "--seq-len", "40", "--json", "--device", device];
        let out = nabla_ok(&args, &s.0);
        if device == "gpu" {
            assert!(String::from_utf8_lossy(&out.stderr).contains("on the GPU"));
        }
        last_json(&out)
    };
    let (cpu, gpu) = (train("cpu"), train("gpu"));
    let bits = |r: &serde_json::Value| r["test_bits_per_char"].as_f64().unwrap();
    let (c, g) = (bits(&cpu), bits(&gpu));
    eprintln!("bits per character: CPU {c}, GPU {g}");
    assert!(c < cpu["unigram_bits_per_char"].as_f64().unwrap() + 1.0, "{cpu}");
    assert!((c - g).abs() <= 1e-3 * c, "CPU {cpu} vs GPU {gpu}");
    let loss = |r: &serde_json::Value| r["train_loss"].as_f64().unwrap();
    assert!((loss(&cpu) - loss(&gpu)).abs() <= 1e-3 * loss(&cpu), "CPU {cpu} vs GPU {gpu}");
    let bptt = nabla(&["train", "--model", "char-lstm", "--data", "gpl.txt", "--bptt", "5", "--device", "gpu"], &s.0);
    assert_clean_failure(&bptt, &["--device gpu", "truncated BPTT", "--device cpu"]);
}
