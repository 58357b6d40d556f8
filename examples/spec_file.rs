//! A network from a spec file (the TOML that `nabla train --model my-net.toml` reads), built and
//! trained from Rust: the same spirals as `custom_loop`, with the spec's own loss and dropout.
//!
//! `cargo run --release --example spec_file`

use nabla::nn::{Model, ModelSpec, Module};
use nabla::optim::{Adam, Optimizer};
use nabla::rng::Rng;
use nabla::{Tensor, Var};
use std::path::Path;

const SPEC: &str = r#"
name = "spirals"
input = [2]
loss = "softmax-cross-entropy"

[[layers]]
type = "linear"
out = 32

[[layers]]
type = "relu"

[[layers]]
type = "dropout"
p = 0.1

[[layers]]
type = "linear"
out = 32

[[layers]]
type = "relu"

[[layers]]
type = "linear"
out = 2
"#;

/// Two interleaved spirals of `n` points each: inputs 2n × 2, one-hot targets 2n × 2, classes.
fn spirals(n: usize, rng: &mut Rng) -> (Tensor, Tensor, Vec<usize>) {
    let (mut x, mut t, mut classes) = (Vec::new(), Vec::new(), Vec::new());
    for arm in 0..2 {
        for i in 0..n {
            let r = i as f32 / n as f32 * 5.0 + 0.3;
            let angle = r * 1.6 + arm as f32 * std::f32::consts::PI + rng.uniform(-0.15, 0.15);
            x.extend([r * angle.cos() / 5.0, r * angle.sin() / 5.0]);
            t.extend(if arm == 0 { [1.0, 0.0] } else { [0.0, 1.0] });
            classes.push(arm);
        }
    }
    (Tensor::from_vec(x, &[2 * n, 2]), Tensor::from_vec(t, &[2 * n, 2]), classes)
}

fn main() -> nabla::Result<()> {
    let spec = ModelSpec::from_toml(SPEC, Path::new("spirals.toml"))?;
    let mut rng = Rng::seed(5);
    let mut model = Model::new(spec, &mut rng)?;
    println!("{} parameters", model.num_parameters());
    let (x, t, classes) = spirals(200, &mut rng);
    let mut optimizer = Optimizer::new(Adam::default(), 0.01);
    let mut rows: Vec<usize> = (0..classes.len()).collect();
    for epoch in 1..=200 {
        model.set_training(true);
        model.reseed(&mut Rng::seed(epoch)); // new dropout masks each epoch, from the seed
        rng.shuffle(&mut rows);
        for batch in rows.chunks(32) {
            let u = model.forward(&Var::constant(x.gather_rows(batch)));
            let e = model.spec().loss.apply(&u, &t.gather_rows(batch));
            optimizer.step(&mut model, &e.backward());
        }
    }
    // predict switches dropout off and gives the softmax's probabilities
    let p = model.predict(&x);
    let right = p.argmax_rows().iter().zip(&classes).filter(|(p, c)| p == c).count();
    let accuracy = right as f32 / classes.len() as f32;
    println!("accuracy {:.1}%", 100.0 * accuracy);
    assert!(accuracy > 0.95, "the spirals were not learnt: {accuracy}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs() {
        super::main().unwrap();
    }
}
