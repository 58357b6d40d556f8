//! `nabla eval`: the test loss and accuracy of saved weights — of one model, of an ensemble
//! (several `--weights`: their probabilities are averaged), or with Monte-Carlo dropout
//! (`--mc-samples K`: how uncertainty relates to error).

use super::shared::device::{DeviceArgs, Runner};
use super::shared::images::{check_classes, classes_from_checkpoint, image_from_checkpoint, per_class};
use super::shared::json::json_f32;
use super::shared::limits::LimitArgs;
use super::shared::print::outln;
use super::shared::regression;
use super::shared::source::{self, DataArgs, Normalization, checkpoint_schema};
use clap::Args;
use nabla::data::table::TableSchema;
use nabla::data::{Dataset, ImageFormat, Task};
use nabla::io::load_checkpoint_limited;
use nabla::nn::{Model, SizeLimits};
use nabla::train::{evaluate_ensemble, mc_evaluate};
use nabla::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Weights saved by `nabla train`; several (comma-separated or repeated) evaluate an ensemble.
    #[arg(long, required = true, value_delimiter = ',')]
    pub weights: Vec<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The seed that split a CSV file when the model was trained.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Monte-Carlo dropout: average K stochastic passes and relate uncertainty to error.
    #[arg(long)]
    pub mc_samples: Option<usize>,
    /// Print the figures as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// The checkpoints of `--weights`, their shared input normalisation, and the first one's table
/// schema (a model trained on a CSV file), class names and image format (if it was trained on
/// images).
type Loaded = (Vec<Model>, Normalization, Option<TableSchema>, Option<Vec<String>>, Option<ImageFormat>);

/// Loads each checkpoint; all must share the first one's input normalisation and shapes.
pub fn load_models(paths: &[PathBuf], limits: &SizeLimits) -> Result<Loaded> {
    let mut models = Vec::new();
    let mut first: Option<(Normalization, String)> = None;
    let (mut schema, mut classes, mut trained_image) = (None, None, None);
    for path in paths {
        let (model, meta) = load_checkpoint_limited(path, limits)?;
        if models.is_empty() {
            schema = checkpoint_schema(path, &meta, &model)?;
            // a table's class names are also in its schema (files written before `nabla.classes`
            // was written for tables have them only there)
            let of_table = schema.as_ref().filter(|s| s.task == Task::Classification).map(|s| s.classes.clone());
            classes = classes_from_checkpoint(path, &meta)?.or(of_table);
            trained_image = image_from_checkpoint(path, &meta)?;
        }
        let norm = Normalization::from_checkpoint(path, &meta, model.spec().input_size())?;
        let key = serde_json::to_string(&norm).unwrap_or_default();
        match &first {
            None => first = Some((norm, key)),
            Some((_, k)) if *k != key => {
                return Err(Error::format(path, "metadata", "its input normalisation differs from the first model's"));
            }
            Some(_) => {}
        }
        if let Some(m) = models.first().map(|m: &Model| m.spec())
            && (m.input_size() != model.spec().input_size() || m.output_size()? != model.spec().output_size()?)
        {
            return Err(Error::format(
                path,
                "metadata 'nabla.spec'",
                "its inputs or outputs differ from the first model's",
            ));
        }
        models.push(model);
    }
    let (norm, _) = first.ok_or_else(|| Error::config("--weights: no file given"))?;
    Ok((models, norm, schema, classes, trained_image))
}

pub fn run(args: EvalArgs) -> Result<()> {
    if args.mc_samples == Some(0) {
        return Err(Error::config("--mc-samples 0: expected at least 1 (stochastic passes)"));
    }
    let (mut models, norm, schema, classes, trained_image) = load_models(&args.weights, &args.limits.limits())?;
    let spec = models[0].spec();
    let (inputs, outputs) = (spec.input_size(), spec.output_size()?);
    let mut data_args = args.data.clone();
    data_args.images.model_input = Some(spec.input.clone());
    data_args.images.trained = trained_image;
    // the widths first: the checkpoint's per-column normalisation only fits the model's width
    let raw = source::read_eval(&data_args, args.seed, schema.as_ref())?;
    if let (Some(model), Some(data)) = (&classes, &raw.classes) {
        check_classes(&args.weights[0], model, data, &format!("--data {}", args.data.data))?;
    }
    let (columns, targets) = (raw.test.inputs.shape()[1], raw.test.targets.shape()[1]);
    if columns != inputs || targets != outputs {
        return Err(Error::config(format!(
            "{}: the model takes {inputs} inputs and gives {outputs} outputs, but --data {} has {columns} inputs and \
             {targets} targets",
            args.weights[0].display(),
            args.data.data,
        )));
    }
    if raw.test.is_empty() {
        return Err(Error::config(format!(
            "--data {}: the test set is empty; nothing to evaluate (with --test-split F, a CSV file's test part is F of \
             its rows; without it, every row)",
            args.data.data
        )));
    }
    let data = raw.normalize(Some(&norm))?;
    let refused = if models.len() > 1 {
        Some("an ensemble (several --weights)".to_string())
    } else if args.mc_samples.is_some() {
        Some("MC dropout (--mc-samples)".to_string())
    } else {
        None
    };
    let mut runner = Runner::open(&args.device, &models[0], refused.as_deref())?;
    let mut out = serde_json::json!({
        "model": spec.name,
        "weights": args.weights,
        "samples": data.test.len(),
        "test_samples": data.test.len(),
    });
    if models.len() > 1 {
        let e = evaluate_ensemble(&mut models, &data.test)
            .ok_or_else(|| Error::config("an ensemble is evaluated on classes; --data has none"))?;
        for (path, acc) in args.weights.iter().zip(&e.members) {
            outln!("member {}: test acc {:.2}%", path.display(), 100.0 * acc);
        }
        let mean = e.members.iter().sum::<f32>() / e.members.len() as f32;
        outln!("ensemble of {}: test acc {:.2}% (mean member {:.2}%)", models.len(), 100.0 * e.accuracy, 100.0 * mean);
        out["test_accuracy"] = json_f32(e.accuracy);
        out["test_loss"] = json_f32(e.loss);
        out["members_test_accuracy"] = e.members.iter().map(|&a| json_f32(a)).collect();
    } else {
        let (e, predicted) = runner.evaluate(&mut models[0], &data.test, 1000)?;
        let metrics = e.regression.map(|m| m.in_units(regression::target_std(schema.as_ref())));
        match (e.accuracy, metrics) {
            (Some(a), _) => {
                outln!("test loss {:.4}  test acc {:.2}%  ({} samples)", e.loss, 100.0 * a, data.test.len())
            }
            (None, Some(m)) => outln!(
                "test loss {:.4} (½·MSE of the standardised target)  {}  ({} samples)",
                e.loss,
                regression::text("test ", &m),
                data.test.len()
            ),
            (None, None) => outln!("test loss {:.4}  ({} samples)", e.loss, data.test.len()),
        }
        out["test_loss"] = json_f32(e.loss);
        out["test_accuracy"] = e.accuracy.map(json_f32).unwrap_or_default();
        if metrics.is_some() {
            regression::json(&mut out, "test", metrics);
        }
        if let Some(names) = &classes {
            let counts = match &predicted {
                Some(predicted) => class_counts(predicted, &data.test, names.len()),
                None => per_class(&mut models[0], &data.test, names.len()),
            };
            let mut report = serde_json::Map::new();
            for (name, &(n, correct)) in names.iter().zip(&counts) {
                let acc = correct as f32 / n.max(1) as f32;
                outln!("  {name}: {:.2}% of {n}", 100.0 * acc);
                report.insert(name.clone(), serde_json::json!({ "samples": n, "accuracy": json_f32(acc) }));
            }
            out["per_class"] = report.into();
        }
    }
    if let Some(k) = args.mc_samples {
        let mc = mc_evaluate(&mut models[0], &data.test, k, args.seed)
            .ok_or_else(|| Error::config("MC dropout is evaluated on classes; --data has none"))?;
        outln!(
            "MC dropout, {k} passes: test acc {:.2}%, error on the most uncertain half {:.2}%, on the most certain half {:.2}%",
            100.0 * mc.accuracy,
            100.0 * mc.uncertain_half_error,
            100.0 * mc.certain_half_error
        );
        out["mc_samples"] = k.into();
        out["mc_test_accuracy"] = json_f32(mc.accuracy);
        out["uncertain_half_error"] = json_f32(mc.uncertain_half_error);
        out["certain_half_error"] = json_f32(mc.certain_half_error);
        out["mean_entropy"] = json_f32(mc.mean_entropy);
    }
    if args.json {
        outln!("{out}");
    }
    Ok(())
}

/// (rows, correct) of each class of `data`, from each row's `predicted` class: what
/// [`per_class`] counts, from classes the GPU already gave.
fn class_counts(predicted: &[usize], data: &Dataset, classes: usize) -> Vec<(usize, usize)> {
    let mut counts = vec![(0, 0); classes];
    if let Some(labels) = &data.labels {
        for (&p, &label) in predicted.iter().zip(labels) {
            counts[label].0 += 1;
            counts[label].1 += usize::from(p == label);
        }
    }
    counts
}
