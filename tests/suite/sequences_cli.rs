//! Sequences of different lengths end to end (issue 17): `nabla train` on a sequence file, a tagger
//! (LSTM with `sequence = true`, a linear layer at every step) scored per real step on held-out
//! lines. The data are data/sequences/gpl-3-tags.seq: the characters of lines of the GPL tagged by
//! a rule (data/sequences/README.md).

use crate::common::{Scratch, assert_clean_failure, last_json, nabla, nabla_ok};
use std::path::{Path, PathBuf};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path).to_string_lossy().into_owned()
}

/// The best a model without memory can tag the file: 91.6% of its characters (one letter
/// inside a capitalised word in twelve looks like one inside a lower-case word). The tagger
/// must beat it, which it can only do by remembering each word's first letter.
const MEMORYLESS: f64 = 0.916;

#[test]
fn an_lstm_tagger_learns_what_needs_memory() {
    let s = Scratch::new("seq-tagger");
    let (spec, data) = (repo("data/sequences/char-tagger.toml"), repo("data/sequences/gpl-3-tags.seq"));
    let args = ["train", "--model", &spec, "--data", &data, "--epochs", "6", "--json"];
    let out = nabla_ok(&args, &s.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sequences: 300 lines of 7–73 steps (mean 60.7) of 4 features"), "{stderr}");
    assert!(stderr.contains("5 tags (one per step): C d p s w"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test acc"), "the epoch line shows the per-step accuracy: {stdout}");
    let json = last_json(&out);
    let accuracy = json["test_accuracy"].as_f64().expect("test_accuracy");
    assert!(accuracy > MEMORYLESS + 0.03, "held-out characters tagged right: {accuracy}");
    // eval does not read sequence files yet, and says so
    let out = nabla(&["eval", "--weights", "runs/train/model.safetensors", "--data", &data], &s.0);
    assert_clean_failure(&out, &["gpl-3-tags.seq", "read by `nabla train` only"]);
    // an export takes the inputs as they are, not as pixels
    let out =
        nabla_ok(&["export", "--weights", "runs/train/model.safetensors", "--format", "onnx", "--out", "t.onnx"], &s.0);
    let said = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains("pixels"), "{said}");
}

/// A bad line is an error naming the file, the line and the field; a model that does not fit the
/// data says what to change.
#[test]
fn bad_files_and_models_are_clean_errors() {
    let s = Scratch::new("seq-errors");
    let bad: PathBuf = s.0.join("bad.seq");
    std::fs::write(&bad, "1,0;0,1 | a;b\n1,0;0 | a;b\n").unwrap();
    let spec = repo("data/sequences/char-tagger.toml");
    let bad = bad.to_string_lossy().into_owned();
    let out = nabla(&["train", "--model", &spec, "--data", &bad], &s.0);
    assert_clean_failure(&out, &["bad.seq", "line 2, step 2", "1 features, but the file's steps have 2"]);
    let data = repo("data/sequences/gpl-3-tags.seq");
    let out = nabla(&["train", "--data", &data], &s.0);
    assert_clean_failure(&out, &["sequences need a model", "recurrent layer"]);
    std::fs::write(
        s.0.join("last.toml"),
        "name = 'last'\ninput = [1, 4]\nloss = 'softmax-cross-entropy'\n\
         [[layers]]\ntype = 'lstm'\nhidden = 8\n[[layers]]\ntype = 'linear'\nout = 5\n",
    )
    .unwrap();
    let out = nabla(&["train", "--model", "last.toml", "--data", &data], &s.0);
    assert_clean_failure(&out, &["set sequence = true"]);
    // a bidirectional tagger trains, but its export would read the padding first: refused
    std::fs::write(
        s.0.join("bi.toml"),
        "name = 'bi'\ninput = [1, 4]\nloss = 'softmax-cross-entropy'\n\
         [[layers]]\ntype = 'gru'\nhidden = 4\nsequence = true\nbidirectional = true\n\
         [[layers]]\ntype = 'linear'\nout = 5\n",
    )
    .unwrap();
    nabla_ok(&["train", "--model", "bi.toml", "--data", &data, "--epochs", "1", "--out", "bi.safetensors"], &s.0);
    let out = nabla(&["export", "--weights", "bi.safetensors", "--format", "onnx", "--out", "bi.onnx"], &s.0);
    assert_clean_failure(&out, &["layer 0 (gru) reads the steps backwards", "cannot stop a padded row"]);
}
