//! Numeric CSV tables: one example per line, comma-separated numbers, one column the target.
//!
//! Cells are trimmed and may be quoted (`"x1"`); quotes cannot hide commas, which numeric tables
//! never need. Blank lines are skipped. An optional first line names the columns. Places in errors
//! are line numbers of the file (1-based, blank lines and header counted, as an editor shows them)
//! and column names, or 0-based column indices when there is no header.

use super::Dataset;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::path::Path;

/// Which column holds the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetColumn {
    /// The column with this header name.
    Name(String),
    /// The column at this 0-based index.
    Index(usize),
}

/// What the target column means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Class indices 0, 1, …, K − 1, turned into one-hot targets.
    Classification,
    /// Real values, kept as an N × 1 target.
    Regression,
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The target column; all other columns are inputs.
    pub target: TargetColumn,
    /// Classification or regression.
    pub task: Task,
    /// Whether the first line names the columns; `None` detects it: it does if one of its cells is
    /// not a number.
    pub header: Option<bool>,
}

/// One-hot targets are N × K and dense, so a stray huge "label" (a regression column read as
/// classes) would allocate gigabytes; more classes than this is an error with a hint instead.
const MAX_CLASSES: usize = 1 << 16;

/// Rows × classes of the one-hot targets at most (1 GiB of f32): below [`MAX_CLASSES`] a large
/// file with one stray big label could still ask for tens of gigabytes.
const MAX_ONE_HOT: usize = 1 << 28;

/// Regression targets beyond ±this are an error: the least-squares loss squares the error, and
/// squares beyond 3.4·10³⁸ overflow f32 to infinity (then NaN), so a stray 3e38 would turn the loss
/// into NaN far from its cause. 10¹⁵ leaves room for a batch's sum of squares.
const MAX_TARGET: f32 = 1e15;

/// Reads a `--target` flag: a number is a column index, anything else a column name.
pub fn parse_target(s: &str) -> TargetColumn {
    let s = s.trim();
    s.parse().map_or_else(|_| TargetColumn::Name(s.to_string()), TargetColumn::Index)
}

/// Loads a numeric CSV table: the target column becomes the targets, the others (in file order)
/// the inputs.
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::format(path, format!("byte offset {at}"), "not UTF-8 text; expected a CSV file")
    })?;
    // A byte-order mark (Excel writes one) would otherwise glue itself to the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line)).filter(|(_, line)| !line.trim().is_empty());

    let Some((first_line, first)) = lines.next() else {
        return Err(Error::format(
            path,
            "line 1",
            "the file is empty; expected numeric rows, optionally after a header",
        ));
    };
    let first = cells(first);
    let has_header = options.header.unwrap_or_else(|| first.iter().any(|c| number(c).is_none()));
    let names = has_header.then(|| first.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let width = first.len();
    let target = target_index(path, &options.target, names.as_deref(), width)?;
    if width < 2 {
        return Err(Error::format(path, format!("line {first_line}"), "one column; expected inputs and a target"));
    }
    let column = |j: usize| match &names {
        Some(names) => format!("column '{}'", names[j]),
        None => format!("column {j}"),
    };

    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    let data_lines = (!has_header).then_some((first_line, first)).into_iter().chain(lines.map(|(n, l)| (n, cells(l))));
    for (line, row) in data_lines {
        if row.len() != width {
            let message = format!("found {} columns, expected {width} as in line {first_line}", row.len());
            return Err(Error::format(path, format!("line {line}"), message));
        }
        for (j, cell) in row.iter().enumerate() {
            let Some(value) = number(cell) else {
                let message = format!("found '{cell}', expected a number");
                return Err(Error::format(path, format!("line {line}, {}", column(j)), message));
            };
            if j == target {
                targets.push(value);
            } else {
                inputs.push(value);
            }
        }
    }
    let rows = targets.len();
    if rows == 0 {
        return Err(Error::format(path, format!("line {first_line}"), "a header but no data rows"));
    }
    let inputs = Tensor::from_vec(inputs, &[rows, width - 1]);
    match options.task {
        Task::Regression => {
            if let Some(bad) = targets.iter().position(|v| v.abs() > MAX_TARGET) {
                let line = data_line(text, has_header, bad);
                let message = format!(
                    "found {}, expected a regression target within ±{MAX_TARGET:e} (its square in the least-squares \
                     loss would overflow); rescale the column",
                    targets[bad]
                );
                return Err(Error::format(path, format!("line {line}, {}", column(target)), message));
            }
            let targets = Tensor::from_vec(targets, &[rows, 1]);
            Ok(Dataset { inputs: inputs.into(), targets, labels: None, image_shape: None })
        }
        Task::Classification => {
            let labels = class_labels(path, text, has_header, &targets, &column(target))?;
            let classes = labels.iter().max().map_or(0, |&m| m + 1);
            Ok(Dataset::classification(inputs, labels, classes, None))
        }
    }
}

/// The file line (1-based) of data row `row`. Only for errors: finding it again is cheaper than
/// carrying line numbers for every row through the fast path.
fn data_line(text: &str, has_header: bool, row: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .nth(row + has_header as usize)
        .map_or(0, |(i, _)| i + 1)
}

/// The names of the input columns of a CSV file, in the order of [`load_csv`]'s input columns:
/// `column 'name'` from the header, else `column j` (its 0-based index in the file). For errors
/// about an input column found after loading (a value that overflows once standardised).
pub fn input_column_names(path: &Path, options: &CsvOptions) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = cells(text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default());
    let has_header = options.header.unwrap_or_else(|| first.iter().any(|c| number(c).is_none()));
    let names = has_header.then(|| first.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let target = target_index(path, &options.target, names.as_deref(), first.len())?;
    let name = |j: usize| match &names {
        Some(names) => format!("column '{}'", names[j]),
        None => format!("column {j}"),
    };
    Ok((0..first.len()).filter(|&j| j != target).map(name).collect())
}

/// The trimmed, unquoted cells of one line.
fn cells(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|cell| {
            let cell = cell.trim();
            cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(cell).trim()
        })
        .collect()
}

/// The cell as a finite number; NaN and infinities count as not numbers, since they would poison
/// every sum they enter.
fn number(cell: &str) -> Option<f32> {
    cell.parse::<f32>().ok().filter(|x| x.is_finite())
}

/// The 0-based index of the target column.
fn target_index(path: &Path, target: &TargetColumn, names: Option<&[String]>, width: usize) -> Result<usize> {
    match (target, names) {
        (TargetColumn::Index(i), _) if *i < width => Ok(*i),
        (TargetColumn::Index(i), _) => {
            let message =
                format!("target column index {i} is out of range; the file has {width} columns (0–{})", width - 1);
            Err(Error::format(path, "target column", message))
        }
        (TargetColumn::Name(name), Some(names)) => names.iter().position(|n| n == name).ok_or_else(|| {
            let message = format!("no column named '{name}'; the columns are {}", names.join(", "));
            Error::format(path, "header", message)
        }),
        (TargetColumn::Name(name), None) => {
            let message =
                format!("target column '{name}' is a name, but the file has no header; give an index 0–{}", width - 1);
            Err(Error::format(path, "header", message))
        }
    }
}

/// The target values as class indices; each must be a non-negative integer below [`MAX_CLASSES`].
fn class_labels(path: &Path, text: &str, has_header: bool, values: &[f32], column: &str) -> Result<Vec<usize>> {
    let valid = |v: f32| v >= 0.0 && v.fract() == 0.0 && (v as usize) < MAX_CLASSES;
    let Some(bad) = values.iter().position(|&v| !valid(v)) else {
        let labels: Vec<usize> = values.iter().map(|&v| v as usize).collect();
        let Some((top, &max)) = labels.iter().enumerate().max_by_key(|&(_, &k)| k) else { return Ok(labels) };
        if labels.len().saturating_mul(max + 1) <= MAX_ONE_HOT {
            return Ok(labels);
        }
        let line = data_line(text, has_header, top);
        let message = format!(
            "found class {max}: {} classes × {} rows is more one-hot targets than {MAX_ONE_HOT} (1 GiB); class labels \
             should number the classes 0, 1, 2, … (use regression for a numeric target)",
            max + 1,
            labels.len()
        );
        return Err(Error::format(path, format!("line {line}, {column}"), message));
    };
    let line = data_line(text, has_header, bad);
    let message = format!(
        "found {}, expected a class label: an integer 0–{} (use regression for real-valued targets)",
        values[bad],
        MAX_CLASSES - 1
    );
    Err(Error::format(path, format!("line {line}, {column}"), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scratch;

    fn options(target: &str, task: Task) -> CsvOptions {
        CsvOptions { target: parse_target(target), task, header: None }
    }

    fn error(dir: &Scratch, name: &str, text: &str, options: &CsvOptions) -> String {
        match load_csv(&dir.write(name, text.as_bytes()), options) {
            Err(e) => e.to_string(),
            Ok(d) => panic!("expected an error, got {d:?}"),
        }
    }

    #[test]
    fn parse_target_tells_index_from_name() {
        assert_eq!(parse_target("3"), TargetColumn::Index(3));
        assert_eq!(parse_target(" y "), TargetColumn::Name("y".into()));
        assert_eq!(parse_target("-1"), TargetColumn::Name("-1".into()));
    }

    #[test]
    fn classification_with_quoted_header_and_blank_lines() {
        let dir = Scratch::new("csv_classification");
        let text = "\u{feff}\"x1\", x2 ,\"label\"\n\n1, 2, 0\n3,4,2\r\n 5 ,6, 1.0\n";
        let d = load_csv(&dir.write("c.csv", text.as_bytes()), &options("label", Task::Classification)).unwrap();
        assert_eq!(d.inputs.shape(), &[3, 2]);
        assert_eq!(d.inputs.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(d.labels, Some(vec![0, 2, 1]));
        assert_eq!(d.num_classes(), Some(3));
        assert_eq!(d.targets.data(), &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(d.image_shape, None);
    }

    #[test]
    fn regression_without_header_by_index() {
        let dir = Scratch::new("csv_regression");
        let path = dir.write("r.csv", b"0.5,1e3,-2\n1.5,2,-3");
        let d = load_csv(&path, &options("0", Task::Regression)).unwrap();
        assert_eq!(d.inputs.data(), &[1000.0, -2.0, 2.0, -3.0]);
        assert_eq!(d.targets.shape(), &[2, 1]);
        assert_eq!(d.targets.data(), &[0.5, 1.5]);
        assert_eq!(d.labels, None);
        // Forcing a header turns the first line into names.
        let forced = CsvOptions { header: Some(true), ..options("1", Task::Regression) };
        assert_eq!(load_csv(&path, &forced).unwrap().len(), 1);
    }

    #[test]
    fn ragged_row_names_line_and_counts() {
        let dir = Scratch::new("csv_ragged");
        let text = error(&dir, "r.csv", "a,b,y\n1,2,0\n\n1,2\n", &options("y", Task::Regression));
        assert!(text.ends_with("r.csv: line 4: found 2 columns, expected 3 as in line 1"), "{text}");
    }

    #[test]
    fn non_numeric_cell_names_line_column_and_text() {
        let dir = Scratch::new("csv_cell");
        let opts = options("y", Task::Regression);
        let text = error(&dir, "n.csv", "x1,x3,y\n1,2,3\n4,abc,6\n", &opts);
        assert!(text.ends_with("line 3, column 'x3': found 'abc', expected a number"), "{text}");
        let text = error(&dir, "m.csv", "1,2\n3,NaN\n", &options("0", Task::Regression));
        assert!(text.contains("line 2, column 1: found 'NaN'"), "{text}");
    }

    #[test]
    fn unknown_or_out_of_range_target_is_reported() {
        let dir = Scratch::new("csv_target");
        let text = error(&dir, "t.csv", "a,b,c\n1,2,3\n", &options("z", Task::Regression));
        assert!(text.contains("no column named 'z'; the columns are a, b, c"), "{text}");
        let text = error(&dir, "t.csv", "a,b,c\n1,2,3\n", &options("3", Task::Regression));
        assert!(text.contains("index 3 is out of range; the file has 3 columns (0–2)"), "{text}");
        let text = error(&dir, "u.csv", "1,2,3\n", &options("c", Task::Regression));
        assert!(text.contains("no header"), "{text}");
    }

    #[test]
    fn empty_file_and_header_only_are_reported() {
        let dir = Scratch::new("csv_empty");
        let opts = options("0", Task::Regression);
        assert!(error(&dir, "e.csv", "", &opts).contains("the file is empty"));
        assert!(error(&dir, "w.csv", "\n  \n", &opts).contains("the file is empty"));
        assert!(error(&dir, "h.csv", "a,b\n", &opts).contains("no data rows"));
        assert!(error(&dir, "o.csv", "1\n2\n", &opts).contains("one column"));
    }

    #[test]
    fn bad_class_labels_name_the_line() {
        let dir = Scratch::new("csv_labels");
        let opts = options("y", Task::Classification);
        let text = error(&dir, "f.csv", "x,y\n\n1,0\n2,1.5\n", &opts);
        assert!(text.contains("line 4, column 'y': found 1.5, expected a class label"), "{text}");
        let text = error(&dir, "n.csv", "x,y\n1,-1\n", &opts);
        assert!(text.contains("line 2, column 'y': found -1"), "{text}");
        let text = error(&dir, "h.csv", "x,y\n1,1e9\n", &opts);
        assert!(text.contains("found 1000000000"), "{text}");
        // below MAX_CLASSES, but 5,001 rows × 65,536 classes of one-hot targets would take 1.3 GB
        let many = format!("x,y\n{}1,65535\n", "1,0\n".repeat(5000));
        let text = error(&dir, "m.csv", &many, &opts);
        assert!(text.contains("line 5002, column 'y': found class 65535: 65536 classes × 5001 rows"), "{text}");
    }

    #[test]
    fn huge_regression_targets_name_the_line() {
        let dir = Scratch::new("csv_huge_target");
        let text = error(&dir, "t.csv", "x,y\n1,2\n\n3,3e38\n", &options("y", Task::Regression));
        assert!(text.contains("line 4, column 'y': found 300000000000000000000000000000000000000"), "{text}");
        assert!(text.contains("least-squares"), "{text}");
    }

    #[test]
    fn input_column_names_skip_the_target() {
        let dir = Scratch::new("csv_names");
        let named = dir.write("n.csv", "\u{feff}a,y,b\n1,2,3\n".as_bytes());
        let names = input_column_names(&named, &options("y", Task::Regression)).unwrap();
        assert_eq!(names, ["column 'a'", "column 'b'"]);
        let bare = dir.write("b.csv", b"\n1,2,3\n");
        assert_eq!(input_column_names(&bare, &options("0", Task::Regression)).unwrap(), ["column 1", "column 2"]);
    }
}
