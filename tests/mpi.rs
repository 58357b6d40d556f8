//! Data-parallel training over MPI, end to end: `mpirun -np 2 nabla train` against one process
//! at the same global batch, the job's behaviour when a rank dies or disagrees, and `--resume`
//! with another number of ranks. Needs `mpirun` (Open MPI: `apt-get install openmpi-bin
//! libopenmpi-dev`) and a build with `--features mpi`; without the feature only the test of the
//! error message runs.

mod common;

#[cfg(not(feature = "mpi"))]
use common::nabla;
#[cfg(feature = "mpi")]
use common::nabla_ok;
use common::{Scratch, assert_clean_failure, mnist};
#[cfg(feature = "mpi")]
use std::path::Path;
use std::process::Command;

/// Without `--features mpi`, a process started by a launcher as one of several, or asked for
/// `--distributed`, refuses to train alone and says how to rebuild.
#[cfg(not(feature = "mpi"))]
#[test]
fn without_the_feature_mpirun_and_distributed_are_clear_errors() {
    let dir = Scratch::new("mpi-missing");
    let args = ["train", "--data", &mnist(), "--hidden", "8", "--limit-train", "100", "--epochs", "1"];
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert_clean_failure(&out, &["one of 2 (OMPI_COMM_WORLD_SIZE=2)", "without MPI support", "--features mpi"]);
    let out = nabla(&[&args[..], &["--distributed"]].concat(), &dir.0);
    assert_clean_failure(&out, &["--distributed", "without MPI support", "--features mpi"]);
    assert!(!dir.0.join("runs").exists(), "a refused run claimed a folder");
    // one process under a launcher (mpirun -np 1) trains as usual
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `mpirun -np k nabla args…` in `dir` (as root too, more ranks than cores allowed).
#[cfg(feature = "mpi")]
fn mpirun(k: usize, args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--allow-run-as-root", "--oversubscribe", "-np", &k.to_string()]);
    cmd.arg(env!("CARGO_BIN_EXE_nabla")).args(args).current_dir(dir);
    cmd
}

/// The per-epoch train losses and test accuracies of the run in `dir`.
#[cfg(feature = "mpi")]
fn figures(dir: &Path) -> Vec<(f32, f32, f32)> {
    let rows = nabla::report::read_metrics(&dir.join("metrics.csv")).unwrap();
    rows.iter().map(|r| (r.train_loss, r.test_loss.unwrap(), r.test_accuracy.unwrap())).collect()
}

/// Trains `args` on MNIST once alone and once over 2 ranks (the same global batch), and checks
/// that each epoch's training and test losses agree within 1e-4 relative and test accuracy
/// within 0.1%; the ranks read their rows from uncompressed copies of the two gzip image files.
#[cfg(feature = "mpi")]
fn two_ranks_match_one_process(name: &str, args: &[&str]) {
    let dir = Scratch::new(name);
    two_ranks_match_one_process_on(&dir, &mnist(), "train-images", 2, args);
}

/// As [`two_ranks_match_one_process`], on `data` in `dir`: the ranks read their rows from
/// `copies` files in the cache, the first named `<from>…`.
#[cfg(feature = "mpi")]
fn two_ranks_match_one_process_on(dir: &Scratch, data: &str, from: &str, copies: usize, args: &[&str]) {
    let one = [&["train", "--data", data, "--name", "one"], args].concat();
    nabla_ok(&one, &dir.0);
    let two = [&["train", "--data", data, "--name", "two"], args].concat();
    let out = mpirun(2, &two, &dir.0).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mpirun failed: {stderr}");
    assert!(stderr.contains("data-parallel training over 2 ranks"), "{stderr}");
    // the ranks read their rows from the files in the cache, which rank 0 wrote
    let cache = dir.0.join("runs/.data-cache");
    let reads = format!("reads the images of its part of each batch from runs/.data-cache/{from}");
    assert!(stderr.contains(&reads), "{stderr}");
    let found: Vec<_> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(found.len(), copies, "{found:?}");
    assert!(stderr.contains("peak resident memory (VmHWM) per rank, in MiB: "), "{stderr}");
    // rank 0 alone prints: one line per epoch, one run folder
    let stdout = String::from_utf8_lossy(&out.stdout);
    let epochs = figures(&dir.0.join("runs/one")).len();
    assert_eq!(stdout.lines().filter(|l| l.starts_with("epoch")).count(), epochs, "{stdout}");
    let folders: Vec<_> = std::fs::read_dir(dir.0.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| !name.to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    let (a, b) = (figures(&dir.0.join("runs/one")), figures(&dir.0.join("runs/two")));
    assert_eq!(a.len(), b.len());
    for (epoch, (x, y)) in a.iter().zip(&b).enumerate() {
        let close = |p: f32, q: f32| (p - q).abs() <= 1e-4 * p.abs().max(q.abs());
        assert!(close(x.0, y.0) && close(x.1, y.1), "epoch {}: one process {x:?}, two ranks {y:?}", epoch + 1);
        assert!((x.2 - y.2).abs() <= 0.001, "epoch {}: test accuracy {} vs {}", epoch + 1, x.2, y.2);
    }
}

/// An MLP, 3 epochs of 94 steps of 64 rows (32 per rank).
#[cfg(feature = "mpi")]
#[test]
fn an_mlp_on_two_ranks_trains_as_one_process() {
    two_ranks_match_one_process(
        "mpi-mlp",
        &["--hidden", "128,64", "--limit-train", "6000", "--epochs", "3", "--batch-size", "64", "--lr", "0.1"],
    );
}

/// An image folder (bars across, bars down, crosses: 3 × 40 pictures, 20×20 gray and RGB, at
/// 12×12 gray), 3 epochs of 16 rows (8 per rank): rank 0 decodes the folder into one file in the
/// cache, every rank reads its rows of each batch from it.
#[cfg(feature = "mpi")]
#[test]
fn an_image_folder_on_two_ranks_trains_as_one_process() {
    let dir = Scratch::new("mpi-images");
    let folder = dir.0.join("bars");
    common::draw_image_folder(&folder, 40);
    let args = ["--image-size", "12x12", "--grayscale", "--hidden", "32", "--epochs", "3", "--batch-size", "16"];
    two_ranks_match_one_process_on(&dir, &folder.to_string_lossy(), "bars-images", 1, &args);
}

/// lenet5-modern (momentum 0.9, cosine schedule), 2 epochs of 100 steps of 64 rows, at η = 0.01:
/// at its default η = 0.05 the first steps are chaotic enough that the ranks' different order of
/// summation (~1e-7) grew to a 0.3% difference in the first epoch's loss (with K = 1 the run is
/// bit for bit the single process's; at η = 0.01 all printed digits agree).
#[cfg(feature = "mpi")]
#[test]
fn lenet5_modern_on_two_ranks_trains_as_one_process() {
    two_ranks_match_one_process(
        "mpi-lenet",
        &["--model", "lenet5-modern", "--limit-train", "6400", "--epochs", "2", "--lr", "0.01"],
    );
}

/// The same seed and number of ranks give the same weights, bit for bit.
#[cfg(feature = "mpi")]
#[test]
fn two_runs_on_two_ranks_give_the_same_weights() {
    let dir = Scratch::new("mpi-determinism");
    let data = mnist();
    for name in ["a", "b"] {
        let args =
            ["train", "--data", &data, "--hidden", "32", "--limit-train", "2000", "--epochs", "2", "--name", name];
        let out = mpirun(2, &args, &dir.0).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let weights = |name: &str| std::fs::read(dir.0.join("runs").join(name).join("model.safetensors")).unwrap();
    assert!(weights("a") == weights("b"), "two 2-rank runs with seed 1 gave different weights");
}

/// Ranks started with different settings stop before training, naming the rank that differs.
#[cfg(feature = "mpi")]
#[test]
fn ranks_with_different_settings_stop_at_start() {
    let dir = Scratch::new("mpi-mismatch");
    let data = mnist();
    let args = ["train", "--data", &data, "--hidden", "16", "--limit-train", "500", "--epochs", "1"];
    let bin = env!("CARGO_BIN_EXE_nabla");
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "1", bin])
        .args(args)
        .args(["--seed", "1", ":", "-np", "1", bin])
        .args(args)
        .args(["--seed", "2"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert_clean_failure(&out, &["error: rank", "settings", "of rank(s) [1] differ from rank 0's"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("epoch"), "a mismatched job trained");
}

/// The pid of the process whose environment holds `marker` and is MPI rank `rank`, if any yet.
#[cfg(feature = "mpi")]
fn rank_pid(marker: &str, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let env = std::fs::read(entry.path().join("environ")).ok()?;
        let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
        let has = |v: &str| vars.contains(&v.as_bytes());
        (has(marker) && has(&want)).then_some(pid)
    })
}

/// kill -9 of rank 1 in the middle of an epoch ends the job with an error naming rank 1; the run
/// folder holds whole checkpoints only, and one process resumes it (another number of ranks).
#[cfg(feature = "mpi")]
#[test]
fn a_rank_killed_mid_epoch_ends_the_job_and_one_process_resumes_it() {
    use std::io::{BufRead, BufReader};
    let dir = Scratch::new("mpi-kill");
    let data = mnist();
    // a variable that marks this job's ranks, to find rank 1's pid in /proc
    let marker = format!("NABLA_TEST_JOB={}", std::process::id());
    let args = ["train", "--data", &data, "--hidden", "256", "--limit-train", "12000", "--epochs", "1000"];
    let mut child = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "NABLA_TEST_JOB"])
        .arg(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(&dir.0)
        .env("NABLA_TEST_JOB", std::process::id().to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // kept open to the end: a closed stdout would end rank 0 (and the job) by itself
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // the first epoch has ended (a checkpoint is on disk); the second is under way
    let first = lines.next().expect("an epoch line").unwrap();
    assert!(first.starts_with("epoch"), "{first}");
    let pid = rank_pid(&marker, 1).expect("rank 1 runs");
    std::thread::sleep(std::time::Duration::from_millis(100));
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed().as_secs() < 60, "the job took {:?} to end", started.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("rank 1") && stderr.contains("signal 9"), "{stderr}");
    drop(lines);
    let run = dir.0.join("runs/train");
    let done = nabla::report::read_metrics(&run.join("metrics.csv")).unwrap().len();
    assert!(done >= 1, "no epoch was recorded");
    let epochs = (done + 1).to_string();
    nabla_ok(&["train", "--resume", run.to_str().unwrap(), "--epochs", &epochs], &dir.0);
    assert_eq!(figures(&run).len(), done + 1);
}
