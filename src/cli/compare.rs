//! `nabla compare`: train one model under several settings and draw their loss curves on one
//! plot — the lecture's picture of how η, the optimizer or the schedule change learning.
//!
//! Each comma list (`--lr 0.5,0.1,0.02`, `--optimizer sgd,momentum,adam`, `--schedule
//! constant,plateau`, `--pretrain 0,5`) is one axis; every combination is trained as its own run, in its own folder
//! under `runs/compare…/`, and `compare.png` beside them shows every run's training loss (solid)
//! and test loss (dashed). Every run starts from the same weights (`--seed`, `--init`), so that
//! only the compared setting differs.

use super::shared::device::DeviceArgs;
use super::shared::help;
use super::shared::json::json_f32;
use super::shared::print::{errln, outln};
use super::shared::source::DataArgs;
use super::training::{self, TrainArgs};
use clap::Args;
use nabla::report::{METRICS_FILE, Series, claim_run_dir, plot_losses, read_metrics};
use nabla::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Learning rates η to compare, comma-separated.
    #[arg(long = "lr", value_name = "LIST")]
    pub lrs: Option<String>,
    // the help lists the optimizers from `nabla::optim::OPTIMIZERS`
    #[arg(long = "optimizer", value_name = "LIST", help = help::compare_optimizers(training::MOMENTUM_ALIAS))]
    pub optimizers: Option<String>,
    // the help lists the schedules from `nabla::optim::schedule::SCHEDULES`
    #[arg(long = "schedule", value_name = "LIST", help = help::compare_schedules())]
    pub schedules: Option<String>,
    /// Epochs of greedy layer-wise pre-training per hidden layer to compare, comma-separated
    /// (0: none), as `nabla train --pretrain`; pre-training reads all training images.
    #[arg(long = "pretrain", value_name = "LIST")]
    pub pretrains: Option<String>,
    /// Everything else, as for `nabla train` (one value each).
    #[command(flatten)]
    pub base: BaseArgs,
}

/// The `nabla train` flags that `compare` passes through unchanged.
#[derive(Args, Debug)]
pub struct BaseArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Hidden layer widths, comma-separated.
    #[arg(long, default_value = "512,512")]
    pub hidden: String,
    /// Hidden activation.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Weight initialisation: he, xavier, lecun or uniform (as for `nabla train`). Uniform,
    /// PyTorch's small U(±1/√fan_in), lets every η of the lecture's 0.5, 0.1, 0.02 train; from
    /// `nabla train`'s He default, η = 0.5 diverges in the first epoch.
    #[arg(long, default_value = "uniform")]
    pub init: String,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Mini-batch size m.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Epochs without improvement before plateau divides η.
    #[arg(long, default_value_t = 1)]
    pub patience: usize,
    /// What plateau divides η by.
    #[arg(long, default_value_t = 5.0)]
    pub factor: f32,
    /// Seed (the same for every run, so that only the compared setting differs).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Train on the first N training samples only.
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Where run folders go.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
    // where every run trains, as for `nabla train`
    #[command(flatten)]
    pub device: DeviceArgs,
}

fn list(text: &Option<String>) -> Vec<Option<String>> {
    match text {
        None => vec![None],
        Some(t) => t.split(',').map(|s| Some(s.trim().to_string())).filter(|s| s.as_deref() != Some("")).collect(),
    }
}

pub fn run(args: CompareArgs) -> Result<()> {
    let (lrs, optimizers, schedules) = (list(&args.lrs), list(&args.optimizers), list(&args.schedules));
    let pretrains = list(&args.pretrains);
    if lrs.len() * optimizers.len() * schedules.len() * pretrains.len() < 2 {
        return Err(Error::config("compare needs at least two settings, e.g. --lr 0.5,0.1,0.02"));
    }
    let b = &args.base;
    let root = claim_run_dir(&b.runs, "compare")?;
    let mut series = Vec::new();
    let mut results = Vec::new();
    for lr in &lrs {
        let eta = match lr {
            Some(t) => Some(t.parse::<f32>().map_err(|_| Error::config(format!("--lr: '{t}' is not a number")))?),
            None => None,
        };
        for optimizer in &optimizers {
            for (schedule, pretrain) in schedules.iter().flat_map(|s| pretrains.iter().map(move |p| (s, p))) {
                let epochs = match pretrain {
                    Some(t) => {
                        t.parse::<usize>().map_err(|_| Error::config(format!("--pretrain: '{t}' is not a count")))?
                    }
                    None => 0,
                };
                let mut parts = Vec::new();
                if args.optimizers.is_some() {
                    parts.push(optimizer.clone().unwrap_or_default());
                }
                if let Some(eta) = eta {
                    parts.push(format!("η = {eta}"));
                }
                if args.schedules.is_some() {
                    parts.push(schedule.clone().unwrap_or_default());
                }
                if args.pretrains.is_some() {
                    parts.push(match epochs {
                        0 => "no pre-training".into(),
                        1 => "pre-trained 1 epoch".into(),
                        _ => format!("pre-trained {epochs} epochs"),
                    });
                }
                let label = parts.join(", ");
                let folder = [
                    optimizer.clone(),
                    lr.as_ref().map(|l| format!("lr{l}")),
                    schedule.clone(),
                    pretrain.as_ref().map(|p| format!("pretrain{p}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("-");
                let train_args = TrainArgs {
                    data: b.data.clone(),
                    limits: Default::default(),
                    model: None,
                    hidden: Some(b.hidden.clone()),
                    activation: b.activation.clone(),
                    init: Some(b.init.clone()),
                    input_map: None,
                    loss: None,
                    epochs: Some(b.epochs),
                    batch_size: Some(b.batch_size),
                    optimizer: Some(optimizer.clone().unwrap_or_else(|| "sgd".into())),
                    lr: eta,
                    momentum: None,
                    nesterov: false,
                    schedule: Some(schedule.clone().unwrap_or_else(|| "constant".into())),
                    patience: b.patience,
                    factor: b.factor,
                    warmup: 0,
                    l1: 0.0,
                    l2: None,
                    max_norm: None,
                    clip: None,
                    val_split: None,
                    val_data: None,
                    test_data: None,
                    early_stop: None,
                    dropout: 0.0,
                    input_dropout: 0.0,
                    dropout_rule: "inverted".into(),
                    augment: Default::default(),
                    ensemble: None,
                    bagging: false,
                    seed: b.seed,
                    device: b.device.device.clone(),
                    out: None,
                    limit_train: b.limit_train,
                    seq_len: None,
                    bptt: None,
                    pretrain: epochs,
                    pretrain_samples: None,
                    pretrain_noise: 0.0,
                    pretrain_lr: 0.001,
                    name: folder,
                    runs: root.clone(),
                    resume: None,
                    json: false,
                    distributed: false,
                    bucket: nabla::train::BUCKET_ELEMENTS,
                };
                errln!("── {label}");
                let run = training::prepare(train_args)?;
                let dir = run.record.dir().to_path_buf();
                // a diverged setting is part of the picture: keep the epochs its folder recorded
                let label = match training::execute(run, true) {
                    Ok(_) => label,
                    Err(e) => {
                        errln!("{label}: {e}");
                        format!("{label} (diverged)")
                    }
                };
                let h = read_metrics(&dir.join(METRICS_FILE))?;
                series.push(Series {
                    label: format!("{label} train"),
                    points: h.iter().map(|r| (r.epoch as f32, r.train_loss)).collect(),
                    dashed: false,
                });
                series.push(Series {
                    label: format!("{label} test"),
                    points: h.iter().filter_map(|r| r.test_loss.map(|l| (r.epoch as f32, l))).collect(),
                    dashed: true,
                });
                results.push(serde_json::json!({
                    "label": label,
                    "run_dir": dir,
                    "train_loss": h.iter().map(|r| json_f32(r.train_loss)).collect::<Vec<_>>(),
                    "test_loss": h.iter().map(|r| r.test_loss.map(json_f32)).collect::<Vec<_>>(),
                    "test_accuracy": h.last().and_then(|r| r.test_accuracy).map(json_f32),
                }));
            }
        }
    }
    let plot = root.join("compare.png");
    let title = format!("{} epochs, m = {}: training loss (solid), test loss (dashed)", b.epochs, b.batch_size);
    plot_losses(&plot, &title, &series)?;
    outln!("{}", plot.display());
    if b.json {
        outln!("{}", serde_json::json!({ "plot": plot, "runs": results }));
    }
    Ok(())
}
