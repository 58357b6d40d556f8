//! CSV tables, read as a stream: one example per line, comma-separated cells, one column the
//! target, the others inputs (numbers, or names of categories for `--categorical` columns).
//!
//! The file is read line by line through a buffer, never whole: only the parsed values are kept
//! (4 bytes per number), so a table's memory is about half its text's. Cells are trimmed and may
//! be quoted (`"x1"`); quotes cannot hide commas. Blank lines are skipped. An optional first line
//! names the columns. Places in errors are line numbers of the file (1-based, blank lines and
//! header counted, as an editor shows them) and column names, or 0-based column indices when there
//! is no header. Empty cells and the usual markers (`NA`, `NaN`, `?`, `null`, …) are missing
//! values: [`crate::data::table`] refuses them with a hint, or imputes them when asked to.

use super::Dataset;
use super::table::{TableOptions, read_table};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Classes, as integers 0, 1, …, K − 1 or as names, turned into one-hot targets.
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
    /// not a number and either the target is given by name or none of its cells is a number.
    pub header: Option<bool>,
}

/// Class labels that are numbers must be below this: one-hot targets are N × K and dense, so a
/// stray huge "label" (a regression column read as classes) would allocate gigabytes. Also the
/// most distinct values a target column read as classes may hold.
pub(crate) const MAX_CLASSES: usize = 1 << 16;

/// Regression targets beyond ±this are an error: the least-squares loss squares the error, and
/// squares beyond 3.4·10³⁸ overflow f32 to infinity (then NaN), so a stray 3e38 would turn the loss
/// into NaN far from its cause. 10¹⁵ leaves room for a batch's sum of squares.
pub(crate) const MAX_TARGET: f32 = 1e15;

/// Cells that mean "no value" (pandas' defaults, less the rarer ones).
const MISSING: [&str; 12] = ["", "NA", "N/A", "na", "n/a", "NaN", "nan", "NAN", "null", "NULL", "None", "?"];

/// Whether a cell is a missing-value marker.
pub(crate) fn is_missing(cell: &str) -> bool {
    MISSING.contains(&cell)
}

/// Reads a `--target` flag: a number is a column index, anything else a column name.
pub fn parse_target(s: &str) -> TargetColumn {
    let s = s.trim();
    s.parse().map_or_else(|_| TargetColumn::Name(s.to_string()), TargetColumn::Index)
}

/// Loads a CSV table: the target column becomes the targets, the others (in file order) the
/// inputs. Class names are numbered in sorted order; missing values are an error.
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let options = TableOptions::new(options.clone());
    Ok(read_table(path, &options, &mut |_, _| {})?.into_dataset())
}

/// The trimmed, unquoted cells of one line.
pub(crate) fn cells(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|cell| {
            let cell = cell.trim();
            cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')).unwrap_or(cell).trim()
        })
        .collect()
}

/// The cell as a finite number; NaN and infinities count as not numbers, since they would poison
/// every sum they enter.
pub(crate) fn number(cell: &str) -> Option<f32> {
    cell.parse::<f32>().ok().filter(|x| x.is_finite())
}

/// The non-blank lines of a file, read one at a time, with their line numbers and the bytes read.
pub(crate) struct Lines<'a> {
    path: &'a Path,
    reader: BufReader<std::fs::File>,
    buf: String,
    line: usize,
    /// Bytes read so far.
    pub bytes: u64,
    /// The file's length in bytes.
    pub len: u64,
}

impl<'a> Lines<'a> {
    /// Opens `path` for reading.
    pub fn open(path: &'a Path) -> Result<Lines<'a>> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(Lines { path, reader: BufReader::with_capacity(1 << 16, file), buf: String::new(), line: 0, bytes: 0, len })
    }

    /// The next non-blank line and its number (1-based), without its line break, or `None` at the
    /// end. A byte-order mark (Excel writes one) is removed from the first line.
    pub fn next_line(&mut self) -> Result<Option<(usize, String)>> {
        loop {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    Error::format(self.path, format!("line {}", self.line + 1), "not UTF-8 text; expected a CSV file")
                }
                _ => Error::io(self.path, e),
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.bytes += n as u64;
            self.line += 1;
            let text = if self.line == 1 { self.buf.trim_start_matches('\u{feff}') } else { &self.buf };
            if !text.trim().is_empty() {
                return Ok(Some((self.line, text.trim_end_matches(['\n', '\r']).to_string())));
            }
        }
    }
}

/// The first line's reading: the columns' names, whether they came from a header.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    /// Names from the header, else the 0-based indices as text.
    pub names: Vec<String>,
    /// Whether the first line is a header.
    pub named: bool,
    /// The first non-blank line's number.
    pub line: usize,
}

impl Header {
    /// Reads the first non-blank line `text` (number `line`): a header if `header` says so, or,
    /// when it is `None`, if one of its cells is not a number and either the target is named
    /// (`by_name`) or none of its cells is a number (a first data row may hold class names).
    pub fn detect(header: Option<bool>, by_name: bool, line: usize, text: &str) -> Header {
        let first = cells(text);
        let texts = first.iter().filter(|c| number(c).is_none()).count();
        let named = header.unwrap_or(texts > 0 && (by_name || texts == first.len()));
        let names = if named {
            first.iter().map(|c| c.to_string()).collect()
        } else {
            (0..first.len()).map(|j| j.to_string()).collect()
        };
        Header { names, named, line }
    }

    /// `column 'name'` with a header, else `column j`.
    pub fn column(&self, j: usize) -> String {
        if self.named { format!("column '{}'", self.names[j]) } else { format!("column {j}") }
    }

    /// The 0-based index of the target column.
    pub fn target_index(&self, path: &Path, target: &TargetColumn) -> Result<usize> {
        let width = self.names.len();
        match target {
            TargetColumn::Index(i) if *i < width => Ok(*i),
            TargetColumn::Index(i) => {
                let message =
                    format!("target column index {i} is out of range; the file has {width} columns (0–{})", width - 1);
                Err(Error::format(path, "target column", message))
            }
            TargetColumn::Name(name) if self.named => self.names.iter().position(|n| n == name).ok_or_else(|| {
                let message = format!("no column named '{name}'; the columns are {}", self.names.join(", "));
                Error::format(path, "header", message)
            }),
            TargetColumn::Name(name) => {
                let message = format!(
                    "target column '{name}' is a name, but the file has no header; give an index 0–{}",
                    width - 1
                );
                Err(Error::format(path, "header", message))
            }
        }
    }
}

/// What one column of the file becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A numeric input, stored in this slot of its row.
    Number(usize),
    /// The k-th categorical input.
    Category(usize),
    /// The target.
    Target,
}

/// How to read each column of a file.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// One role per column of the file.
    pub roles: Vec<Role>,
    /// Numeric slots per row.
    pub numbers: usize,
    /// Categorical columns.
    pub categories: usize,
    /// How to read the target's cells: as numbers (regression) or as text (classes).
    pub target: Option<Task>,
}

/// The distinct texts of a column in the order first seen (with the line of each first
/// appearance), and each row's code into them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vocabulary {
    index: HashMap<String, u32>,
    /// (text, line of its first appearance), in the order first seen.
    pub values: Vec<(String, usize)>,
    /// Each row's index into `values`.
    pub codes: Vec<u32>,
}

impl Vocabulary {
    /// Records `text` (found on `line`) for the next row.
    fn push(&mut self, text: &str, line: usize) {
        let code = match self.index.get(text) {
            Some(&code) => code,
            None => {
                let code = self.values.len() as u32;
                self.index.insert(text.to_string(), code);
                self.values.push((text.to_string(), line));
                code
            }
        };
        self.codes.push(code);
    }
}

/// A missing value: where it is and how it was written.
#[derive(Clone, Debug)]
pub(crate) struct Missing {
    pub line: usize,
    /// `column 'name'` or `column j`.
    pub column: String,
    pub cell: String,
}

/// The target column as read.
#[derive(Clone, Debug)]
pub(crate) enum TargetValues {
    /// The file has no target column (rows to predict).
    Absent,
    /// Regression targets.
    Numbers(Vec<f32>),
    /// Class cells as text.
    Texts(Vocabulary),
}

/// A CSV file as parsed: numbers in row-major slots (NaN where a value is missing), categorical
/// columns and the target as vocabularies.
pub(crate) struct RawTable {
    pub header: Header,
    pub rows: usize,
    /// rows × plan.numbers.
    pub numbers: Vec<f32>,
    pub categories: Vec<Vocabulary>,
    pub target: TargetValues,
    /// The first missing numeric input, if any.
    pub missing: Option<Missing>,
}

/// How often (in bytes read) the progress callback is called.
const PROGRESS_EVERY: u64 = 4 << 20;

/// Reads `path` line by line: the first non-blank line decides the header (see
/// [`Header::detect`]); `plan` maps the header to each column's role; then every row is parsed
/// into its slots. `progress(bytes read, file length)` is called every few megabytes.
pub(crate) fn read_csv(
    path: &Path,
    header: Option<bool>,
    by_name: bool,
    plan: impl FnOnce(&Header) -> Result<Plan>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RawTable> {
    let mut lines = Lines::open(path)?;
    let Some((first_line, first)) = lines.next_line()? else {
        return Err(Error::format(
            path,
            "line 1",
            "the file is empty; expected rows of values, optionally after a header",
        ));
    };
    let head = Header::detect(header, by_name, first_line, &first);
    let plan = plan(&head)?;
    let width = head.names.len();
    let mut table = RawTable {
        header: head,
        rows: 0,
        numbers: Vec::new(),
        categories: vec![Vocabulary::default(); plan.categories],
        target: match plan.target {
            None => TargetValues::Absent,
            Some(Task::Regression) => TargetValues::Numbers(Vec::new()),
            Some(Task::Classification) => TargetValues::Texts(Vocabulary::default()),
        },
        missing: None,
    };
    let mut row = vec![0.0f32; plan.numbers];
    let mut pending = (!table.header.named).then_some((first_line, first));
    let mut next_report = PROGRESS_EVERY;
    loop {
        let (line, text) = match pending.take() {
            Some(first) => first,
            None => match lines.next_line()? {
                Some(next) => next,
                None => break,
            },
        };
        let cells = cells(&text);
        if cells.len() != width {
            let message = format!("found {} columns, expected {width} as in line {first_line}", cells.len());
            return Err(Error::format(path, format!("line {line}"), message));
        }
        for (j, (cell, role)) in cells.iter().zip(&plan.roles).enumerate() {
            let place = || format!("line {line}, {}", table.header.column(j));
            match *role {
                Role::Number(slot) => {
                    row[slot] = match number(cell) {
                        Some(v) => v,
                        None if is_missing(cell) => {
                            if table.missing.is_none() {
                                let column = table.header.column(j);
                                table.missing = Some(Missing { line, column, cell: cell.to_string() });
                            }
                            f32::NAN
                        }
                        None => {
                            return Err(Error::format(path, place(), format!("found '{cell}', expected a number")));
                        }
                    }
                }
                Role::Category(k) => {
                    if is_missing(cell) {
                        let message = format!(
                            "missing category ('{cell}'); give it a name of its own (such as 'unknown') or drop the row"
                        );
                        return Err(Error::format(path, place(), message));
                    }
                    table.categories[k].push(cell, line);
                }
                Role::Target => match &mut table.target {
                    TargetValues::Absent => {}
                    TargetValues::Numbers(values) => values.push(regression_target(path, cell, &place)?),
                    TargetValues::Texts(vocabulary) => {
                        if is_missing(cell) {
                            let message = format!("missing target ('{cell}'); drop the row or fill in its class");
                            return Err(Error::format(path, place(), message));
                        }
                        vocabulary.push(cell, line);
                        if vocabulary.values.len() > MAX_CLASSES {
                            let message = format!(
                                "more than {MAX_CLASSES} distinct values in the target column; expected classes (for a \
                                 numeric target, pass --regression)"
                            );
                            return Err(Error::format(path, place(), message));
                        }
                    }
                },
            }
        }
        table.numbers.extend_from_slice(&row);
        table.rows += 1;
        if table.rows == 64 {
            reserve(&mut table, &lines, plan.numbers);
        }
        if lines.bytes >= next_report {
            progress(lines.bytes, lines.len);
            next_report = lines.bytes + PROGRESS_EVERY;
        }
    }
    progress(lines.bytes, lines.len);
    if table.rows == 0 {
        return Err(Error::format(path, format!("line {first_line}"), "a header but no data rows"));
    }
    Ok(table)
}

/// Reserves room for the rows still to come, estimated from the bytes per row so far, so that
/// the vectors grow once instead of doubling (each doubling of a large table would briefly hold
/// both copies).
fn reserve(table: &mut RawTable, lines: &Lines, numbers: usize) {
    let per_row = lines.bytes as f64 / table.rows as f64;
    let rows = ((lines.len - lines.bytes) as f64 / per_row * 1.05) as usize + 16;
    table.numbers.reserve(rows * numbers);
    match &mut table.target {
        TargetValues::Numbers(values) => values.reserve(rows),
        TargetValues::Texts(vocabulary) => vocabulary.codes.reserve(rows),
        TargetValues::Absent => {}
    }
    for vocabulary in &mut table.categories {
        vocabulary.codes.reserve(rows);
    }
}

/// A regression target cell as a number within ±[`MAX_TARGET`].
fn regression_target(path: &Path, cell: &str, place: &dyn Fn() -> String) -> Result<f32> {
    match number(cell) {
        Some(v) if v.abs() <= MAX_TARGET => Ok(v),
        Some(v) => {
            let message = format!(
                "found {v}, expected a regression target within ±{MAX_TARGET:e} (its square in the least-squares \
                 loss would overflow); rescale the column"
            );
            Err(Error::format(path, place(), message))
        }
        None if is_missing(cell) => {
            Err(Error::format(path, place(), format!("missing target ('{cell}'); drop the row or fill in its value")))
        }
        None => Err(Error::format(path, place(), format!("found '{cell}', expected a number"))),
    }
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
        let text = error(&dir, "i.csv", "1,2\n3,inf\n", &options("0", Task::Regression));
        assert!(text.contains("line 2, column 1: found 'inf', expected a number"), "{text}");
        // NaN is a missing-value marker: refused with the ways forward
        let text = error(&dir, "m.csv", "1,2\n3,NaN\n", &options("0", Task::Regression));
        assert!(text.contains("line 2, column 1: missing value ('NaN')") && text.contains("--impute"), "{text}");
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
}
