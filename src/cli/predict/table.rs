//! `nabla predict --data rows.csv`: one prediction per row of a table, for a model trained on a
//! CSV file. The rows are read as the model's stored schema says (columns by name, in any order,
//! the target column optional; categories and imputation as in training) and the predictions are
//! written as CSV: the predicted class and each class's probability (`prob_<class>`), or the
//! predicted value in the target's own units.

use super::PredictArgs;
use crate::cli::shared::device::Runner;
use crate::cli::shared::print::{errln, outln};
use crate::cli::shared::source::{self, Normalization, checkpoint_schema, outlier_error};
use nabla::data::Task;
use nabla::data::table::TableSchema;
use nabla::io::{atomic_write, check_writable, load_checkpoint_limited};
use nabla::tensor::Tensor;
use nabla::train::mc_predict;
use nabla::{Error, Result};
use std::fmt::Write;
use std::path::Path;

/// Rows predicted at a time: the activations of a batch, not of the whole file.
const BATCH: usize = 1024;

/// Predicts every row of the CSV file `data` and writes the predictions to --out (else stdout).
pub fn run(args: &PredictArgs, data: &Path) -> Result<()> {
    if let Some(out) = &args.out {
        check_writable(out).map_err(|e| Error::config(format!("--out: {e}")))?;
    }
    let (mut model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    let norm = Normalization::from_checkpoint(&args.weights, &meta, model.spec().input_size())?;
    let mut runner = Runner::open(&args.device, &model, args.mc_samples.map(|_| "MC dropout (--mc-samples)"))?;
    let schema = checkpoint_schema(&args.weights, &meta, &model)?.ok_or_else(|| {
        Error::config(format!(
            "{}: the model was not trained on a table (its checkpoint has no column names); --data reads rows of a \
             CSV file for a model trained on one",
            args.weights.display()
        ))
    })?;
    let table = source::read_for_model(data, &schema)?;
    let (rows, width) = (table.rows, table.width());
    let mut x = Tensor::from_vec(table.inputs, &[rows, width]);
    norm.apply_inputs(&mut x).map_err(|outlier| outlier_error(data, &schema, outlier))?;
    let mut text = header(&schema);
    for start in (0..rows).step_by(BATCH) {
        let batch: Vec<usize> = (start..(start + BATCH).min(rows)).collect();
        let x = x.gather_rows(&batch);
        let y = match args.mc_samples {
            Some(k) => mc_predict(&mut model, &x, k, args.seed).mean,
            None => runner.predict(&mut model, &x),
        };
        write_rows(&mut text, &schema, &y);
    }
    match &args.out {
        Some(out) => {
            atomic_write(out, text.as_bytes())?;
            errln!("wrote {rows} predictions to {}", out.display());
            if args.json {
                outln!("{}", serde_json::json!({ "rows": rows, "out": out }));
            }
        }
        None => outln!("{}", text.trim_end()),
    }
    Ok(())
}

/// The header line: `predicted_<target>`, then `prob_<class>` for each class.
fn header(schema: &TableSchema) -> String {
    let mut line = format!("predicted_{}", schema.target);
    if schema.task == Task::Classification {
        for class in &schema.classes {
            line += &format!(",prob_{class}");
        }
    }
    line + "\n"
}

/// One line per row of the model's answers `y` (rows × outputs): the class with the highest
/// probability and the probabilities, or the value mapped back to the target's units.
fn write_rows(text: &mut String, schema: &TableSchema, y: &Tensor) {
    let k = y.shape()[1];
    for row in y.data().chunks_exact(k) {
        match schema.task {
            Task::Classification => {
                let best = (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0);
                text.push_str(&schema.classes[best]);
                for p in row {
                    let _ = write!(text, ",{p:.6}");
                }
            }
            Task::Regression => {
                let scale = schema.target_scale.map_or((0.0, 1.0), |s| (s.mean, s.std));
                let value = scale.0 + scale.1 * row[0];
                let _ = write!(text, "{value}");
            }
        }
        text.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nabla::data::table::TargetScale;

    fn schema(task: Task) -> TableSchema {
        TableSchema {
            named: true,
            columns: vec!["x".into(), "y".into()],
            target: "y".into(),
            task,
            classes: if task == Task::Classification { vec!["no".into(), "yes".into()] } else { Vec::new() },
            categories: Vec::new(),
            impute: None,
            target_scale: (task == Task::Regression).then_some(TargetScale { mean: 10.0, std: 2.0 }),
        }
    }

    #[test]
    fn classes_get_names_and_probabilities() {
        let s = schema(Task::Classification);
        let mut text = header(&s);
        write_rows(&mut text, &s, &Tensor::from_vec(vec![0.25, 0.75, 0.9, 0.1], &[2, 2]));
        assert_eq!(text, "predicted_y,prob_no,prob_yes\nyes,0.250000,0.750000\nno,0.900000,0.100000\n");
    }

    #[test]
    fn regression_values_come_back_in_the_targets_units() {
        let s = schema(Task::Regression);
        let mut text = header(&s);
        write_rows(&mut text, &s, &Tensor::from_vec(vec![0.0, -1.5], &[2, 1]));
        assert_eq!(text, "predicted_y\n10\n7\n");
    }
}
