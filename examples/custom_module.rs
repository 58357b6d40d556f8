//! A network written by hand as a struct, as one writes a `torch.nn.Module` — two `Linear`
//! layers and a GELU between them — trained by nabla's `Trainer`: shuffled mini-batches, a
//! validation set with early stopping, a line per epoch, its weights saved by name after each
//! epoch and loaded back into a network built afresh.
//!
//! `cargo run --release --example custom_module`

use nabla::io::{load_weights, save_weights};
use nabla::prelude::*;
use nabla::train::evaluate_module;

/// U = GELU(X·W₁ + b₁)·W₂ + b₂.
struct TwoLayer {
    hidden: Linear,
    act: GELU,
    out: Linear,
}

impl TwoLayer {
    fn new(inputs: usize, hidden: usize, outputs: usize, rng: &mut Rng) -> TwoLayer {
        TwoLayer {
            hidden: Linear::new(inputs, hidden, Init::He, rng),
            act: GELU,
            out: Linear::new(hidden, outputs, Init::LeCun, rng),
        }
    }
}

/// `params` with their names under `prefix` (`hidden.weight`, as PyTorch names a field's).
fn prefixed<P>(prefix: &str, params: Vec<(String, P)>) -> Vec<(String, P)> {
    params.into_iter().map(|(name, p)| (format!("{prefix}.{name}"), p)).collect()
}

impl Module for TwoLayer {
    fn forward(&self, x: &Var) -> Var {
        self.out.forward(&self.act.forward(&self.hidden.forward(x)))
    }

    fn params(&self) -> Vec<(String, &Param)> {
        let mut all = prefixed("hidden", self.hidden.params());
        all.extend(prefixed("out", self.out.params()));
        all
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let mut all = prefixed("hidden", self.hidden.params_mut());
        all.extend(prefixed("out", self.out.params_mut()));
        all
    }
}

/// Points on two noisy, overlapping rings, radius 0.5 (class 0) and 1 (class 1), ± 0.3.
fn rings(n: usize, rng: &mut Rng) -> Dataset {
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 2;
        let r = 0.5 * (1 + class) as f32 + rng.uniform(-0.3, 0.3);
        let angle = rng.uniform(0.0, 2.0 * std::f32::consts::PI);
        x.extend([r * angle.cos(), r * angle.sin()]);
        labels.push(class);
    }
    Dataset::from_label_slices(&x, 2, &labels, 2).expect("rows of 2 numbers, labels below 2")
}

/// Prints one line per epoch.
struct Print;

impl Observer for Print {
    fn epoch_end(&mut self, r: &EpochReport) {
        let percent = |a: Option<f32>| 100.0 * a.unwrap_or(0.0);
        println!(
            "epoch {:3}  train loss {:.4}  val loss {:.4}  val accuracy {:.1}%",
            r.epoch,
            r.train_loss,
            r.val_loss.unwrap_or(f32::NAN),
            percent(r.val_accuracy)
        );
    }
}

fn main() {
    let mut rng = Rng::seed(4);
    let (train, val) = rings(1000, &mut rng).split(0.2, 5);
    let test = rings(400, &mut Rng::seed(6));

    let config = TrainConfig { epochs: 200, batch_size: 32, seed: 7, early_stop: Some(5), ..Default::default() };
    let optimizer = Optimizer::new(Adam::default(), 0.01); // η lives here; the schedule scales it
    let schedule = Box::new(Plateau::new(2, 2.0));
    let net = TwoLayer::new(2, 16, 2, &mut rng);
    let mut trainer = Trainer::with_loss(net, Loss::SoftmaxCrossEntropy, optimizer, schedule, config);

    let path = std::env::temp_dir().join(format!("nabla-custom-module-{}.safetensors", std::process::id()));
    let sets = Sets { train: &train, val: Some(&val), test: Some(&test) };
    trainer.run(sets, &mut Print, &mut |t| save_weights(&path, &t.model)).expect("training runs");
    let last = trainer.history.last().expect("at least one epoch");
    println!(
        "best epoch {:?} of {}, test accuracy {:.1}%",
        trainer.best_epoch(),
        last.epoch,
        100.0 * last.test_accuracy.unwrap()
    );

    // the best epoch's weights, kept by name, into a network built afresh
    save_weights(&path, &trainer.model).expect("saved");
    let mut again = TwoLayer::new(2, 16, 2, &mut Rng::seed(99));
    load_weights(&path, &mut again).expect("same names and shapes");
    std::fs::remove_file(&path).expect("written above");
    let e = evaluate_module(&mut again, Loss::SoftmaxCrossEntropy, &test, 0..test.len(), 1000);
    let accuracy = e.accuracy.unwrap();
    println!("reloaded: test accuracy {:.1}%", 100.0 * accuracy);
    let best = evaluate_module(&mut trainer.model, Loss::SoftmaxCrossEntropy, &test, 0..test.len(), 1000);
    assert_eq!(e.loss, best.loss, "the reloaded network differs");
    // the rings overlap (radii 0.5 ± 0.3 and 1 ± 0.3): about 90% is what a boundary can get
    assert!(accuracy > 0.85, "the rings were not learnt: {accuracy}");
    assert!(trainer.stopped_early(), "the validation loss stopped falling well before epoch 200");
}

#[cfg(test)]
mod tests {
    #[test]
    fn example_runs() {
        super::main();
    }
}
