//! A training loop written by hand, as in PyTorch: a 2-16-16-1 MLP learns which side of a
//! spiral arm a point lies on, by mini-batch Adam on the sigmoid cross-entropy.
//!
//! `cargo run --release --example custom_loop`

use nabla::loss;
use nabla::prelude::*;

/// Two interleaved spirals, `n` points each: inputs n·2 × 2, targets n·2 × 1 (0 or 1).
fn spirals(n: usize, rng: &mut Rng) -> (Tensor, Tensor) {
    let (mut x, mut t) = (Vec::new(), Vec::new());
    for arm in 0..2 {
        for i in 0..n {
            let r = i as f32 / n as f32 * 5.0 + 0.3;
            let angle = r * 1.6 + arm as f32 * std::f32::consts::PI + rng.uniform(-0.15, 0.15);
            x.extend([r * angle.cos() / 5.0, r * angle.sin() / 5.0]);
            t.push(arm as f32);
        }
    }
    (Tensor::from_vec(x, &[2 * n, 2]), Tensor::from_vec(t, &[2 * n, 1]))
}

/// The share of points on the right side of the boundary u = 0.
fn accuracy(net: &Sequential, x: &Tensor, t: &Tensor) -> f32 {
    let u = nabla::no_grad(|| net.forward(&Var::constant(x.clone())));
    let right = u.value().data().iter().zip(t.data()).filter(|(u, t)| (**u > 0.0) == (**t > 0.5)).count();
    right as f32 / t.data().len() as f32
}

fn main() {
    let mut rng = Rng::seed(1);
    let (x, t) = spirals(200, &mut rng);
    let mut net = Sequential::new();
    net.push(Linear::new(2, 16, Init::He, &mut rng));
    net.push(ReLU);
    net.push(Linear::new(16, 16, Init::He, &mut rng));
    net.push(ReLU);
    net.push(Linear::new(16, 1, Init::LeCun, &mut rng));
    let mut optimizer = Optimizer::new(Adam::default(), 0.01);

    let m = 32;
    let mut rows: Vec<usize> = (0..x.shape()[0]).collect();
    for epoch in 1..=300 {
        rng.shuffle(&mut rows);
        let mut total = 0.0;
        for batch in rows.chunks(m) {
            // forward: U = Y·W + 1·b layer by layer, then the loss E averaged over the batch
            let (xb, tb) = (x.gather_rows(batch), t.gather_rows(batch));
            let e = loss::sigmoid_cross_entropy(&net.forward(&Var::constant(xb)), &tb);
            total += e.value().data()[0] * batch.len() as f32;
            // backward: δ from the loss down to every weight, then one Adam step
            let grads = e.backward();
            optimizer.step(&mut net, &grads);
        }
        if epoch % 50 == 0 {
            let e = total / rows.len() as f32;
            println!("epoch {epoch:3}  loss {e:.4}  accuracy {:.1}%", 100.0 * accuracy(&net, &x, &t));
        }
    }
    let final_accuracy = accuracy(&net, &x, &t);
    assert!(final_accuracy > 0.95, "the spirals were not learnt: {final_accuracy}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs() {
        super::main();
    }
}
