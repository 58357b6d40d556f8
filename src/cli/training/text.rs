//! Training a character-level language model on a text file: a model whose first layer is
//! `one-hot` reads `--data` as UTF-8 text (`nabla::data::text`), in windows of `--seq-len`
//! characters; its spec is fitted to the text's vocabulary, which the checkpoint stores.

use crate::cli::shared::source::{Normalization, Source};
use nabla::data::text::{TextData, VOCABULARY_KEY, load_text};
use nabla::nn::{LayerSpec, ModelSpec};
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The sequence length without --seq-len: the spec's input length.
pub fn seq_len(spec: &ModelSpec, flag: Option<usize>) -> usize {
    flag.unwrap_or(spec.input[0])
}

/// Whether `spec` reads symbol indices (its first layer is `one-hot`): a text model.
pub fn is_text_model(spec: &ModelSpec) -> bool {
    matches!(spec.layers.first().map(|l| &l.spec), Some(LayerSpec::OneHot(_)))
}

/// What a text run knows besides its windows.
pub struct TextFacts {
    pub data: TextData,
}

impl TextFacts {
    /// The checkpoint metadata that `nabla sample` reads: the vocabulary in index order.
    pub fn checkpoint_meta(&self) -> HashMap<String, String> {
        HashMap::from([(VOCABULARY_KEY.to_string(), self.data.vocabulary.to_text())])
    }

    /// Bits per character from a mean cross-entropy in nats: E / ln 2.
    pub fn bits(nats: f32) -> f64 {
        nats as f64 / std::f64::consts::LN_2
    }
}

/// Reads `path` as text in windows of `steps` characters (or, with `streams`, that many streams
/// of chunks of `steps`, for truncated BPTT); returns the run's data (inputs are
/// character indices, which no normalisation touches) and the facts kept for the summary.
pub fn load(path: &Path, steps: usize, streams: Option<usize>) -> Result<(Source, TextFacts)> {
    if path.is_dir() {
        return Err(Error::config(format!(
            "--data {}: a character-level model reads a UTF-8 text file, not a folder",
            path.display()
        )));
    }
    let data = load_text(path, steps, streams)?;
    let source = Source {
        train: data.train.clone(),
        test: data.test.clone(),
        // one identity pair per step, as a table's columns: exports then take the indices as they
        // are (one pair for all inputs would say pixels, which exports divide by 255)
        normalization: Normalization { mean: vec![0.0; steps], std: vec![1.0; steps] },
        schema: None,
        classes: None,
    };
    Ok((source, TextFacts { data }))
}

/// `spec` for this text: input `[steps]`, its one-hot layer's `classes` and its last linear
/// layer's `out` the vocabulary's size V. A last layer that is not linear is an error.
pub fn fit(mut spec: ModelSpec, steps: usize, vocabulary: usize) -> Result<ModelSpec> {
    spec.input = vec![steps];
    if let Some(LayerSpec::OneHot(o)) = spec.layers.first_mut().map(|l| &mut l.spec) {
        o.classes = vocabulary;
    }
    match spec.layers.last_mut().map(|l| &mut l.spec) {
        Some(LayerSpec::Linear(last)) => last.out = vocabulary,
        _ => {
            return Err(Error::config(format!(
                "model '{}': a character-level model ends in a linear layer (one output per character)",
                spec.name
            )));
        }
    }
    let shapes = spec.shapes()?;
    if shapes.last() != Some(&vec![steps, vocabulary]) {
        return Err(Error::config(format!(
            "model '{}': a character-level model gives T × V outputs (next-character logits at every step: \
             [{steps}, {vocabulary}]), this one gives {:?}; set sequence = true on its recurrent layers",
            spec.name,
            shapes.last()
        )));
    }
    Ok(spec)
}
