//! An LSTM trained by backpropagation through time: it reads 10 numbers, one per step, and
//! learns to output their sum from its last state (regression, least squares).
//!
//! `cargo run --release --example lstm`

use nabla::nn::{Init, Linear, Lstm, Module, Sequential};
use nabla::optim::{Adam, Optimizer};
use nabla::rng::Rng;
use nabla::{Tensor, Var, loss};

const STEPS: usize = 10;

/// `n` sequences (n × 10 × 1) of numbers in [−0.5, 0.5] and their sums (n × 1).
fn sequences(n: usize, rng: &mut Rng) -> (Tensor, Tensor) {
    let x = rng.uniform_tensor(&[n, STEPS, 1], -0.5, 0.5);
    let sums = x.data().chunks(STEPS).map(|s| s.iter().sum()).collect();
    (x, Tensor::from_vec(sums, &[n, 1]))
}

/// The mean squared error of the net on (x, t).
fn mse(net: &Sequential, x: &Tensor, t: &Tensor) -> f32 {
    let z = nabla::no_grad(|| net.forward(&Var::constant(x.clone())));
    z.value().data().iter().zip(t.data()).map(|(z, t)| (z - t) * (z - t)).sum::<f32>() / t.data().len() as f32
}

fn main() {
    let mut rng = Rng::seed(4);
    let (x, t) = sequences(2000, &mut rng);
    let (test_x, test_t) = sequences(500, &mut rng);
    let mut net = Sequential::new();
    net.push(Lstm::new(1, 32, false, &mut rng)); // h_10: 32 values
    net.push(Linear::new(32, 1, Init::LeCun, &mut rng));
    let mut optimizer = Optimizer::new(Adam::default(), 0.01);
    let before = mse(&net, &test_x, &test_t);

    let mut rows: Vec<usize> = (0..2000).collect();
    for epoch in 1..=10 {
        rng.shuffle(&mut rows);
        for batch in rows.chunks(64) {
            let z = net.forward(&Var::constant(x.gather_rows(batch)));
            let grads = loss::least_squares(&z, &t.gather_rows(batch)).backward();
            optimizer.step(&mut net, &grads);
        }
        println!("epoch {epoch:2}  test mse {:.5}", mse(&net, &test_x, &test_t));
    }
    let after = mse(&net, &test_x, &test_t);
    println!("test mse {before:.4} → {after:.5} (the sums' variance is {:.3})", STEPS as f32 / 12.0);
    assert!(after < before / 20.0, "the sums were not learnt: {before} → {after}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs() {
        super::main();
    }
}
