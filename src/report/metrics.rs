//! `metrics.csv`: one row of figures per epoch, written whole after every epoch and read back for
//! resuming and comparing runs. A row is the trainer's [`EpochReport`] less its regularization
//! penalty, which the file does not record: rows read back carry a penalty of 0.

use crate::io::atomic_write;
use crate::train::EpochReport;
use crate::{Error, Result};
use std::path::Path;
use std::str::FromStr;

/// The header line of `metrics.csv`, without its newline.
pub const METRICS_HEADER: &str = "epoch,lr,train_loss,val_loss,val_accuracy,test_loss,test_accuracy,seconds";

/// The text of `metrics.csv` for `rows`: the header, then one line per row. Numbers are written in
/// their shortest form that reads back to the same value; an absent value is an empty cell.
pub fn metrics_csv(rows: &[EpochReport]) -> String {
    fn cell(value: Option<f32>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }
    let mut text = format!("{METRICS_HEADER}\n");
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.lr,
            r.train_loss,
            cell(r.val_loss),
            cell(r.val_accuracy),
            cell(r.test_loss),
            cell(r.test_accuracy),
            r.seconds
        ));
    }
    text
}

/// Writes `rows` to `path` as `metrics.csv`, atomically (temporary file and rename).
pub fn write_metrics(path: &Path, rows: &[EpochReport]) -> Result<()> {
    atomic_write(path, metrics_csv(rows).as_bytes())
}

/// Reads a `metrics.csv` written by [`write_metrics`]. Errors name the file and the line (and the
/// column, for a cell that is not a number).
pub fn read_metrics(path: &Path) -> Result<Vec<EpochReport>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == METRICS_HEADER => {}
        Some((_, header)) => {
            return Err(Error::format(
                path,
                "line 1",
                format!("header is `{}`, expected `{METRICS_HEADER}`", header.trim()),
            ));
        }
        None => {
            return Err(Error::format(path, "line 1", format!("empty file, expected the header `{METRICS_HEADER}`")));
        }
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {}", index + 1);
        rows.push(parse_row(line).map_err(|message| Error::format(path, place, message))?);
    }
    Ok(rows)
}

/// One data line of `metrics.csv`, or what is wrong with it.
fn parse_row(line: &str) -> std::result::Result<EpochReport, String> {
    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
    let columns: Vec<&str> = METRICS_HEADER.split(',').collect();
    if cells.len() != columns.len() {
        return Err(format!("{} cells, expected {} ({METRICS_HEADER})", cells.len(), columns.len()));
    }
    let optional = |i: usize| parse_optional::<f32>(cells[i], columns[i]);
    let required =
        |i: usize| optional(i)?.ok_or_else(|| format!("column `{}` is empty, expected a number", columns[i]));
    Ok(EpochReport {
        epoch: parse_optional::<usize>(cells[0], columns[0])?
            .ok_or_else(|| "column `epoch` is empty, expected a whole number".to_string())?,
        lr: required(1)?,
        train_loss: required(2)?,
        penalty: 0.0,
        val_loss: optional(3)?,
        val_accuracy: optional(4)?,
        test_loss: optional(5)?,
        test_accuracy: optional(6)?,
        val_regression: None,
        test_regression: None,
        seconds: parse_optional::<f64>(cells[7], columns[7])?
            .ok_or_else(|| "column `seconds` is empty, expected a number".to_string())?,
    })
}

/// A cell: `None` when empty, else the number in it.
fn parse_optional<T: FromStr>(cell: &str, column: &str) -> std::result::Result<Option<T>, String> {
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse().map(Some).map_err(|_| format!("column `{column}`: `{cell}` is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_dir::TempDir;

    fn row(epoch: usize, with_eval: bool) -> EpochReport {
        EpochReport {
            epoch,
            lr: 0.1,
            train_loss: 1.0 / (epoch as f32 + 0.3),
            penalty: 0.0,
            val_loss: with_eval.then_some(0.123_456_79),
            val_accuracy: with_eval.then_some(0.875),
            test_loss: with_eval.then_some(2.5e-7),
            test_accuracy: None,
            val_regression: None,
            test_regression: None,
            seconds: 1.0 / 3.0,
        }
    }

    #[test]
    fn metrics_round_trip_with_and_without_optional_values() {
        let dir = TempDir::new("metrics-round-trip");
        let path = dir.path().join("metrics.csv");
        let rows = vec![row(1, true), row(2, false), row(3, true)];
        write_metrics(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{METRICS_HEADER}\n")));
        assert!(text.contains("\n2,0.1,"), "{text}");
        assert!(text.lines().nth(2).unwrap().contains(",,,,,"), "absent values are empty cells: {text}");
        assert_eq!(read_metrics(&path).unwrap(), rows);
    }

    #[test]
    fn corrupted_metrics_name_file_and_line() {
        let dir = TempDir::new("metrics-corrupt");
        let path = dir.path().join("metrics.csv");
        let mut text = metrics_csv(&[row(1, true), row(2, true)]);
        text.push_str("3,0.1,zero,,,,,1.5\n");
        std::fs::write(&path, text).unwrap();
        let message = read_metrics(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("line 4"), "{message}");
        assert!(message.contains("train_loss") && message.contains("zero"), "{message}");

        std::fs::write(&path, format!("{METRICS_HEADER}\n1,0.1,0.5\n")).unwrap();
        let message = read_metrics(&path).unwrap_err().to_string();
        assert!(message.contains("line 2") && message.contains("3 cells"), "{message}");

        std::fs::write(&path, "epoch,loss\n").unwrap();
        let message = read_metrics(&path).unwrap_err().to_string();
        assert!(message.contains("line 1") && message.contains("header"), "{message}");
    }
}
