//! The run folder of one training run: its configuration, its metrics after every epoch and its
//! loss plot.

use crate::io::atomic_write;
use crate::report::metrics::{read_metrics, write_metrics};
use crate::report::plot::{loss_series, plot_losses};
use crate::train::EpochReport;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The configuration of the run, as JSON.
pub const CONFIG_FILE: &str = "config.json";
/// One row of figures per epoch, see [`crate::report::metrics_csv`].
pub const METRICS_FILE: &str = "metrics.csv";
/// Train, validation and test loss per epoch, drawn by [`plot_losses`].
pub const LOSS_PLOT_FILE: &str = "loss.png";

/// `root/name` if nothing is there yet, else the first of `root/name-2`, `root/name-3`, … that is
/// free, so that a new run never writes into an old run's folder. Creates nothing.
pub fn unique_run_dir(root: &Path, name: &str) -> PathBuf {
    let free = |path: &PathBuf| std::fs::symlink_metadata(path).is_err();
    let first = root.join(name);
    if free(&first) {
        return first;
    }
    (2..).map(|k| root.join(format!("{name}-{k}"))).find(free).expect("some numbered folder is free")
}

/// The record a training run keeps in its folder: `config.json` once at the start, then
/// `metrics.csv` and `loss.png` rewritten (atomically) after every epoch.
#[derive(Debug)]
pub struct RunRecord {
    dir: PathBuf,
    rows: Vec<EpochReport>,
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
        Ok(RunRecord { dir: dir.to_path_buf(), rows: Vec::new() })
    }

    /// Continues the record of the run in `dir` (to resume training): reads its `metrics.csv`, or
    /// starts with no epochs when the run wrote none yet.
    pub fn resume(dir: &Path) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        let rows = if path.exists() { read_metrics(&path)? } else { Vec::new() };
        Ok(RunRecord { dir: dir.to_path_buf(), rows })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The epochs recorded so far, in order.
    pub fn rows(&self) -> &[EpochReport] {
        &self.rows
    }

    /// Records one epoch and rewrites `metrics.csv` and `loss.png`. Rows of this epoch and later
    /// ones are dropped first, so that a run resumed from an earlier checkpoint overwrites the
    /// epochs after it.
    pub fn push(&mut self, row: EpochReport) -> Result<()> {
        self.rows.retain(|r| r.epoch < row.epoch);
        self.rows.push(row);
        write_metrics(&self.dir.join(METRICS_FILE), &self.rows)?;
        let name = self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        plot_losses(&self.dir.join(LOSS_PLOT_FILE), &format!("loss per epoch: {name}"), &loss_series(&self.rows, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            seconds: 0.25,
        }
    }

    #[test]
    fn unique_run_dir_picks_dash_2_then_dash_3() {
        let root = TempDir::new("unique-run-dir");
        assert_eq!(unique_run_dir(root.path(), "mlp"), root.path().join("mlp"));
        std::fs::create_dir(root.path().join("mlp")).unwrap();
        assert_eq!(unique_run_dir(root.path(), "mlp"), root.path().join("mlp-2"));
        std::fs::create_dir(root.path().join("mlp-2")).unwrap();
        assert_eq!(unique_run_dir(root.path(), "mlp"), root.path().join("mlp-3"));
    }

    #[test]
    fn run_record_writes_config_metrics_and_plot_and_resumes() {
        let root = TempDir::new("run-record");
        let dir = unique_run_dir(root.path(), "run");
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
        let mut resumed = RunRecord::resume(&dir).unwrap();
        assert_eq!(resumed.rows().len(), 3);
        resumed.push(EpochReport { lr: 0.1, ..row(2) }).unwrap();
        let rows = read_metrics(&dir.join(METRICS_FILE)).unwrap();
        assert_eq!(rows.iter().map(|r| (r.epoch, r.lr)).collect::<Vec<_>>(), [(1, 0.5), (2, 0.1)]);
    }
}
