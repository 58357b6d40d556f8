//! Tables of one's own: a CSV file read as a stream (see `csv.rs`), its class names, categorical
//! inputs and missing values encoded, and the [`TableSchema`] that records how, so that a model's
//! checkpoint can read its evaluation and prediction files exactly as training read its own.
//!
//! Training reads a file with [`read_table`], cuts it with [`Table::split`] (in place: a large
//! table is never held twice), learns the statistics that depend on data from the training part
//! only ([`Table::fit`]: imputation values, the regression target's mean and standard deviation)
//! and applies them to the other parts ([`Table::apply`]). Evaluation and prediction read files
//! with [`read_with_schema`]: the columns are matched by name (any order), the classes and
//! categories by the stored vocabularies, and the file may omit the target.

use super::Dataset;
use super::csv::{
    CsvOptions, Header, MAX_CLASSES, Plan, RawTable, Role, TargetColumn, TargetValues, Task, Vocabulary, number,
    read_csv,
};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Rows × classes of the one-hot targets at most (1 GiB of f32): a large file with one stray big
/// numeric label could otherwise ask for tens of gigabytes.
const MAX_ONE_HOT: usize = 1 << 28;

/// How to fill missing numeric inputs (`--impute`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// The column's mean over the training rows.
    Mean,
    /// The column's median over the training rows (robust to outliers).
    Median,
}

impl Impute {
    /// Parses `mean` or `median`.
    pub fn parse(text: &str) -> Result<Impute> {
        match text {
            "mean" => Ok(Impute::Mean),
            "median" => Ok(Impute::Median),
            other => Err(Error::config(format!("--impute {other}: expected mean or median"))),
        }
    }
}

/// How to read a table for training: the CSV options, the categorical input columns and the
/// imputation of missing values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Target column, task and header.
    pub csv: CsvOptions,
    /// Input columns of names (categories), one-hot encoded.
    pub categorical: Vec<String>,
    /// Fill missing numeric inputs; `None` makes them an error.
    pub impute: Option<Impute>,
}

impl TableOptions {
    /// Numbers only, no imputation.
    pub fn new(csv: CsvOptions) -> TableOptions {
        TableOptions { csv, categorical: Vec::new(), impute: None }
    }
}

/// A categorical input column and its categories (sorted), one input each (one-hot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// The column's name.
    pub column: String,
    /// The categories, in the order of their inputs.
    pub values: Vec<String>,
}

/// Missing inputs are filled with one value per (encoded) input column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imputation {
    /// Mean or median.
    pub method: Impute,
    /// One value per encoded input (empty until [`Table::fit`]).
    pub values: Vec<f32>,
}

/// A regression target is learnt as (y − mean)/std; predictions are mapped back.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// The training targets' mean.
    pub mean: f32,
    /// Their (population) standard deviation, 1 for a constant target.
    pub std: f32,
}

/// How a model reads a table: its columns, target, classes, categories and the statistics
/// learnt from the training rows. Stored in checkpoints as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Whether the training file had a header; without one, columns are named by their 0-based
    /// index and matched by position.
    pub named: bool,
    /// Every column of the training file, in order.
    pub columns: Vec<String>,
    /// The target column's name.
    pub target: String,
    /// Classification or regression.
    pub task: Task,
    /// The class names, in the order of the model's outputs (classification).
    pub classes: Vec<String>,
    /// The categorical input columns, in file order.
    pub categories: Vec<Category>,
    /// How missing inputs are filled, if they may be.
    pub impute: Option<Imputation>,
    /// The regression target's standardisation.
    pub target_scale: Option<TargetScale>,
}

/// What one encoded input column block is made of.
enum Slot {
    /// A numeric input from this slot of the parsed row.
    Number(usize),
    /// A categorical column (index into `categories`) spread over its one-hot inputs.
    OneHot(usize),
}

impl TableSchema {
    /// The input columns (all but the target), in file order.
    pub fn input_columns(&self) -> impl Iterator<Item = &String> {
        self.columns.iter().filter(move |c| **c != self.target)
    }

    /// The encoded input blocks in order: a numeric column, or a categorical one's one-hot inputs.
    fn layout(&self) -> Vec<Slot> {
        let mut numbers = 0;
        self.input_columns()
            .map(|c| match self.categories.iter().position(|k| k.column == *c) {
                Some(k) => Slot::OneHot(k),
                None => {
                    numbers += 1;
                    Slot::Number(numbers - 1)
                }
            })
            .collect()
    }

    /// The names of the encoded inputs: `column 'x'`, or `column 'colour' = 'red'` for a
    /// category's input (`column 3` without a header).
    pub fn input_names(&self) -> Vec<String> {
        let name = |c: &str| if self.named { format!("column '{c}'") } else { format!("column {c}") };
        let mut names = Vec::new();
        for column in self.input_columns() {
            match self.categories.iter().find(|k| k.column == *column) {
                Some(k) => names.extend(k.values.iter().map(|v| format!("{} = '{v}'", name(column)))),
                None => names.push(name(column)),
            }
        }
        names
    }

    /// The number of encoded inputs (the model's input width).
    pub fn inputs(&self) -> usize {
        self.layout()
            .iter()
            .map(|s| match s {
                Slot::Number(_) => 1,
                Slot::OneHot(k) => self.categories[*k].values.len(),
            })
            .sum()
    }

    /// The number of targets (the model's output width).
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Classification => self.classes.len(),
            Task::Regression => 1,
        }
    }
}

/// A table encoded for a model: N × D inputs (NaN where a value is missing and not yet imputed),
/// N × K targets when the file had them, and the schema.
#[derive(Clone, Debug)]
pub struct Table {
    /// Rows.
    pub rows: usize,
    /// rows × D, row-major.
    pub inputs: Vec<f32>,
    /// rows × K: one-hot rows, or standardised regression targets (after [`Table::fit`] or
    /// [`Table::apply`]); `None` for a file without the target.
    pub targets: Option<Vec<f32>>,
    /// The class of each row (classification with targets).
    pub labels: Option<Vec<usize>>,
    /// How it was read.
    pub schema: TableSchema,
}

/// Reads a training table: the target column by `options.csv.target`, every other column an
/// input; class names numbered in sorted order (integer classes keep their numbers); categorical
/// columns one-hot encoded in sorted order; a missing input is an error unless `options.impute`
/// (then NaN until [`Table::fit`]). `progress(bytes read, file length)` follows the reading.
pub fn read_table(path: &Path, options: &TableOptions, progress: &mut dyn FnMut(u64, u64)) -> Result<Table> {
    let csv = &options.csv;
    let by_name = matches!(csv.target, TargetColumn::Name(_));
    let mut target = 0;
    let plan = |header: &Header| {
        if header.names.len() < 2 {
            return Err(Error::format(
                path,
                format!("line {}", header.line),
                "one column; expected inputs and a target",
            ));
        }
        target = header.target_index(path, &csv.target)?;
        for name in &options.categorical {
            if !header.names.contains(name) || header.names[target] == *name {
                let message = format!(
                    "--categorical {name}: no input column of that name; the columns are {}",
                    header.names.join(", ")
                );
                return Err(Error::format(path, "header", message));
            }
        }
        let (mut numbers, mut categories) = (0, 0);
        let roles = (0..header.names.len())
            .map(|j| {
                if j == target {
                    Role::Target
                } else if options.categorical.contains(&header.names[j]) {
                    categories += 1;
                    Role::Category(categories - 1)
                } else {
                    numbers += 1;
                    Role::Number(numbers - 1)
                }
            })
            .collect();
        Ok(Plan { roles, numbers, categories, target: Some(csv.task) })
    };
    let raw = read_csv(path, csv.header, by_name, plan, progress)?;
    if options.impute.is_none() {
        refuse_missing(path, &raw)?;
    }
    let column = raw.header.column(target);
    let (classes, class_of) = match &raw.target {
        TargetValues::Texts(vocabulary) => class_names(path, &column, vocabulary, raw.rows)?,
        _ => (Vec::new(), Vec::new()),
    };
    let mut categories = Vec::new();
    let mut category_of = Vec::new();
    for (j, name) in raw.header.names.iter().enumerate() {
        if j == target || !options.categorical.contains(name) {
            continue;
        }
        let vocabulary = &raw.categories[categories.len()];
        let mut values: Vec<String> = vocabulary.values.iter().map(|(v, _)| v.clone()).collect();
        values.sort();
        category_of.push(vocabulary.values.iter().map(|(v, _)| values.binary_search(v).expect("sorted")).collect());
        categories.push(Category { column: name.clone(), values });
    }
    let schema = TableSchema {
        named: raw.header.named,
        columns: raw.header.names.clone(),
        target: raw.header.names[target].clone(),
        task: csv.task,
        classes,
        categories,
        impute: options.impute.map(|method| Imputation { method, values: Vec::new() }),
        target_scale: None,
    };
    encode(path, raw, schema, &class_of, &category_of)
}

/// Reads a file for a model of `schema` (evaluation, prediction, a test or validation file): its
/// columns matched to the model's by name (or by position without a header), classes and
/// categories by the stored names, missing values filled as stored; the target may be absent.
pub fn read_with_schema(path: &Path, schema: &TableSchema, progress: &mut dyn FnMut(u64, u64)) -> Result<Table> {
    let plan = |header: &Header| column_plan(path, schema, header);
    let raw = read_csv(path, Some(schema.named), false, plan, progress)?;
    if schema.impute.is_none() {
        refuse_missing(path, &raw)?;
    }
    let target = raw.header.names.iter().position(|n| *n == schema.target);
    let column = target.map(|j| raw.header.column(j)).unwrap_or_default();
    let unknown = |value: &str, line: usize, known: &[String], what: &str| {
        let message = format!(
            "{what} '{value}' was not in the training data; the model knows {}",
            known.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
        );
        Error::format(path, format!("line {line}, {column}"), message)
    };
    let mut class_of = Vec::new();
    if let TargetValues::Texts(vocabulary) = &raw.target {
        for (value, line) in &vocabulary.values {
            let canonical = canonical_class(value);
            match schema.classes.iter().position(|c| *c == canonical) {
                Some(k) => class_of.push(k),
                None => return Err(unknown(value, *line, &schema.classes, "class")),
            }
        }
    }
    let mut category_of = Vec::new();
    for (k, category) in schema.categories.iter().enumerate() {
        let j = raw.header.names.iter().position(|n| *n == category.column).expect("planned");
        let mut map = Vec::new();
        for (value, line) in &raw.categories[k].values {
            match category.values.binary_search(value) {
                Ok(i) => map.push(i),
                Err(_) => {
                    let message = format!(
                        "category '{value}' was not in the training data; the model knows {}",
                        category.values.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
                    );
                    return Err(Error::format(path, format!("line {line}, {}", raw.header.column(j)), message));
                }
            }
        }
        category_of.push(map);
    }
    let mut table = encode(path, raw, schema.clone(), &class_of, &category_of)?;
    table.apply(schema);
    Ok(table)
}

/// Each column's role for a model of `schema`, or an error listing how the file's columns differ
/// from the model's.
fn column_plan(path: &Path, schema: &TableSchema, header: &Header) -> Result<Plan> {
    let inputs: Vec<&String> = schema.input_columns().collect();
    let categories = schema.categories.len();
    let number_slot = |name: &str| {
        let numeric = inputs.iter().filter(|c| !schema.categories.iter().any(|k| k.column == ***c));
        numeric.clone().position(|c| *c == name)
    };
    let role = |name: &str| {
        if name == schema.target {
            Some(Role::Target)
        } else if let Some(k) = schema.categories.iter().position(|k| k.column == name) {
            Some(Role::Category(k))
        } else {
            number_slot(name).map(Role::Number)
        }
    };
    let numbers = inputs.len() - categories;
    if !schema.named {
        // matched by position: the training file's columns, or all of them but the target
        let with_target = header.names.len() == schema.columns.len();
        if !with_target && header.names.len() + 1 != schema.columns.len() {
            let message = format!(
                "{} columns; the model was trained on a file without a header of {} columns ({} inputs and the target \
                 in column {}): expected {} columns, or {} without the target",
                header.names.len(),
                schema.columns.len(),
                inputs.len(),
                schema.target,
                schema.columns.len(),
                inputs.len()
            );
            return Err(Error::format(path, format!("line {}", header.line), message));
        }
        let names: Vec<&String> = if with_target { schema.columns.iter().collect() } else { inputs.clone() };
        let roles = names.iter().map(|n| role(n).expect("a schema column")).collect();
        let target = with_target.then_some(schema.task);
        return Ok(Plan { roles, numbers, categories, target });
    }
    let extra: Vec<&String> = header.names.iter().filter(|n| role(n).is_none()).collect();
    let missing: Vec<&&String> = inputs.iter().filter(|c| !header.names.contains(c)).collect();
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&String> = header.names.iter().filter(|n| !seen.insert(*n)).collect();
    if !extra.is_empty() || !missing.is_empty() || !twice.is_empty() {
        let list = |names: Vec<&String>| names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("it lacks {}", list(missing.into_iter().copied().collect())));
        }
        if !extra.is_empty() {
            problems.push(format!("the model does not know {}", list(extra)));
        }
        if !twice.is_empty() {
            problems.push(format!("it repeats {}", list(twice)));
        }
        let message = format!(
            "the columns differ from the model's: {}; the model reads {} (target '{}', optional here)",
            problems.join("; "),
            list(inputs.clone()),
            schema.target
        );
        return Err(Error::format(path, "header", message));
    }
    let roles: Vec<Role> = header.names.iter().map(|n| role(n).expect("checked above")).collect();
    let target = roles.contains(&Role::Target).then_some(schema.task);
    Ok(Plan { roles, numbers, categories, target })
}

/// The error for the first missing input, with the ways forward.
fn refuse_missing(path: &Path, raw: &RawTable) -> Result<()> {
    let Some(m) = &raw.missing else { return Ok(()) };
    let message = format!(
        "missing value ('{}'); fill it in or drop the row, or pass --impute mean (or median) to fill each column's \
         gaps with its training rows' mean (median)",
        m.cell
    );
    Err(Error::format(path, format!("line {}, {}", m.line, m.column), message))
}

/// A class cell's canonical text: integers as integers (`1.0` is class `1`), names as written.
fn canonical_class(text: &str) -> String {
    match number(text) {
        Some(v) if v.fract() == 0.0 && v >= 0.0 => (v as u64).to_string(),
        _ => text.to_string(),
    }
}

/// The class names of a target column read as text, and the class of each vocabulary entry.
/// Numbers must be integers 0, 1, …, which keep their values (class k is output k); a column of
/// many distinct numbers is a quantity: the error suggests --regression. Otherwise the names are
/// numbered in sorted order.
fn class_names(path: &Path, column: &str, vocabulary: &Vocabulary, rows: usize) -> Result<(Vec<String>, Vec<usize>)> {
    let values: Option<Vec<f32>> = vocabulary.values.iter().map(|(v, _)| number(v)).collect();
    let Some(values) = values else {
        let mut names: Vec<String> = vocabulary.values.iter().map(|(v, _)| v.clone()).collect();
        names.sort();
        names.dedup();
        let of = vocabulary.values.iter().map(|(v, _)| names.binary_search(v).expect("sorted")).collect();
        return Ok((names, of));
    };
    let valid = |v: f32| v >= 0.0 && v.fract() == 0.0 && (v as usize) < MAX_CLASSES;
    if let Some(bad) = values.iter().position(|&v| !valid(v)) {
        let message = format!(
            "found {}, expected a class label: an integer 0–{} or a name (for a numeric target, pass --regression)",
            values[bad],
            MAX_CLASSES - 1
        );
        return Err(Error::format(path, format!("line {}, {column}", vocabulary.values[bad].1), message));
    }
    let labels: Vec<usize> = values.iter().map(|&v| v as usize).collect();
    let mut distinct = labels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // a quantity (a price, an age) rather than classes: many distinct values for the rows
    if distinct.len() > 20 && distinct.len() * 4 > rows {
        let message = format!(
            "{} distinct numbers in {rows} rows look like a quantity to predict, not classes; pass --regression (or \
             name the classes)",
            distinct.len()
        );
        return Err(Error::format(path, column.to_string(), message));
    }
    let (top, &max) = labels.iter().enumerate().max_by_key(|&(_, &k)| k).expect("at least one row");
    if rows.saturating_mul(max + 1) > MAX_ONE_HOT {
        let message = format!(
            "found class {max}: {} classes × {rows} rows is more one-hot targets than {MAX_ONE_HOT} (1 GiB); class \
             labels should number the classes 0, 1, 2, … (use regression for a numeric target)",
            max + 1,
        );
        return Err(Error::format(path, format!("line {}, {column}", vocabulary.values[top].1), message));
    }
    Ok(((0..=max).map(|k| k.to_string()).collect(), labels))
}

/// Builds the encoded inputs and targets of `raw` for `schema`: `class_of` maps the target
/// vocabulary to classes, `category_of[k]` categorical column k's vocabulary to its sorted values.
fn encode(
    path: &Path,
    raw: RawTable,
    schema: TableSchema,
    class_of: &[usize],
    category_of: &[Vec<usize>],
) -> Result<Table> {
    let rows = raw.rows;
    let layout = schema.layout();
    let numbers = raw.numbers.len() / rows;
    let inputs = if schema.categories.is_empty() {
        // the parsed numbers are the inputs already: no copy of a large table
        raw.numbers
    } else {
        let width = schema.inputs();
        let mut inputs = vec![0.0f32; rows * width];
        for (r, out) in inputs.chunks_exact_mut(width).enumerate() {
            let mut at = 0;
            for slot in &layout {
                match *slot {
                    Slot::Number(s) => {
                        out[at] = raw.numbers[r * numbers + s];
                        at += 1;
                    }
                    Slot::OneHot(k) => {
                        let code = raw.categories[k].codes[r] as usize;
                        out[at + category_of[k][code]] = 1.0;
                        at += schema.categories[k].values.len();
                    }
                }
            }
        }
        inputs
    };
    let (targets, labels) = match raw.target {
        TargetValues::Absent => (None, None),
        TargetValues::Numbers(values) => (Some(values), None),
        TargetValues::Texts(vocabulary) => {
            let classes = schema.classes.len();
            if rows.saturating_mul(classes) > MAX_ONE_HOT {
                let message = format!("{classes} classes × {rows} rows is more one-hot targets than {MAX_ONE_HOT}");
                return Err(Error::format(path, "target", message));
            }
            let labels: Vec<usize> = vocabulary.codes.iter().map(|&c| class_of[c as usize]).collect();
            let mut one_hot = vec![0.0; rows * classes];
            for (r, &k) in labels.iter().enumerate() {
                one_hot[r * classes + k] = 1.0;
            }
            (Some(one_hot), Some(labels))
        }
    };
    Ok(Table { rows, inputs, targets, labels, schema })
}

impl Table {
    /// The number of encoded inputs per row.
    pub fn width(&self) -> usize {
        self.inputs.len().checked_div(self.rows).unwrap_or_else(|| self.schema.inputs())
    }

    /// Shuffles the rows with the stream for `seed` and cuts them in two, the second part holding
    /// `fraction` of them (rounded), in the same order as [`Dataset::split`]. The first part is
    /// permuted in place and the second copied out, so the table is never held twice.
    ///
    /// Panics if `fraction` is outside [0, 1]; the CLI checks its flag first.
    #[track_caller]
    pub fn split(self, fraction: f32, seed: u64) -> (Table, Table) {
        assert!((0.0..=1.0).contains(&fraction), "Table::split: fraction {fraction} is outside [0, 1]");
        let n = self.rows;
        let mut order: Vec<usize> = (0..n).collect();
        Rng::seed(seed).shuffle(&mut order);
        let second = ((n as f64 * fraction as f64).round() as usize).min(n);
        let cut = n - second;
        let Table { mut inputs, mut targets, mut labels, schema, .. } = self;
        let d = inputs.len().checked_div(n).unwrap_or(0);
        let test_inputs = gather(&inputs, d, &order[cut..]);
        permute(&mut inputs, d, &order, cut);
        let test_targets = targets.as_mut().map(|t| {
            let k = t.len() / n.max(1);
            let test = gather(t, k, &order[cut..]);
            permute(t, k, &order, cut);
            test
        });
        let test_labels = labels.as_mut().map(|l| {
            let test: Vec<usize> = order[cut..].iter().map(|&r| l[r]).collect();
            *l = order[..cut].iter().map(|&r| l[r]).collect();
            test
        });
        let test = Table {
            rows: second,
            inputs: test_inputs,
            targets: test_targets,
            labels: test_labels,
            schema: schema.clone(),
        };
        (Table { rows: cut, inputs, targets, labels, schema }, test)
    }

    /// Learns the statistics of this (training) part into the schema and applies them: the
    /// imputation values (each input's mean or median over its present values) and the regression
    /// target's mean and standard deviation. An input column with no value at all cannot be
    /// imputed: an error names it.
    pub fn fit(&mut self, path: &Path) -> Result<()> {
        let d = self.width();
        let names = self.schema.input_names();
        if let Some(imputation) = &mut self.schema.impute {
            let mut values = Vec::with_capacity(d);
            for (j, name) in names.iter().enumerate() {
                let mut present: Vec<f32> =
                    self.inputs.iter().skip(j).step_by(d).copied().filter(|v| !v.is_nan()).collect();
                if present.is_empty() {
                    let message = "no value in the training rows: nothing to impute from; drop the column";
                    return Err(Error::format(path, name.clone(), message));
                }
                values.push(match imputation.method {
                    Impute::Mean => (present.iter().map(|&v| v as f64).sum::<f64>() / present.len() as f64) as f32,
                    Impute::Median => median(&mut present),
                });
            }
            imputation.values = values;
        }
        if self.schema.task == Task::Regression
            && let Some(targets) = &self.targets
        {
            let (mean, std) = column_stats(targets, 1);
            self.schema.target_scale = Some(TargetScale { mean: mean[0], std: std[0] });
        }
        let schema = self.schema.clone();
        self.apply(&schema);
        Ok(())
    }

    /// Applies a fitted schema's statistics to this part: fills missing inputs with its
    /// imputation values and standardises regression targets with its target scale.
    pub fn apply(&mut self, schema: &TableSchema) {
        self.schema = schema.clone();
        let d = self.width().max(1);
        if let Some(imputation) = &schema.impute {
            for row in self.inputs.chunks_exact_mut(d) {
                for (x, &fill) in row.iter_mut().zip(&imputation.values) {
                    if x.is_nan() {
                        *x = fill;
                    }
                }
            }
        }
        if let (Some(scale), Some(targets)) = (schema.target_scale, &mut self.targets) {
            for y in targets {
                *y = (*y - scale.mean) / scale.std;
            }
        }
    }

    /// The table as a [`Dataset`]; panics if it has no targets (a file to predict).
    #[track_caller]
    pub fn into_dataset(self) -> Dataset {
        let d = self.width();
        let targets = self.targets.expect("Table::into_dataset: the table has no targets");
        let k = targets.len().checked_div(self.rows).unwrap_or_else(|| self.schema.outputs());
        Dataset {
            inputs: Tensor::from_vec(self.inputs, &[self.rows, d]).into(),
            targets: Tensor::from_vec(targets, &[self.rows, k]),
            labels: self.labels,
            image_shape: None,
            lengths: None,
        }
    }
}

/// The rows `rows` of an n × d matrix, copied out.
fn gather(values: &[f32], d: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows.len() * d);
    for &r in rows {
        out.extend_from_slice(&values[r * d..(r + 1) * d]);
    }
    out
}

/// Reorders the rows of an n × d matrix in place so that row i becomes old row `order[i]`
/// (`order` a permutation of 0..n), then keeps the first `keep` rows. Follows each cycle of the
/// permutation with one row of scratch, so no second matrix is allocated.
fn permute(values: &mut Vec<f32>, d: usize, order: &[usize], keep: usize) {
    let mut done = vec![false; order.len()];
    let mut scratch = vec![0.0f32; d];
    for start in 0..order.len() {
        if done[start] || d == 0 {
            continue;
        }
        scratch.copy_from_slice(&values[start * d..(start + 1) * d]);
        let mut i = start;
        loop {
            done[i] = true;
            let from = order[i];
            if from == start {
                values[i * d..(i + 1) * d].copy_from_slice(&scratch);
                break;
            }
            values.copy_within(from * d..(from + 1) * d, i * d);
            i = from;
        }
    }
    values.truncate(keep * d);
}

/// The median of `values` (the mean of the middle two for an even count); reorders them.
fn median(values: &mut [f32]) -> f32 {
    values.sort_unstable_by(f32::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Each column's mean and (population) standard deviation of an n × d matrix, summed in f64 (a
/// column of 10⁶ values near 10⁴ would lose its variance in f32), in two passes (mean, then
/// squared deviations: no cancellation). A constant column gets std 1, so it maps to 0.
pub fn column_stats(values: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0f64; d];
    for row in values.chunks_exact(d.max(1)) {
        for (s, &x) in sum.iter_mut().zip(row) {
            *s += x as f64;
        }
    }
    let count = (values.len() / d.max(1)).max(1) as f64;
    let means: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let mut sum_sq = vec![0.0f64; d];
    for row in values.chunks_exact(d.max(1)) {
        for ((s, &x), m) in sum_sq.iter_mut().zip(row).zip(&means) {
            *s += (x as f64 - m).powi(2);
        }
    }
    let stds = sum_sq
        .iter()
        .map(|s| {
            let std = (s / count).sqrt() as f32;
            if std > 0.0 { std } else { 1.0 }
        })
        .collect();
    (means.iter().map(|&m| m as f32).collect(), stds)
}

/// The schema's checkpoint metadata key.
pub const SCHEMA_KEY: &str = "nabla.table";

impl TableSchema {
    /// The checkpoint metadata entry of this schema.
    pub fn checkpoint_meta(&self) -> HashMap<String, String> {
        let json = serde_json::to_string(self).expect("a schema always serializes");
        HashMap::from([(SCHEMA_KEY.to_string(), json)])
    }

    /// The schema stored in a checkpoint's metadata, if any (models trained on MNIST, or on a
    /// table before schemas were stored, have none); `path` names the checkpoint in errors.
    pub fn from_checkpoint(path: &Path, meta: &HashMap<String, String>) -> Result<Option<TableSchema>> {
        let Some(text) = meta.get(SCHEMA_KEY) else { return Ok(None) };
        let schema: TableSchema = serde_json::from_str(text)
            .map_err(|e| Error::format(path, format!("metadata '{SCHEMA_KEY}'"), e.to_string()))?;
        Ok(Some(schema))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Scratch, parse_target};

    fn options(target: &str, task: Task) -> TableOptions {
        TableOptions::new(CsvOptions { target: parse_target(target), task, header: None })
    }

    fn read(dir: &Scratch, name: &str, text: &str, options: &TableOptions) -> Result<Table> {
        read_table(&dir.write(name, text.as_bytes()), options, &mut |_, _| {})
    }

    fn error<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.expect_err("expected an error").to_string()
    }

    #[test]
    fn class_names_are_numbered_in_sorted_order_and_integers_keep_theirs() {
        let dir = Scratch::new("table_classes");
        let t = read(&dir, "n.csv", "x,y\n1,yes\n2,no\n3,yes\n", &options("y", Task::Classification)).unwrap();
        assert_eq!(t.schema.classes, ["no", "yes"]);
        assert_eq!(t.labels, Some(vec![1, 0, 1]));
        assert_eq!(t.targets.unwrap(), [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        // headerless, a class name in the first row: still data, not a header
        let t = read(&dir, "h.csv", "1,setosa\n2,virginica\n", &options("1", Task::Classification)).unwrap();
        assert_eq!((t.rows, t.schema.named), (2, false));
        let t = read(&dir, "i.csv", "x,y\n1,2\n2,0.0\n3,2\n", &options("y", Task::Classification)).unwrap();
        assert_eq!(t.schema.classes, ["0", "1", "2"]);
        assert_eq!(t.labels, Some(vec![2, 0, 2]));
    }

    #[test]
    fn a_quantity_read_as_classes_suggests_regression() {
        let dir = Scratch::new("table_quantity");
        let text: String = (0..40).map(|i| format!("{i},{}\n", 100 + 3 * i)).collect();
        let e = error(read(&dir, "q.csv", &format!("x,y\n{text}"), &options("y", Task::Classification)));
        assert!(e.contains("40 distinct numbers in 40 rows") && e.contains("--regression"), "{e}");
        let e = error(read(&dir, "f.csv", "x,y\n1,2.5\n", &options("y", Task::Classification)));
        assert!(e.contains("line 2, column 'y': found 2.5") && e.contains("--regression"), "{e}");
    }

    #[test]
    fn categorical_columns_are_one_hot_in_sorted_order() {
        let dir = Scratch::new("table_categorical");
        let mut opts = options("y", Task::Regression);
        opts.categorical = vec!["colour".into()];
        let t = read(&dir, "c.csv", "colour,x,y\nred,1,5\nblue,2,6\nred,3,7\n", &opts).unwrap();
        assert_eq!(
            t.schema.categories,
            [Category { column: "colour".into(), values: vec!["blue".into(), "red".into()] }]
        );
        assert_eq!(t.width(), 3);
        assert_eq!(t.inputs, [0.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 1.0, 3.0]);
        assert_eq!(t.schema.input_names(), ["column 'colour' = 'blue'", "column 'colour' = 'red'", "column 'x'"]);
        assert_eq!((t.schema.inputs(), t.schema.outputs()), (3, 1));
        opts.categorical = vec!["size".into()];
        assert!(error(read(&dir, "c.csv", "colour,x,y\nred,1,5\n", &opts)).contains("--categorical size"));
        // an unknown category at prediction time names its line and the known ones
        opts.categorical = vec!["colour".into()];
        let schema = read(&dir, "c.csv", "colour,x,y\nred,1,5\nblue,2,6\n", &opts).unwrap().schema;
        let path = dir.write("p.csv", b"x,colour\n1,red\n2,green\n");
        let e = error(read_with_schema(&path, &schema, &mut |_, _| {}));
        assert!(e.contains("line 3, column 'colour': category 'green'") && e.contains("'blue', 'red'"), "{e}");
    }

    #[test]
    fn missing_values_are_refused_or_imputed_from_the_training_part() {
        let dir = Scratch::new("table_missing");
        let text = "a,b,y\n1,10,0\nNA,20,1\n3,,0\n5,40,1\n";
        let e = error(read(&dir, "m.csv", text, &options("y", Task::Classification)));
        assert!(e.contains("line 3, column 'a': missing value ('NA')") && e.contains("--impute mean"), "{e}");
        let mut opts = options("y", Task::Classification);
        opts.impute = Some(Impute::Median);
        let mut t = read(&dir, "m.csv", text, &opts).unwrap();
        assert!(t.inputs[2].is_nan());
        t.fit(Path::new("m.csv")).unwrap();
        assert_eq!(t.schema.impute.as_ref().unwrap().values, [3.0, 20.0]);
        assert_eq!(t.inputs, [1.0, 10.0, 3.0, 20.0, 3.0, 20.0, 5.0, 40.0]);
        opts.impute = Some(Impute::Mean);
        let mut t = read(&dir, "m.csv", text, &opts).unwrap();
        t.fit(Path::new("m.csv")).unwrap();
        assert_eq!(t.schema.impute.as_ref().unwrap().values, [3.0, 70.0 / 3.0]);
        // the stored values fill another file's gaps
        let path = dir.write("p.csv", b"b,a\n,2\n");
        let p = read_with_schema(&path, &t.schema, &mut |_, _| {}).unwrap();
        assert_eq!(p.inputs, [2.0, 70.0 / 3.0]);
        let mut t = read(&dir, "e.csv", "a,b,y\n?,1,0\n,2,1\n", &opts).unwrap();
        assert!(error(t.fit(Path::new("e.csv"))).contains("column 'a': no value in the training rows"));
        let e = error(read(&dir, "t.csv", "a,y\n1,\n", &opts));
        assert!(e.contains("line 2, column 'y': missing target"), "{e}");
    }

    #[test]
    fn a_schema_matches_columns_by_name_and_lists_the_difference() {
        let dir = Scratch::new("table_schema");
        let t = read(&dir, "t.csv", "a,b,y\n1,2,cat\n3,4,dog\n", &options("y", Task::Classification)).unwrap();
        let schema = t.schema;
        let read_as =
            |name: &str, text: &str| read_with_schema(&dir.write(name, text.as_bytes()), &schema, &mut |_, _| {});
        let p = read_as("r.csv", "y,b,a\ndog,20,10\n").unwrap();
        assert_eq!((p.inputs.clone(), p.labels), (vec![10.0, 20.0], Some(vec![1])));
        let p = read_as("n.csv", "b,a\n20,10\n").unwrap();
        assert_eq!((p.inputs, p.targets), (vec![10.0, 20.0], None));
        let e = error(read_as("x.csv", "a,c,d,y\n1,2,3,cat\n"));
        assert!(
            e.contains("header: the columns differ from the model's: it lacks 'b'; the model does not know 'c', 'd'"),
            "{e}"
        );
        assert!(e.contains("the model reads 'a', 'b'"), "{e}");
        let e = error(read_as("u.csv", "a,b,y\n1,2,cow\n"));
        assert!(
            e.contains("line 2, column 'y': class 'cow' was not in the training data; the model knows 'cat', 'dog'"),
            "{e}"
        );
    }

    #[test]
    fn split_in_place_matches_the_datasets_split() {
        let dir = Scratch::new("table_split");
        let text: String = (0..23).map(|i| format!("{i},{},{}\n", i * 2, i % 3)).collect();
        let t = read(&dir, "s.csv", &format!("a,b,y\n{text}"), &options("y", Task::Classification)).unwrap();
        let (a, b) = t.clone().into_dataset().split(0.3, 9);
        let (ta, tb) = t.split(0.3, 9);
        let (ta, tb) = (ta.into_dataset(), tb.into_dataset());
        assert_eq!((ta.inputs, ta.targets, ta.labels), (a.inputs, a.targets, a.labels));
        assert_eq!((tb.inputs, tb.targets, tb.labels), (b.inputs, b.targets, b.labels));
    }

    #[test]
    fn regression_targets_are_standardised_with_the_training_statistics() {
        let dir = Scratch::new("table_target");
        let mut t = read(&dir, "r.csv", "x,y\n1,10\n2,20\n3,30\n", &options("y", Task::Regression)).unwrap();
        t.fit(Path::new("r.csv")).unwrap();
        let scale = t.schema.target_scale.unwrap();
        assert_eq!(scale.mean, 20.0);
        assert!((scale.std - (200.0f32 / 3.0).sqrt()).abs() < 1e-4);
        assert!((t.targets.as_ref().unwrap()[2] - 10.0 / scale.std).abs() < 1e-6);
        let path = dir.write("o.csv", b"x,y\n4,20\n");
        assert_eq!(read_with_schema(&path, &t.schema, &mut |_, _| {}).unwrap().targets.unwrap(), [0.0]);
    }

    #[test]
    fn column_stats_give_constant_columns_std_one() {
        let (means, stds) = column_stats(&[1.0, 5.0, 3.0, 5.0], 2);
        assert_eq!((means, stds), (vec![2.0, 5.0], vec![1.0, 1.0]));
        let mut v = vec![1.0, 2.0, 3.0];
        assert_eq!(median(&mut v), 2.0);
        assert_eq!(median(&mut [4.0, 1.0]), 2.5);
    }

    #[test]
    fn a_schema_survives_the_checkpoint_metadata() {
        let dir = Scratch::new("table_meta");
        let t = read(&dir, "t.csv", "a,y\n1,x\n", &options("y", Task::Classification)).unwrap();
        let meta = t.schema.checkpoint_meta();
        assert_eq!(TableSchema::from_checkpoint(Path::new("m"), &meta).unwrap(), Some(t.schema));
        assert_eq!(TableSchema::from_checkpoint(Path::new("m"), &HashMap::new()).unwrap(), None);
    }
}
