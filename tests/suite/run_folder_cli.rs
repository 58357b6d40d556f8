//! End-to-end tests of what a run leaves on disk when things go wrong: a diverging run keeps its
//! last good weights, a checkpoint with non-finite weights is refused, run folders are claimed
//! one per run and stay under --runs, output paths are checked before training, and --resume
//! refuses a folder it cannot continue. (Kills at random instants: `tests/suite/kill_resume.rs`.)

use crate::common::*;
use std::path::Path;

/// Two Gaussian blobs, class = which side of x + y = 0, 400 rows.
fn write_blobs(dir: &Path) {
    let mut text = String::from("x,y,label\n");
    let mut rng = nabla::rng::Rng::seed(3);
    for _ in 0..400 {
        let (x, y) = (rng.normal(1.0), rng.normal(1.0));
        text += &format!("{x},{y},{}\n", u8::from(x + y > 0.0));
    }
    std::fs::write(dir.join("blobs.csv"), &text).unwrap();
}

// the batch size that these runs were designed with (a table otherwise gets one for its size)
const BLOBS: &[&str] = &["train", "--data", "blobs.csv", "--target", "label", "--hidden", "8", "--batch-size", "128"];

/// η rising from 10 by 10 each epoch (a warm-up towards 10⁵): the loss explodes after a good
/// first epoch or two, without reaching NaN.
const EXPLODING: &[&str] = &["--lr", "1e5", "--warmup", "10000"];

#[test]
fn a_diverging_run_keeps_its_last_good_weights_and_says_which() {
    let s = Scratch::new("diverge");
    write_blobs(&s.0);
    let out = nabla(&[BLOBS, EXPLODING, &["--epochs", "8", "--name", "d"]].concat(), &s.0);
    assert_clean_failure(&out, &["training diverged in epoch", "1000 times the untrained model's", "--lr"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kept: usize = stderr
        .split("keeps the weights of epoch ")
        .nth(1)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no kept epoch: {stderr}"));
    assert!(stderr.contains(&format!("diverged in epoch {}", kept + 1)), "{stderr}");
    // the weights kept are exactly those of a run stopped after that epoch, and evaluate
    nabla_ok(&[BLOBS, EXPLODING, &["--name", "good", "--epochs", &kept.to_string()]].concat(), &s.0);
    let kept_weights = std::fs::read(s.0.join("runs/d/model.safetensors")).unwrap();
    assert!(kept_weights == std::fs::read(s.0.join("runs/good/model.safetensors")).unwrap());
    nabla_ok(&["eval", "--weights", "runs/d/model.safetensors", "--data", "blobs.csv", "--target", "label"], &s.0);
    // the diverged epoch's figures are in metrics.csv (a comparison plots them)
    let metrics = std::fs::read_to_string(s.0.join("runs/d/metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), kept + 2, "header, the good epochs and the diverged one: {metrics}");

    // a run that diverges in its first epoch saves no weights and says so
    let out = nabla(&[BLOBS, &["--lr", "1000", "--epochs", "3", "--name", "first"]].concat(), &s.0);
    assert_clean_failure(&out, &["diverged in epoch 1", "no weights were saved"]);
    assert!(!s.0.join("runs/first/model.safetensors").exists());
}

#[test]
fn a_checkpoint_with_non_finite_weights_is_refused() {
    let s = Scratch::new("nan-weights");
    write_blobs(&s.0);
    nabla_ok(&[BLOBS, &["--epochs", "1", "--name", "m"]].concat(), &s.0);
    let mut bytes = std::fs::read(s.0.join("runs/m/model.safetensors")).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..8 + header + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(s.0.join("nan.safetensors"), bytes).unwrap();
    let out = nabla(&["eval", "--weights", "nan.safetensors", "--data", "blobs.csv", "--target", "label"], &s.0);
    assert_clean_failure(&out, &["nan.safetensors", "NaN", "finite"]);
}

#[test]
fn run_folders_stay_under_runs_and_are_never_shared() {
    let s = Scratch::new("run-folders");
    write_blobs(&s.0);
    let quick = [BLOBS, &["--epochs", "1"]].concat();
    for name in ["../../escape", "a/b", ".."] {
        let out = nabla(&[&quick[..], &["--name", name]].concat(), &s.0);
        assert_clean_failure(&out, &[name, "one folder name"]);
    }
    assert!(!s.0.join("escape").exists() && !s.0.parent().unwrap().join("escape").exists());

    // two runs started at once under one name: two folders, both complete
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(&quick)
            .args(["--name", "r", "--json"])
            .current_dir(&s.0)
            .output()
    };
    let (a, b) = std::thread::scope(|t| {
        let a = t.spawn(spawn);
        let b = t.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let dirs = [&a, &b].map(|o| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        last_json(o)["run_dir"].as_str().unwrap().to_string()
    });
    assert_ne!(dirs[0], dirs[1]);
    for d in dirs {
        assert!(s.0.join(d).join("model.safetensors").exists());
    }
}

#[test]
fn output_paths_are_checked_before_training() {
    let s = Scratch::new("output-paths");
    write_blobs(&s.0);
    std::fs::write(s.0.join("a-file"), b"").unwrap();
    std::fs::create_dir(s.0.join("a-folder")).unwrap();
    let quick = [BLOBS, &["--epochs", "1"]].concat();
    for (flags, mentions) in [
        (["--runs", "a-file/runs"], "a-file"),
        (["--out", "a-folder"], "--out"),
        (["--out", "a-file/w.safetensors"], "--out"),
    ] {
        let out = nabla(&[&quick[..], &flags].concat(), &s.0);
        assert_clean_failure(&out, &[mentions]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("epoch"), "it trained first: {stderr}");
    }
}

#[test]
fn resume_refuses_a_folder_without_a_checkpoint() {
    let s = Scratch::new("resume-refused");
    write_blobs(&s.0);
    nabla_ok(&[BLOBS, &["--epochs", "1", "--name", "r"]].concat(), &s.0);
    // a run killed before its first epoch ended: config.json and a temporary file, no checkpoint
    std::fs::remove_file(s.0.join("runs/r/checkpoint.safetensors")).unwrap();
    std::fs::write(s.0.join("runs/r/.checkpoint.safetensors.tmp-12345"), b"partial").unwrap();
    let out = nabla(&["train", "--resume", "runs/r"], &s.0);
    assert_clean_failure(&out, &["--resume", "runs/r", "checkpoint.safetensors", "start it again"]);
    let out = nabla(&["train", "--resume", "runs/none"], &s.0);
    assert_clean_failure(&out, &["--resume", "no such run folder"]);
    std::fs::create_dir(s.0.join("runs/empty")).unwrap();
    let out = nabla(&["train", "--resume", "runs/empty"], &s.0);
    assert_clean_failure(&out, &["--resume", "config.json"]);
}
