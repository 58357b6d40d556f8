//! The run folder of one training run: its configuration, its metrics after every epoch and its
//! loss plot.

use crate::io::atomic_write;
use crate::report::metrics::write_metrics;
use crate::report::plot::{loss_series, plot_losses};
use crate::train::EpochReport;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The configuration of the run, as JSON.
pub const CONFIG_FILE: &str = "config.json";
/// One row of figures per epoch, see [`crate::report::metrics_csv`].
pub const METRICS_FILE: &str = "metrics.csv";
/// Train, validation and test loss per epoch, drawn by [`plot_losses`].
pub const LOSS_PLOT_FILE: &str = "loss.png";

/// `loss.png` is redrawn at most this often during a run (and always at its end): drawing and
/// compressing it costs ~10 ms, which was 60% of the wall time of 500 epochs of a 120-row table.
pub const PLOT_INTERVAL: Duration = Duration::from_secs(3);

/// The most numbered folders [`claim_run_dir`] tries (`name`, `name-2`, …, `name-10000`).
const MAX_RUN_DIRS: usize = 10_000;

/// Creates a new run folder under `root` (created if missing) and returns it: `root/name` if
/// nothing is there yet, else the first of `root/name-2`, `root/name-3`, … that is free, so that a
/// new run never writes into an old run's folder. Each folder is made with one `create_dir`, which
/// fails if anything is already there: two runs started at once never get the same folder. `name`
/// must be one folder name (no `/`, `\`, `.` or `..`), so that the folder stays under `root`; a
/// `root` that cannot be written is an error here, before any training.
pub fn claim_run_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let one_folder = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if !one_folder {
        return Err(Error::config(format!(
            "run name '{name}': expected one folder name, without '/', '\\' or '..' (--runs chooses where run \
             folders go)"
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    for k in 1..=MAX_RUN_DIRS {
        let path = if k == 1 { root.join(name) } else { root.join(format!("{name}-{k}")) };
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::config(format!("{}: {MAX_RUN_DIRS} run folders named {name}-k are taken", root.display())))
}

/// The record a training run keeps in its folder: `config.json` once at the start, then
/// `metrics.csv` rewritten (atomically) after every epoch and `loss.png` at most every
/// [`PLOT_INTERVAL`] and after the last epoch.
#[derive(Debug)]
pub struct RunRecord {
    dir: PathBuf,
    rows: Vec<EpochReport>,
    /// When `loss.png` was last drawn (`None`: not yet).
    plotted: Option<Instant>,
}

impl RunRecord {
    /// Starts the record of a new run in `dir` (created if missing) and writes `config` there as
    /// `config.json`. It holds no epochs yet; a `metrics.csv` already in `dir` is replaced at the
    /// first [`RunRecord::push`].
    pub fn create(dir: &Path, config: &impl serde::Serialize) -> Result<Self> {
        let path = dir.join(CONFIG_FILE);
        let mut json = serde_json::to_vec_pretty(config)
            .map_err(|e| Error::config(format!("{}: cannot write the configuration as JSON: {e}", path.display())))?;
        json.push(b'\n');
        atomic_write(&path, &json)?;
        Ok(RunRecord { dir: dir.to_path_buf(), rows: Vec::new(), plotted: None })
    }

    /// Continues the record of the run in `dir` (to resume training) from `rows`, the epochs of
    /// the checkpoint it resumes from: the checkpoint, not `metrics.csv` (which a kill may have
    /// left an epoch behind), says which epochs happened.
    pub fn resume(dir: &Path, rows: Vec<EpochReport>) -> Self {
        RunRecord { dir: dir.to_path_buf(), rows, plotted: None }
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The epochs recorded so far, in order.
    pub fn rows(&self) -> &[EpochReport] {
        &self.rows
    }

    /// Records one epoch and rewrites `metrics.csv`, and `loss.png` when it was last drawn
    /// [`PLOT_INTERVAL`] ago or more (or never). Rows of this epoch and later ones are dropped
    /// first, so that a run resumed from an earlier checkpoint overwrites the epochs after it.
    pub fn push(&mut self, row: EpochReport) -> Result<()> {
        self.rows.retain(|r| r.epoch < row.epoch);
        self.rows.push(row);
        write_metrics(&self.dir.join(METRICS_FILE), &self.rows)?;
        if self.plotted.is_none_or(|t| t.elapsed() >= PLOT_INTERVAL) { self.plot() } else { Ok(()) }
    }

    /// Records the last epoch as [`RunRecord::push`] does, and draws `loss.png` whenever it was
    /// last drawn.
    pub fn push_last(&mut self, row: EpochReport) -> Result<()> {
        self.plotted = None;
        self.push(row)
    }

    /// Draws `loss.png` from the epochs recorded so far.
    fn plot(&mut self) -> Result<()> {
        self.plotted = Some(Instant::now());
        let name = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        plot_losses(&self.dir.join(LOSS_PLOT_FILE), &format!("loss per epoch: {name}"), &loss_series(&self.rows, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::metrics::read_metrics;
    use crate::report::test_dir::TempDir;

    fn row(epoch: usize) -> EpochReport {
        EpochReport {
            epoch,
            lr: 0.5,
            train_loss: 2.0 / epoch as f32,
            penalty: 0.0,
            val_loss: None,
            val_accuracy: None,
            test_loss: Some(2.5 / epoch as f32),
            test_accuracy: Some(0.5),
            val_regression: None,
            test_regression: None,
            seconds: 0.25,
        }
    }

    #[test]
    fn claim_run_dir_picks_dash_2_then_dash_3_and_stays_under_the_root() {
        let root = TempDir::new("claim-run-dir");
        assert_eq!(claim_run_dir(root.path(), "mlp").unwrap(), root.path().join("mlp"));
        assert_eq!(claim_run_dir(root.path(), "mlp").unwrap(), root.path().join("mlp-2"));
        std::fs::write(root.path().join("mlp-3"), b"a file").unwrap();
        assert_eq!(claim_run_dir(root.path(), "mlp").unwrap(), root.path().join("mlp-4"));
        for bad in ["../../escape", "a/b", "..", ".", "", "a\\b"] {
            let err = claim_run_dir(root.path(), bad).unwrap_err().to_string();
            assert!(err.contains("one folder name"), "{bad}: {err}");
        }
        // a root under a file cannot be made: an error naming it
        let err = claim_run_dir(&root.path().join("mlp-3").join("runs"), "x").unwrap_err().to_string();
        assert!(err.contains("mlp-3"), "{err}");
    }

    /// Threads claiming the same name at once each get their own folder.
    #[test]
    fn concurrent_claims_never_share_a_folder() {
        let root = TempDir::new("claim-race");
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| claim_run_dir(root.path(), "r").unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{dirs:?}");
    }

    #[test]
    fn run_record_writes_config_metrics_and_plot_and_resumes() {
        let root = TempDir::new("run-record");
        let dir = claim_run_dir(root.path(), "run").unwrap();
        let mut record = RunRecord::create(&dir, &serde_json::json!({ "lr": 0.5, "epochs": 3 })).unwrap();
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config["epochs"], 3);
        for epoch in 1..=3 {
            record.push(row(epoch)).unwrap();
        }
        assert_eq!(read_metrics(&dir.join(METRICS_FILE)).unwrap(), record.rows());
        assert!(std::fs::read(dir.join(LOSS_PLOT_FILE)).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

        // resuming from the checkpoint of epoch 1 overwrites epochs 2 and 3
        let mut resumed = RunRecord::resume(&dir, read_metrics(&dir.join(METRICS_FILE)).unwrap());
        assert_eq!(resumed.rows().len(), 3);
        resumed.push(EpochReport { lr: 0.1, ..row(2) }).unwrap();
        let rows = read_metrics(&dir.join(METRICS_FILE)).unwrap();
        assert_eq!(rows.iter().map(|r| (r.epoch, r.lr)).collect::<Vec<_>>(), [(1, 0.5), (2, 0.1)]);
    }
}
