//! Run records: what every `nabla train` leaves behind in its run folder (by default
//! `runs/<name>/`), and the loss plots drawn from it.
//!
//! A run folder holds
//! - `config.json`: the configuration the run was started with, as the caller gives it;
//! - `metrics.csv`: one row per epoch (`epoch,lr,train_loss,val_loss,val_accuracy,test_loss,
//!   test_accuracy,seconds`, an empty cell where a value is absent), rewritten after every epoch;
//! - `loss.png`: the train loss (solid) and the validation (dashed) and test (dotted) losses per
//!   epoch, each in its own colour.
//!
//! Every file is written through [`crate::io::atomic_write`], so a crash mid-epoch leaves the
//! previous epoch's files whole. `nabla compare` reads several `metrics.csv` files back with
//! [`read_metrics`] and draws their curves on one picture with [`plot_losses`].

mod metrics;
mod plot;
mod record;
#[cfg(test)]
mod test_dir;

pub use metrics::{METRICS_HEADER, metrics_csv, read_metrics, write_metrics};
pub use plot::{Series, loss_series, plot_losses};
pub use record::{CONFIG_FILE, LOSS_PLOT_FILE, METRICS_FILE, PLOT_INTERVAL, RunRecord, claim_run_dir};
