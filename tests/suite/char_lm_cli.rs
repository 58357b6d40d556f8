//! The character-level language model (issue 17) end to end: `nabla train` on a text file with a
//! one-hot → LSTM → linear spec, then `nabla sample`. The text is data/text/gpl-3.txt (the GNU GPL
//! version 3, whose licence allows verbatim copies; see data/text/README.md).

use crate::common::{Scratch, assert_clean_failure, last_json, nabla, nabla_ok};
use nabla::data::text::{VOCABULARY_KEY, Vocabulary};
use std::path::{Path, PathBuf};

fn gpl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/text/gpl-3.txt")
}

/// A small char model, quick enough for CI: 64 cells.
const SMALL: &str = "name = 'char-small'\ninput = [32]\nloss = 'softmax-cross-entropy'\n\
    [[layers]]\ntype = 'one-hot'\nclasses = 1\n\
    [[layers]]\ntype = 'lstm'\nhidden = 64\nsequence = true\n\
    [[layers]]\ntype = 'linear'\nout = 1\n";

/// Trains the small model for 2 epochs; returns the run's JSON summary and the weights' path.
fn train(dir: &Path) -> (serde_json::Value, PathBuf) {
    std::fs::write(dir.join("small.toml"), SMALL).unwrap();
    let data = gpl().to_string_lossy().into_owned();
    let args = [
        "train",
        "--model",
        "small.toml",
        "--data",
        &data,
        "--seq-len",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--out",
        "char.safetensors",
        "--json",
    ];
    let out = nabla_ok(&args, dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test bits/char"), "{stdout}");
    (last_json(&out), dir.join("char.safetensors"))
}

/// It learns: held-out bits per character below the text's unigram entropy; the JSON's bits are
/// its test loss in nats / ln 2; the checkpoint holds the training part's vocabulary; sampling is
/// seeded and reads its prime; bad flags are errors.
#[test]
fn train_then_sample_beats_the_unigram_entropy() {
    let s = Scratch::new("char-lm");
    let (json, weights) = train(&s.0);
    let bits = json["test_bits_per_char"].as_f64().unwrap();
    let unigram = json["unigram_bits_per_char"].as_f64().unwrap();
    let nats = json["test_loss"].as_f64().unwrap();
    assert!((bits - nats / std::f64::consts::LN_2).abs() < 1e-4, "{bits} vs {nats} nats");
    assert!(bits < unigram - 0.5, "held-out {bits} bits/char, unigram entropy {unigram}");

    // the vocabulary: the characters of the first 90% of the text, in the checkpoint
    let text = std::fs::read_to_string(gpl()).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let train_part: String = chars[..(chars.len() as f64 * 0.9).round() as usize].iter().collect();
    let (_, meta) = nabla::io::load_checkpoint(&weights).unwrap();
    assert_eq!(meta[VOCABULARY_KEY], Vocabulary::of(&train_part).to_text());
    assert_eq!(json["vocabulary"].as_u64().unwrap() as usize, Vocabulary::of(&train_part).len());

    let w = weights.to_string_lossy().into_owned();
    let sample = |seed: &str, prime: &str| {
        let out = nabla_ok(&["sample", "--weights", &w, "--length", "200", "--seed", seed, "--prime", prime], &s.0);
        String::from_utf8(out.stdout).unwrap()
    };
    let a = sample("3", "The ");
    assert!(a.starts_with("The ") && a.trim_end_matches('\n').chars().count() == 204, "{a:?}");
    assert_eq!(a, sample("3", "The "), "the same seed gives the same text");
    assert_ne!(a, sample("4", "The "), "another seed, another text");
    // --out: written atomically, the same text
    nabla_ok(&["sample", "--weights", &w, "--length", "200", "--seed", "3", "--prime", "The ", "--out", "s.txt"], &s.0);
    assert_eq!(std::fs::read_to_string(s.0.join("s.txt")).unwrap(), a.trim_end_matches('\n'));

    let bad = |args: &[&str], words: &[&str]| {
        let mut all = vec!["sample", "--weights", &w];
        all.extend_from_slice(args);
        assert_clean_failure(&nabla(&all, &s.0), words);
    };
    bad(&["--temperature", "0"], &["--temperature 0", "positive"]);
    bad(&["--temperature=-1"], &["--temperature -1"]);
    bad(&["--prime", "a€b"], &["--prime", "'€'", "vocabulary"]);
    bad(&["--length", "0"], &["--length 0"]);
}

/// A checkpoint of another model is refused by name.
#[test]
fn sample_refuses_a_model_that_is_not_a_char_model() {
    let s = Scratch::new("char-lm-not");
    let mnist = crate::common::mnist();
    let args = [
        "train",
        "--data",
        &mnist,
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--limit-train",
        "64",
        "--out",
        "mlp.safetensors",
    ];
    nabla_ok(&args, &s.0);
    let out = nabla(&["sample", "--weights", "mlp.safetensors"], &s.0);
    assert_clean_failure(&out, &["mlp.safetensors", "not a character-level model", "linear, relu, linear"]);
}

/// An empty file, bytes that are not UTF-8 and a text too short for one sequence name the file.
#[test]
fn bad_text_files_are_errors_that_name_them() {
    let s = Scratch::new("char-lm-bad");
    for (name, bytes, words) in [
        ("empty.txt", &b""[..], &["empty.txt", "empty"][..]),
        ("latin1.txt", &b"caf\xe9 au lait"[..], &["latin1.txt", "byte 3", "not UTF-8"][..]),
        ("short.txt", &b"a short text"[..], &["short.txt", "too short", "--seq-len"][..]),
    ] {
        std::fs::write(s.0.join(name), bytes).unwrap();
        let out = nabla(&["train", "--model", "char-lstm", "--data", name], &s.0);
        assert_clean_failure(&out, words);
        assert_eq!(out.status.code(), Some(1));
    }
    let out = nabla(&["train", "--model", "mlp", "--seq-len", "10"], &s.0);
    assert_clean_failure(&out, &["--seq-len", "character-level"]);
}

/// Truncated BPTT from the CLI: the text read as 16 streams in chunks of 32 characters, the state
/// carried from chunk to chunk; after 2 epochs the held-out bits per character are well below the
/// unigram entropy (an untrained model is at about log₂ V, above it). `--bptt` with `--seq-len`
/// or a validation split is refused.
#[test]
fn bptt_trains_the_char_model_with_carried_state() {
    let s = Scratch::new("char-bptt");
    std::fs::write(s.0.join("small.toml"), SMALL).unwrap();
    let data = gpl().to_string_lossy().into_owned();
    let base = ["train", "--model", "small.toml", "--data", &data, "--batch-size", "16", "--seed", "2"];
    let flags = ["--bptt", "32", "--epochs", "2", "--optimizer", "adam", "--lr", "0.01", "--json"];
    let out = nabla_ok(&[&base[..], &flags[..]].concat(), &s.0);
    let json = last_json(&out);
    let bits = json["test_bits_per_char"].as_f64().unwrap();
    let unigram = json["unigram_bits_per_char"].as_f64().unwrap();
    assert!(bits < unigram - 0.5, "held-out {bits} bits/char with --bptt, unigram entropy {unigram}");
    let both = nabla(&[&base[..], &["--bptt", "32", "--seq-len", "32"][..]].concat(), &s.0);
    assert_clean_failure(&both, &["--bptt", "--seq-len"]);
    let val = nabla(&[&base[..], &["--bptt", "32", "--val-split", "0.1"][..]].concat(), &s.0);
    assert_clean_failure(&val, &["--bptt", "validation"]);
}
