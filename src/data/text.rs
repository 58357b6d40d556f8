//! Text for character-level language models: a UTF-8 file read whole, its vocabulary (the
//! characters of the training part, sorted), and the windows of T characters whose targets are
//! the next characters.
//!
//! The split is by position, not shuffled: the first 90% of the characters train, the last 10% are
//! the held-out text, so that no test window shares characters with a training one. A character of
//! the held-out text that the training part lacks has no index (the model has no output for it):
//! it is left out of the held-out text, and [`TextData::unknown`] counts how many were.
//!
//! # Windows
//! Window i covers characters s = i·T .. s + T as inputs and s + 1 .. s + T + 1 as targets:
//! at every step t the target is the character after the input's. Windows do not overlap, so an
//! epoch reads each character once; a remainder shorter than T + 1 characters is dropped.
//!
//! # Streams (truncated BPTT)
//! With m streams ([`streams`]), each part is cut into m equal stretches, one per row of a
//! batch, and each stretch into consecutive chunks of T characters: batch k holds chunk k of
//! every stretch, so that batch k + 1 continues batch k row for row and a model that carries its
//! state from batch to batch reads each stretch as one long sequence (Karpathy's char-rnn,
//! PyTorch's word_language_model `batchify`).

use super::Dataset;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The characters a model knows, index k ↔ `chars[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocabulary {
    chars: Vec<char>,
    index: HashMap<char, usize>,
}

impl Vocabulary {
    /// The distinct characters of `text`, sorted by code point.
    pub fn of(text: &str) -> Vocabulary {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocabulary::from_chars(chars)
    }

    fn from_chars(chars: Vec<char>) -> Vocabulary {
        let index = chars.iter().enumerate().map(|(k, &c)| (c, k)).collect();
        Vocabulary { chars, index }
    }

    /// The number of characters V.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The index of `c`, if it is in the vocabulary.
    pub fn index(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// The character of index `k`; panics if k ≥ V.
    pub fn char(&self, k: usize) -> char {
        self.chars[k]
    }

    /// The vocabulary as one string, its characters in index order: what a checkpoint stores.
    pub fn to_text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Reads back [`Vocabulary::to_text`]; an empty string or a repeated character is an error
    /// (the caller names the file).
    pub fn from_text(text: &str) -> std::result::Result<Vocabulary, String> {
        let chars: Vec<char> = text.chars().collect();
        let v = Vocabulary::from_chars(chars);
        if v.is_empty() {
            return Err("the vocabulary is empty".into());
        }
        if v.index.len() != v.chars.len() {
            return Err(format!(
                "the vocabulary repeats a character ({} characters, {} distinct)",
                v.len(),
                v.index.len()
            ));
        }
        Ok(v)
    }

    /// The indices of the characters of `text`, skipping those outside the vocabulary; returns
    /// them and the number skipped.
    pub fn encode_known(&self, text: &str) -> (Vec<usize>, usize) {
        let mut skipped = 0;
        let ids = text
            .chars()
            .filter_map(|c| {
                let k = self.index(c);
                skipped += usize::from(k.is_none());
                k
            })
            .collect();
        (ids, skipped)
    }
}

/// The CLI's metadata key for a char model's vocabulary in checkpoints.
pub const VOCABULARY_KEY: &str = "nabla.vocabulary";

/// A text made ready for a language model: the vocabulary and the windows of each part.
#[derive(Clone, Debug)]
pub struct TextData {
    /// The training part's characters.
    pub vocabulary: Vocabulary,
    /// Windows of the first 90%: inputs N × T and targets N × T, character indices as f32.
    pub train: Dataset,
    /// Windows of the last 10%.
    pub test: Dataset,
    /// Characters of the held-out part left out because the training part lacks them.
    pub unknown: usize,
    /// The entropy of the training part's character frequencies, in bits per character.
    pub unigram_bits: f64,
}

/// The share of the text that trains; the rest is held out.
pub const TRAIN_SHARE: f64 = 0.9;

/// Reads `path` as UTF-8 text and cuts it into windows of `steps` characters (see the module's
/// documentation). Errors name the file: unreadable, empty, not UTF-8 (with the byte offset), or
/// too short for one window in each part. With `streams` = Some(m), each part is laid out as m
/// streams of chunks (see the module's documentation) instead of windows.
pub fn load_text(path: &Path, steps: usize, streams: Option<usize>) -> Result<TextData> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::format(
            path,
            format!("byte {}", e.utf8_error().valid_up_to()),
            "not UTF-8 text (a character-level model reads a UTF-8 text file)",
        )
    })?;
    text_data(&text, steps, streams).map_err(|message| Error::format(path, "text", message))
}

/// [`load_text`] on text already read; the error says what is missing.
pub fn text_data(text: &str, steps: usize, streams: Option<usize>) -> std::result::Result<TextData, String> {
    if steps == 0 {
        return Err("a sequence length of 0 characters".into());
    }
    if streams == Some(0) {
        return Err("0 streams".into());
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Err("the file is empty".into());
    }
    let cut = (chars.len() as f64 * TRAIN_SHARE).round() as usize;
    let train_text: String = chars[..cut].iter().collect();
    let test_text: String = chars[cut..].iter().collect();
    let vocabulary = Vocabulary::of(&train_text);
    let (train_ids, _) = vocabulary.encode_known(&train_text);
    let (test_ids, unknown) = vocabulary.encode_known(&test_text);
    // a window, or a chunk of each stream, and the character after it
    let need = steps * streams.unwrap_or(1) + 1;
    if train_ids.len() < need || test_ids.len() < need {
        return Err(format!(
            "{} characters: too short for {} sequence of {steps} characters (and its next one) in both the \
             training part (first {:.0}%, {} characters) and the held-out part ({} characters); give a longer text \
             or a smaller --seq-len (--bptt, --batch-size)",
            chars.len(),
            streams.map_or_else(|| "one".to_string(), |m| format!("{m} streams of one")),
            100.0 * TRAIN_SHARE,
            train_ids.len(),
            test_ids.len()
        ));
    }
    let unigram_bits = unigram_entropy(&train_ids, vocabulary.len());
    let layout = |ids: &[usize]| match streams {
        Some(m) => self::streams(ids, m, steps),
        None => windows(ids, steps),
    };
    Ok(TextData { train: layout(&train_ids), test: layout(&test_ids), vocabulary, unknown, unigram_bits })
}

/// The non-overlapping windows of `steps` characters of `ids`, each with its next characters as
/// targets: inputs and targets both N × T, N = ⌊(len − 1)/T⌋.
pub fn windows(ids: &[usize], steps: usize) -> Dataset {
    let n = ids.len().saturating_sub(1) / steps;
    let (mut inputs, mut targets) = (Vec::with_capacity(n * steps), Vec::with_capacity(n * steps));
    for i in 0..n {
        let s = i * steps;
        inputs.extend(ids[s..s + steps].iter().map(|&k| k as f32));
        targets.extend(ids[s + 1..s + steps + 1].iter().map(|&k| k as f32));
    }
    Dataset {
        inputs: Tensor::from_vec(inputs, &[n, steps]).into(),
        targets: Tensor::from_vec(targets, &[n, steps]),
        labels: None,
        image_shape: None,
        lengths: None,
    }
}

/// `ids` as `m` streams of chunks of `steps` characters, each with its next characters as
/// targets: inputs and targets both (C·m) × T, row k·m + s holding chunk k of stretch s (stretch s
/// is characters s·L .. (s + 1)·L, L = ⌊(len − 1)/m⌋, and C = ⌊L/T⌋ chunks of it are read).
pub fn streams(ids: &[usize], m: usize, steps: usize) -> Dataset {
    let stretch = ids.len().saturating_sub(1) / m;
    let chunks = stretch / steps;
    let (mut inputs, mut targets) = (Vec::with_capacity(chunks * m * steps), Vec::with_capacity(chunks * m * steps));
    for k in 0..chunks {
        for s in 0..m {
            let start = s * stretch + k * steps;
            inputs.extend(ids[start..start + steps].iter().map(|&c| c as f32));
            targets.extend(ids[start + 1..start + steps + 1].iter().map(|&c| c as f32));
        }
    }
    Dataset {
        inputs: Tensor::from_vec(inputs, &[chunks * m, steps]).into(),
        targets: Tensor::from_vec(targets, &[chunks * m, steps]),
        labels: None,
        image_shape: None,
        lengths: None,
    }
}

/// H = −Σ_k p_k log₂ p_k of the frequencies p_k of the symbols `ids` (each below `symbols`): the
/// bits per character of the best model that ignores context.
pub fn unigram_entropy(ids: &[usize], symbols: usize) -> f64 {
    let mut counts = vec![0usize; symbols];
    for &k in ids {
        counts[k] += 1;
    }
    let n = ids.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.log2()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_target_the_next_character_at_every_step() {
        let ids: Vec<usize> = (0..11).collect();
        let d = windows(&ids, 3);
        // (11 − 1)/3 = 3 windows; the last character only ever is a target
        assert_eq!(d.inputs.shape(), &[3, 3]);
        assert_eq!(d.inputs.data(), &[0., 1., 2., 3., 4., 5., 6., 7., 8.]);
        assert_eq!(d.targets.data(), &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    }

    #[test]
    fn streams_continue_row_for_row_from_batch_to_batch() {
        let ids: Vec<usize> = (0..24).collect();
        // 2 streams of ⌊23/2⌋ = 11 characters: 0..11 and 11..22, each 3 chunks of 3
        let d = streams(&ids, 2, 3);
        assert_eq!(d.inputs.shape(), &[6, 3]);
        let rows: Vec<Vec<f32>> = d.inputs.to_tensor().data().chunks(3).map(<[f32]>::to_vec).collect();
        assert_eq!(rows[0], [0., 1., 2.]);
        assert_eq!(rows[1], [11., 12., 13.]);
        assert_eq!(rows[2], [3., 4., 5.], "batch 2 row 0 continues batch 1 row 0");
        assert_eq!(rows[5], [17., 18., 19.]);
        assert_eq!(&d.targets.data()[..3], &[1., 2., 3.]);
        let short = text_data(&"abc".repeat(10), 3, Some(4)).unwrap_err();
        assert!(short.contains("4 streams"), "{short}");
    }

    #[test]
    fn split_vocabulary_and_unknown_characters() {
        // 20 characters: the first 18 train, the last 2 are too few for a window of 4 and its next
        let short = text_data(&"ab".repeat(10), 4, None).unwrap_err();
        assert!(short.contains("too short"), "{short}");
        // 100 characters: 90 train, "abzabcabca" is held out and 'z' is not in the training part
        let text = format!("{}{}", "abcab".repeat(18), "abzabcabca");
        let data = text_data(&text, 3, None).unwrap();
        assert_eq!(data.vocabulary.to_text(), "abc");
        assert_eq!(data.unknown, 1);
        assert_eq!(data.train.len(), (90 - 1) / 3);
        assert_eq!(data.test.len(), (9 - 1) / 3);
        // the training part is "abcab" × 18: a and b 2/5 each, c 1/5
        let h = -(2.0 * 0.4 * 0.4f64.log2() + 0.2 * 0.2f64.log2());
        assert!((data.unigram_bits - h).abs() < 1e-12);
        assert_eq!(text_data("", 3, None).unwrap_err(), "the file is empty");
    }

    #[test]
    fn vocabulary_round_trips_through_text() {
        let v = Vocabulary::of("héllo wörld\n");
        let back = Vocabulary::from_text(&v.to_text()).unwrap();
        assert_eq!(back, v);
        assert_eq!(v.char(v.index('ö').unwrap()), 'ö');
        assert!(Vocabulary::from_text("aba").unwrap_err().contains("repeats"));
        assert!(Vocabulary::from_text("").is_err());
    }

    #[test]
    fn unigram_entropy_of_a_fair_coin_is_one_bit() {
        assert!((unigram_entropy(&[0, 1, 1, 0], 2) - 1.0).abs() < 1e-12);
        assert_eq!(unigram_entropy(&[2, 2, 2], 3), 0.0);
    }
}
