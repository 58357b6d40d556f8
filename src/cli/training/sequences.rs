//! Training on a sequence file (`--data FILE.seq`, `nabla::data::sequences`): sequences of
//! different lengths, each with a label or a tag per step. The spec is fitted to the file: its
//! input becomes T × F (the longest sequence's steps, the features of a step) and its last linear
//! layer gets one output per label or tag; a tagger must give T × K outputs (`sequence = true` on
//! its last recurrent layer, then a linear layer applied at every step).

use crate::cli::shared::source::{Normalization, Source};
use nabla::data::sequences::{Sequences, load_sequences};
use nabla::gpu::Device;
use nabla::nn::{LayerSpec, ModelSpec};
use nabla::{Error, Result};
use std::path::Path;

/// Whether `--data` names a sequence file (by its extension, `.seq`).
pub fn is_sequence_file(data: &str) -> bool {
    Path::new(data).extension().is_some_and(|e| e == "seq")
}

/// Reads the sequence file `path` and splits it into train and test (`test_split` of the lines,
/// 0.2 by default, drawn with `seed`); the inputs are used as they are (no normalisation). Returns
/// the run's data and a line that describes it.
pub fn load(path: &Path, test_split: Option<f32>, seed: u64) -> Result<(Source, Sequences, String)> {
    let split = test_split.unwrap_or(0.2);
    if !(0.0..1.0).contains(&split) {
        return Err(Error::config(format!("--test-split {split} must be in [0, 1)")));
    }
    let sequences = load_sequences(path)?;
    let (train, test) = sequences.data.clone().split(split, seed);
    let columns = sequences.steps * sequences.features;
    let lengths = sequences.data.lengths.as_deref().unwrap_or_default();
    let what = if sequences.tagging { "tags (one per step)" } else { "labels (one per sequence)" };
    let line = format!(
        "sequences: {} lines of {}–{} steps (mean {:.1}) of {} features, {} {what}: {}",
        lengths.len(),
        lengths.iter().min().unwrap_or(&0),
        sequences.steps,
        lengths.iter().sum::<usize>() as f64 / lengths.len().max(1) as f64,
        sequences.features,
        sequences.classes.len(),
        sequences.classes.join(" ")
    );
    let source = Source {
        train,
        test,
        // one identity pair per input column, as a table's: exports then take the values as they
        // are (one pair for all inputs would say pixels, which exports divide by 255)
        normalization: Normalization { mean: vec![0.0; columns], std: vec![1.0; columns] },
        schema: None,
        classes: None,
    };
    Ok((source, sequences, line))
}

/// `spec` for these sequences: input [T, F], its last linear layer's `out` the number of labels or
/// tags K, and outputs [K] (labels) or [T, K] (tags). A last layer that is not linear, or other
/// outputs, are errors that say what to change.
pub fn fit(mut spec: ModelSpec, sequences: &Sequences) -> Result<ModelSpec> {
    let (steps, k) = (sequences.steps, sequences.classes.len());
    spec.input = vec![steps, sequences.features];
    match spec.layers.last_mut().map(|l| &mut l.spec) {
        Some(LayerSpec::Linear(last)) => last.out = k,
        _ => {
            return Err(Error::config(format!(
                "model '{}': a model of sequences ends in a linear layer (one output per label or tag)",
                spec.name
            )));
        }
    }
    let want = if sequences.tagging { vec![steps, k] } else { vec![k] };
    let shapes = spec.shapes()?;
    if shapes.last() != Some(&want) {
        let hint = if sequences.tagging {
            "a tagger gives a tag's logits at every step: set sequence = true on its last recurrent layer"
        } else {
            "a sequence's label comes from its last state: leave sequence = true off the last recurrent layer"
        };
        return Err(Error::config(format!(
            "model '{}' gives outputs {:?} for the sequences' {steps} steps of {} features, but the data want {want:?}; \
             {hint}",
            spec.name,
            shapes.last(),
            sequences.features
        )));
    }
    Ok(spec)
}

/// The device of a run on sequences: the CPU, whose recurrent layers take each row's length;
/// `--device gpu` (or `NABLA_DEVICE=gpu`) is refused rather than run without the lengths.
pub fn cpu_only(flag: Option<&str>) -> Result<Option<&'static str>> {
    match Device::from_flag_or_env(flag)? {
        Device::Gpu => Err(Error::config(
            "--device gpu: the GPU layers do not take sequences of different lengths yet: train with --device cpu",
        )),
        Device::Cpu | Device::Auto => Ok(Some("cpu")),
    }
}
