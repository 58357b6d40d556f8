//! nabla's fused ops against PyTorch: forward values and gradients of conv2d, padded max pooling,
//! the LSTM and softmax cross-entropy, on small odd shapes, compared with values that PyTorch
//! computed in float64 from the same float32 inputs.
//!
//! The fixtures in `tests/fixtures/torch_*.json` were made by
//! `/tmp/torch-ref/bin/python scripts/torch_fixtures.py` (torch 2.15.0, CPU; each file names its
//! version); the script's doc string describes the format and the LSTM weight mapping. Python is
//! needed only to regenerate them, never to run these tests.
//!
//! Tolerance: |nabla − torch| ≤ 1e-5 + 1e-5·|torch| per element. nabla computes in f32, so its
//! values carry a few ulps of rounding (when the fixtures were made every value was within
//! 1e-6 + 1e-6·|torch|, and some missed 1e-7 + 1e-7·|torch|); a wrong stride, window edge, gate
//! derivative or an unstable log-softmax moves some value by 1e-2 or more (or makes it NaN).
//!
//! Evidence that each comparison can fail, from breaking nabla on purpose: conv2d with the row
//! stride taken from the column stride in im2col gave y off by 1.4; max pooling with windows one
//! column short, y off by 0.7; the LSTM's backward without the forget gate in δc ← δc⊙f, dx off
//! by 2e-2; log-softmax without subtracting the row maximum, a NaN loss (the second logits row is
//! shifted by 100 for this).

use nabla::loss::softmax_cross_entropy;
use nabla::{Gradients, Tensor, Var};
use serde_json::Value;

const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-5;

/// The cases of a fixture file, after checking that it came from PyTorch.
fn cases(text: &str) -> Vec<Value> {
    let file: Value = serde_json::from_str(text).expect("fixture is JSON");
    assert!(file["torch"].is_string(), "fixture names no torch version");
    file["cases"].as_array().expect("fixture has cases").clone()
}

/// The tensor stored under `key`: {"shape": [...], "data": [...]}.
fn tensor(case: &Value, key: &str) -> Tensor {
    let t = &case[key];
    let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).unwrap_or_else(|e| panic!("{key}.shape: {e}"));
    let data: Vec<f32> = serde_json::from_value(t["data"].clone()).unwrap_or_else(|e| panic!("{key}.data: {e}"));
    Tensor::from_vec(data, &shape)
}

/// A pair of numbers stored under `key`, such as a stride.
fn pair(case: &Value, key: &str) -> (usize, usize) {
    let [a, b]: [usize; 2] = serde_json::from_value(case[key].clone()).unwrap_or_else(|e| panic!("{key}: {e}"));
    (a, b)
}

/// Asserts that `got` matches the reference `want` element by element, naming the first misfit.
#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        let bound = ATOL + RTOL * w.abs();
        assert!((g - w).abs() <= bound, "{what}[{i}]: nabla {g}, torch {w} (|diff| {} > {bound})", (g - w).abs());
    }
}

/// The gradient of `v` in `grads`.
#[track_caller]
fn grad<'a>(grads: &'a Gradients, v: &Var, what: &str) -> &'a Tensor {
    grads.get(v).unwrap_or_else(|| panic!("no gradient for {what}"))
}

#[test]
fn conv2d_matches_torch() {
    for (k, case) in cases(include_str!("../fixtures/torch_conv2d.json")).iter().enumerate() {
        let (x, w, b) = (Var::leaf(tensor(case, "x")), Var::leaf(tensor(case, "w")), Var::leaf(tensor(case, "b")));
        let y = x.conv2d(&w, Some(&b), pair(case, "stride"), pair(case, "padding"));
        assert_close(&format!("case {k}: y"), y.value(), &tensor(case, "y"));
        let grads = y.backward_with(tensor(case, "g"));
        for (name, v) in [("dx", &x), ("dw", &w), ("db", &b)] {
            assert_close(&format!("case {k}: {name}"), grad(&grads, v, name), &tensor(case, name));
        }
    }
}

#[test]
fn max_pool2d_matches_torch() {
    for (k, case) in cases(include_str!("../fixtures/torch_max_pool2d.json")).iter().enumerate() {
        let x = Var::leaf(tensor(case, "x"));
        let y = x.max_pool2d_padded(pair(case, "kernel"), pair(case, "stride"), pair(case, "padding"));
        assert_close(&format!("case {k}: y"), y.value(), &tensor(case, "y"));
        let grads = y.backward_with(tensor(case, "g"));
        assert_close(&format!("case {k}: dx"), grad(&grads, &x, "x"), &tensor(case, "dx"));
    }
}

#[test]
fn lstm_matches_torch() {
    for case in &cases(include_str!("../fixtures/torch_lstm.json")) {
        let sequence = case["sequence"].as_bool().expect("sequence is a bool");
        let [x, w, u, b] = ["x", "w", "u", "b"].map(|key| Var::leaf(tensor(case, key)));
        let y = x.lstm(&w, &u, &b, sequence);
        assert_close(&format!("sequence {sequence}: y"), y.value(), &tensor(case, "y"));
        let grads = y.backward_with(tensor(case, "g"));
        for (name, v) in [("dx", &x), ("dw", &w), ("du", &u), ("db", &b)] {
            assert_close(&format!("sequence {sequence}: {name}"), grad(&grads, v, name), &tensor(case, name));
        }
    }
}

#[test]
fn softmax_cross_entropy_matches_torch() {
    for (k, case) in cases(include_str!("../fixtures/torch_softmax_ce.json")).iter().enumerate() {
        let u = Var::leaf(tensor(case, "u"));
        let e = softmax_cross_entropy(&u, &tensor(case, "t"));
        let want = case["loss"].as_f64().expect("loss is a number") as f32;
        assert_close(&format!("case {k}: loss"), e.value(), &Tensor::scalar(want));
        assert_close(&format!("case {k}: du"), grad(&e.backward(), &u, "u"), &tensor(case, "du"));
    }
}
