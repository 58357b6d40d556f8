//! `nabla train`: build a model, train it with mini-batch SGD, report each epoch, save the weights.

use super::progress::Progress;
use super::source::{self, DataArgs, NORMALIZATION_KEY};
use clap::Args;
use nabla::io::save_checkpoint;
use nabla::loss::Loss;
use nabla::nn::{Model, ModelSpec, Module};
use nabla::ops::Activation;
use nabla::optim;
use nabla::rng::Rng;
use nabla::train::{TrainConfig, fit};
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Hidden layer widths, comma-separated (empty for none).
    #[arg(long, default_value = "512,512")]
    pub hidden: String,
    /// Hidden activation: relu, tanh, sigmoid or identity.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Loss: softmax-ce, sigmoid-ce or mse (default: softmax-ce for classes, mse for regression).
    #[arg(long)]
    pub loss: Option<String>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Mini-batch size m (1: plain SGD; the training set size: full batch).
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Optimizer: sgd, adagrad, adadelta, adadelta-window, rmsprop, adam or adamw.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// Learning rate η (default: 0.1 for sgd, the optimizer's usual value otherwise).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Momentum α for sgd, in the lecture's form (0.9 if --nesterov is given alone).
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Nesterov momentum (sgd).
    #[arg(long)]
    pub nesterov: bool,
    /// Seed of initialisation and shuffling: the same seed gives the same weights, bit for bit.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to save the weights (safetensors).
    #[arg(long, default_value = "model.safetensors")]
    pub out: PathBuf,
    /// Train on the first N training samples only (quick runs).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_hidden(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::config(format!("--hidden: '{s}' is not a positive layer width (example: 512,512)"))),
        })
        .collect()
}

pub fn run(args: TrainArgs) -> Result<()> {
    if args.batch_size == 0 || args.epochs == 0 {
        return Err(Error::config("--batch-size and --epochs must be positive"));
    }
    let hidden = parse_hidden(&args.hidden)?;
    let activation = Activation::parse(&args.activation)?;
    let mut data = source::load(&args.data, args.seed, None)?;
    if let Some(n) = args.limit_train {
        data.train = data.train.take(n.min(data.train.len()));
    }
    if data.train.is_empty() {
        return Err(Error::config("the training set is empty"));
    }
    let loss = match &args.loss {
        Some(name) => Loss::parse(name)?,
        None if data.train.labels.is_some() => Loss::SoftmaxCrossEntropy,
        None => Loss::LeastSquares,
    };
    let outputs = data.train.targets.shape()[1];
    let spec = ModelSpec::mlp(data.train.inputs.shape()[1], &hidden, outputs, activation, loss);
    let mut model = Model::new(spec, &mut Rng::seed(args.seed))?;
    let lr = match args.lr {
        Some(lr) => lr,
        None => optim::default_lr(&args.optimizer)?,
    };
    let mut optimizer = optim::by_name(&args.optimizer, lr, args.momentum, args.nesterov)?;
    let config = TrainConfig { epochs: args.epochs, batch_size: args.batch_size, seed: args.seed };
    eprintln!(
        "training {} ({} parameters) on {} samples, testing on {}: {}, η = {}, m = {}",
        describe(&model),
        model.num_parameters(),
        data.train.len(),
        data.test.len(),
        optimizer.name(),
        lr,
        args.batch_size
    );
    let mut progress = Progress::new(args.epochs);
    let reports = fit(&mut model, &mut optimizer, &data.train, Some(&data.test), &config, &mut progress);

    let meta = HashMap::from([(
        NORMALIZATION_KEY.to_string(),
        serde_json::to_string(&data.normalization).expect("numbers always serialize"),
    )]);
    save_checkpoint(&args.out, &model, &meta)?;
    eprintln!("saved weights to {}", args.out.display());

    if args.json {
        let last = reports.last().expect("at least one epoch");
        let seconds: Vec<f64> = reports.iter().map(|r| r.seconds).collect();
        let total: f64 = seconds.iter().sum();
        let summary = serde_json::json!({
            "model": describe(&model),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": json_f32(lr),
            "optimizer": optimizer.name(),
            "seed": args.seed,
            "train_samples": data.train.len(),
            "train_loss": json_f32(last.train_loss),
            "test_loss": last.test_loss.map(json_f32),
            "test_accuracy": last.test_accuracy.map(json_f32),
            "seconds_per_epoch": seconds,
            "samples_per_second": (data.train.len() * reports.len()) as f64 / total,
            "parameters": model.num_parameters(),
            "weights": args.out,
        });
        println!("{summary}");
    }
    Ok(())
}

/// "mlp 784-512-512-10 relu".
fn describe(model: &Model) -> String {
    let spec = model.spec();
    let mut widths = vec![spec.input_size().to_string()];
    let mut act = "";
    for layer in &spec.layers {
        match layer {
            nabla::nn::LayerSpec::Linear { out, .. } => widths.push(out.to_string()),
            nabla::nn::LayerSpec::Relu => act = "relu",
            nabla::nn::LayerSpec::Tanh => act = "tanh",
            nabla::nn::LayerSpec::Sigmoid => act = "sigmoid",
            nabla::nn::LayerSpec::Identity => act = "identity",
        }
    }
    format!("{} {} {}", spec.name, widths.join("-"), act).trim_end().to_string()
}

/// An f32 as the JSON number that prints like it (0.1, not 0.10000000149011612).
pub fn json_f32(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or(serde_json::Value::Null, serde_json::Value::from)
}
