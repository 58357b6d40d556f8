//! The progress display of `nabla train`: a bar per epoch on stderr (batches, running loss,
//! samples/s), then one line per epoch on stdout.

use crate::cli::shared::print::outln;
use crate::cli::shared::regression;
use indicatif::{ProgressBar, ProgressStyle};
use nabla::train::{EpochReport, Observer};
use std::time::Instant;

pub struct Progress {
    epochs: usize,
    /// No bar (several runs in a row, as in `nabla compare`).
    quiet: bool,
    bar: Option<ProgressBar>,
    loss_sum: f64,
    samples: usize,
    started: Instant,
    /// For a regression target: the std that maps its errors back to its units.
    target_std: Option<f32>,
    /// A language model: the losses are nats per character, also shown in bits.
    bits: bool,
}

impl Progress {
    pub fn new(epochs: usize, quiet: bool) -> Progress {
        Progress {
            epochs,
            quiet,
            bar: None,
            loss_sum: 0.0,
            samples: 0,
            started: Instant::now(),
            target_std: None,
            bits: false,
        }
    }

    /// Shows regression errors in the target's units: it was standardised with `std`.
    pub fn regression(self, std: f32) -> Progress {
        Progress { target_std: Some(std), ..self }
    }

    /// Shows the test loss of a language model in bits per character as well.
    pub fn bits_per_char(self) -> Progress {
        Progress { bits: true, ..self }
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, batches: usize, lr: f32) {
        self.loss_sum = 0.0;
        self.samples = 0;
        self.started = Instant::now();
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches  {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{} η {lr}", self.epochs));
        self.bar = Some(bar);
    }

    fn batch_end(&mut self, loss: f32, samples: usize) {
        self.loss_sum += loss as f64 * samples as f64;
        self.samples += samples;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            // formatting the message costs more than a small batch: refresh it every 16 batches
            if bar.position() % 16 == 1 {
                let rate = self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                // on a GPU the losses stay on the device until the epoch ends (NaN here)
                let loss = self.loss_sum / self.samples as f64;
                let loss = if loss.is_nan() { String::new() } else { format!("loss {loss:.4}  ") };
                bar.set_message(format!("{loss}{rate:.0} samples/s"));
            }
        }
    }

    fn epoch_end(&mut self, r: &EpochReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let mut line = format!("epoch {:>3}/{}  train loss {:.4}", r.epoch, self.epochs, r.train_loss);
        if r.penalty > 0.0 {
            line += &format!("  penalty {:.4}", r.penalty);
        }
        if let Some(l) = r.val_loss {
            line += &format!("  val loss {l:.4}");
        }
        if let Some(a) = r.val_accuracy {
            line += &format!("  val acc {:.2}%", 100.0 * a);
        }
        if let Some(l) = r.test_loss {
            line += &format!("  test loss {l:.4}");
            if self.bits {
                line += &format!("  test bits/char {:.3}", l as f64 / std::f64::consts::LN_2);
            }
        }
        if let Some(a) = r.test_accuracy {
            line += &format!("  test acc {:.2}%", 100.0 * a);
        }
        if let Some(std) = self.target_std {
            for (prefix, m) in [("val ", r.val_regression), ("test ", r.test_regression)] {
                if let Some(m) = m {
                    line += &format!("  {}", regression::text(prefix, &m.in_units(std)));
                }
            }
        }
        line += &format!("  η {}  {:.2} s", r.lr, r.seconds);
        outln!("{line}");
    }
}
