//! A small convolutional net built in code: conv 3×3 → ReLU → max-pool → linear, learning to tell
//! 12×12 images of a horizontal, a vertical and a diagonal bar apart wherever the bar lies.
//!
//! `cargo run --release --example cnn`

use nabla::nn::{Conv2d, Flatten, Init, Linear, MaxPool2d, Module, ReLU, Sequential};
use nabla::optim::{Optimizer, Sgd};
use nabla::rng::Rng;
use nabla::{Tensor, Var, loss};

const SIDE: usize = 12;

/// `n` noisy images (n × 1 × 12 × 12) of bars of class 0 (horizontal), 1 (vertical) or 2
/// (diagonal), with their one-hot targets (n × 3) and classes.
fn bars(n: usize, rng: &mut Rng) -> (Tensor, Tensor, Vec<usize>) {
    let (mut x, mut t, mut classes) = (Vec::new(), vec![0.0; n * 3], Vec::new());
    for i in 0..n {
        let class = i % 3;
        let at = (rng.uniform(2.0, SIDE as f32 - 2.0)) as usize;
        let mut image = [0.0f32; SIDE * SIDE];
        for k in 0..SIDE {
            let (r, c) = match class {
                0 => (at, k),
                1 => (k, at),
                _ => (k, (k + at) % SIDE),
            };
            image[r * SIDE + c] = 1.0;
        }
        x.extend(image.iter().map(|v| v + rng.uniform(-0.3, 0.3)));
        t[i * 3 + class] = 1.0;
        classes.push(class);
    }
    (Tensor::from_vec(x, &[n, 1, SIDE, SIDE]), Tensor::from_vec(t, &[n, 3]), classes)
}

fn main() {
    let mut rng = Rng::seed(2);
    let (x, t, classes) = bars(600, &mut rng);
    let mut net = Sequential::new();
    net.push(Conv2d::new(1, 8, (3, 3), (1, 1), (1, 1), Init::He, &mut rng)); // 8 × 12 × 12
    net.push(ReLU);
    net.push(MaxPool2d { kernel: (2, 2), stride: (2, 2), padding: (0, 0) }); // 8 × 6 × 6
    net.push(Flatten);
    net.push(Linear::new(8 * 6 * 6, 3, Init::LeCun, &mut rng));
    let mut optimizer = Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.05);

    let mut rows: Vec<usize> = (0..classes.len()).collect();
    for epoch in 1..=8 {
        rng.shuffle(&mut rows);
        for batch in rows.chunks(32) {
            let u = net.forward(&Var::constant(x.gather_rows(batch)));
            let grads = loss::softmax_cross_entropy(&u, &t.gather_rows(batch)).backward();
            optimizer.step(&mut net, &grads);
        }
        let u = nabla::no_grad(|| net.forward(&Var::constant(x.clone())));
        let right = u.value().argmax_rows().iter().zip(&classes).filter(|(p, c)| p == c).count();
        println!("epoch {epoch}  accuracy {:.1}%", 100.0 * right as f32 / classes.len() as f32);
    }
    let (test_x, _, test_classes) = bars(300, &mut Rng::seed(3));
    let u = nabla::no_grad(|| net.forward(&Var::constant(test_x)));
    let right = u.value().argmax_rows().iter().zip(&test_classes).filter(|(p, c)| p == c).count();
    let accuracy = right as f32 / test_classes.len() as f32;
    println!("new images: {:.1}%", 100.0 * accuracy);
    assert!(accuracy > 0.9, "the bars were not learnt: {accuracy}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs() {
        super::main();
    }
}
