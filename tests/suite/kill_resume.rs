//! Kill -9 at random instants of a training run: every folder it leaves must either resume
//! (`--resume`) to the bit-identical weights of a run that was never stopped, or be refused with a
//! clear message (an error, no panic). Nothing in between: no mixed-epoch state, no silent
//! retraining, no folder that breaks on a stray temporary file.
//!
//! `cargo test --test suite kill_resume::` tries 16 instants; the ignored `kill_at_200_instants` tries 200
//! (`cargo test --test suite kill_resume:: -- --ignored --nocapture` prints the counts).

use crate::common::*;
use nabla::rng::Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small MLP on a generated table, with momentum (optimizer state), a plateau schedule (schedule
/// state) and early stopping's best weights (a patience it never runs out of), over many short
/// epochs, so that a random instant falls in every part of an epoch: steps, evaluation and each
/// file written.
const FLAGS: &[&str] = &[
    "train",
    "--data",
    "table.csv",
    "--target",
    "label",
    "--hidden",
    "24",
    "--epochs",
    "12",
    "--batch-size",
    "16",
    "--optimizer",
    "momentum",
    "--lr",
    "0.05",
    "--schedule",
    "plateau",
    "--patience",
    "1",
    "--val-split",
    "0.2",
    "--early-stop",
    "100",
    "--seed",
    "5",
    "--name",
    "run",
];

/// Four classes of 10-dimensional points, 500 rows.
fn write_table(dir: &Path) {
    let mut rng = Rng::seed(11);
    let mut text = (0..10).map(|i| format!("x{i},")).collect::<String>() + "label\n";
    for _ in 0..500 {
        let x: Vec<f32> = (0..10).map(|_| rng.normal(1.0)).collect();
        let label = usize::from(x[0] + x[1] > 0.0) + 2 * usize::from(x[2] - x[3] > 0.0);
        text += &x.iter().map(|v| format!("{v},")).collect::<String>();
        text += &format!("{label}\n");
    }
    std::fs::write(dir.join("table.csv"), text).unwrap();
}

fn train_into(dir: &Path, runs: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nabla"));
    cmd.args(FLAGS).args(["--runs", runs]).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

#[derive(Debug, Default)]
struct Outcomes {
    /// The run had already finished when the kill came; its weights equal the reference.
    finished: usize,
    /// `--resume` ended with the reference's weights, byte for byte.
    resumed_identical: usize,
    /// `--resume` refused the folder with a clear message.
    refused: usize,
    /// Anything else, described.
    wrong: Vec<String>,
}

/// Kills a run at `instants` random instants (seeded) and checks what each leaves.
fn kill_at(instants: usize, seed: u64) -> Outcomes {
    let s = Scratch::new(&format!("kill-resume-{instants}"));
    write_table(&s.0);
    let start = Instant::now();
    assert!(train_into(&s.0, "reference").status().unwrap().success());
    let reference = std::fs::read(s.0.join("reference/run/model.safetensors")).unwrap();
    // the run again, timed with the binary and the data in the page cache: the span to draw from
    let again = Instant::now();
    assert!(train_into(&s.0, "again").status().unwrap().success());
    let span = again.elapsed();
    assert!(std::fs::read(s.0.join("again/run/model.safetensors")).unwrap() == reference, "not reproducible");

    let mut rng = Rng::seed(seed);
    let mut out = Outcomes::default();
    for k in 0..instants {
        let runs = format!("k{k}");
        let dir = s.0.join(&runs).join("run");
        // an instant anywhere from the start to the end of a run like the reference
        let delay = Duration::from_micros(rng.next_u64() % (span.as_micros() as u64).max(1));
        let mut child = train_into(&s.0, &runs).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; an error means it had exited already
        let status = child.wait().unwrap();
        if status.success() {
            match std::fs::read(dir.join("model.safetensors")) {
                Ok(w) if w == reference => out.finished += 1,
                _ => out.wrong.push(format!("instant {k} ({delay:?}): finished with other weights")),
            }
            continue;
        }
        let resumed = nabla(&["train", "--resume", &dir.to_string_lossy()], &s.0);
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        if resumed.status.success() {
            let weights = std::fs::read(dir.join("model.safetensors")).unwrap_or_default();
            let temps: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp-"))
                .collect();
            if weights != reference {
                out.wrong.push(format!("instant {k} ({delay:?}): resumed to other weights"));
            } else if !temps.is_empty() {
                out.wrong.push(format!("instant {k} ({delay:?}): temporary files left: {temps:?}"));
            } else {
                out.resumed_identical += 1;
            }
        } else if !stderr.contains("panicked") && stderr.contains("--resume") && resumed.status.code() == Some(1) {
            out.refused += 1;
        } else {
            out.wrong.push(format!("instant {k} ({delay:?}): {:?}: {stderr}", resumed.status));
        }
        let _ = std::fs::remove_dir_all(s.0.join(&runs));
    }
    eprintln!("kill -9 at {instants} instants of a {span:?} run: {out:?}, in {:?}", start.elapsed());
    out
}

fn check(out: &Outcomes, instants: usize) {
    assert!(out.wrong.is_empty(), "{:#?}", out.wrong);
    assert_eq!(out.finished + out.resumed_identical + out.refused, instants);
    assert!(out.resumed_identical > 0, "no instant left a folder to resume: {out:?}");
}

#[test]
fn a_killed_run_resumes_bit_for_bit_or_is_refused() {
    check(&kill_at(16, 1), 16);
}

#[test]
#[ignore = "slow: about a minute; run with --ignored"]
fn kill_at_200_instants() {
    check(&kill_at(200, 2), 200);
}
