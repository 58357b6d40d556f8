//! Sequence files (`.seq`): sequences of different lengths, one per line, each with one label
//! (sequence classification) or one tag per step (sequence tagging). A line is its steps,
//! separated by `;`, each step F numbers separated by `,`, then `|` and the label or the tags
//! (separated by `;`, one per step); blank lines and lines starting with `#` are skipped:
//!
//! ```text
//! # 2 features per step, one tag per step
//! 0.5,1;0,1;1,0 | B;I;O
//! 1,0;0.25,1 | O;B
//! ```
//!
//! Every step has the same F; a file is a tagging file when a line has more than one tag, and
//! then every line has as many tags as steps. Labels and tags are names, numbered in sorted order
//! (as a CSV file's classes). The rows are zero-padded to the longest sequence's T steps and
//! their lengths kept ([`Dataset::lengths`]); a tagger's targets are m × T class indices, −1 on
//! the padding, which the loss ignores.

use super::Dataset;
use crate::tensor::Tensor;
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// The most input values (N·T·F, padding included) a sequence file may give: 1 GiB of f32.
pub const MAX_VALUES: usize = 1 << 28;

/// A sequence file as a data set, with what the model must fit.
#[derive(Clone, Debug)]
pub struct Sequences {
    /// N rows of T·F inputs (zero-padded), with their lengths; one-hot targets and labels for
    /// classification, m × T tags (−1 on the padding) for tagging.
    pub data: Dataset,
    /// The label or tag names, in class order.
    pub classes: Vec<String>,
    /// T, the longest sequence's steps.
    pub steps: usize,
    /// F, the features of a step.
    pub features: usize,
    /// Whether each step has its tag (else each sequence has its label).
    pub tagging: bool,
}

/// One line read: its steps' values (len·F), its length and its label or tags.
struct Line<'a> {
    number: usize,
    values: Vec<f32>,
    steps: usize,
    labels: Vec<&'a str>,
}

/// Reads a sequence file (see the module's documentation); an error names the file, the line
/// and the field.
pub fn load_sequences(path: &Path) -> Result<Sequences> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::format(path, format!("byte {}", e.utf8_error().valid_up_to()), "not UTF-8 text"))?;
    parse_sequences(&text).map_err(|(place, message)| Error::format(path, place, message))
}

/// [`load_sequences`] on text already read; the error is (place, what is wrong).
pub fn parse_sequences(text: &str) -> std::result::Result<Sequences, (String, String)> {
    parse_limited(text, MAX_VALUES)
}

/// [`parse_sequences`] refusing more than `max_values` padded input values.
fn parse_limited(text: &str, max_values: usize) -> std::result::Result<Sequences, (String, String)> {
    let mut lines = Vec::new();
    let mut features = None;
    for (i, raw) in text.lines().enumerate() {
        let (number, line) = (i + 1, raw.trim());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        lines.push(read_line(number, line, &mut features)?);
    }
    let (Some(first), Some(features)) = (lines.first(), features) else {
        return Err(("file".into(), "no sequences (one per line: steps separated by ';', then '| label')".into()));
    };
    let tagging = lines.iter().any(|l| l.labels.len() > 1);
    for line in &lines {
        let want = if tagging { line.steps } else { 1 };
        if line.labels.len() != want {
            let what = if tagging {
                format!(
                    "{} tags for {} steps (a tagging file, as line {} shows: one tag per step)",
                    line.labels.len(),
                    line.steps,
                    lines.iter().find(|l| l.labels.len() > 1).map_or(first.number, |l| l.number)
                )
            } else {
                format!("{} labels (want one)", line.labels.len())
            };
            return Err((format!("line {}, labels", line.number), what));
        }
    }
    let steps = lines.iter().map(|l| l.steps).max().unwrap_or(0);
    let n = lines.len();
    let values = n.checked_mul(steps).and_then(|v| v.checked_mul(features)).filter(|&v| v <= max_values);
    let Some(values) = values else {
        return Err((
            "file".into(),
            format!(
                "{n} sequences of up to {steps} steps of {features} features: more than {max_values} values once padded"
            ),
        ));
    };
    let classes: Vec<String> = lines
        .iter()
        .flat_map(|l| l.labels.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(String::from)
        .collect();
    let index = |name: &str| classes.binary_search_by(|c| c.as_str().cmp(name)).expect("every name is a class");
    let mut inputs = vec![0.0; values];
    for (row, line) in inputs.chunks_exact_mut(steps * features).zip(&lines) {
        row[..line.values.len()].copy_from_slice(&line.values);
    }
    let inputs = Tensor::from_vec(inputs, &[n, steps * features]);
    let lengths = Some(lines.iter().map(|l| l.steps).collect());
    let data = if tagging {
        let mut tags = vec![-1.0; n * steps];
        for (row, line) in tags.chunks_exact_mut(steps).zip(&lines) {
            row.iter_mut().zip(&line.labels).for_each(|(t, name)| *t = index(name) as f32);
        }
        let targets = Tensor::from_vec(tags, &[n, steps]);
        Dataset { inputs: inputs.into(), targets, labels: None, image_shape: None, lengths }
    } else {
        let labels: Vec<usize> = lines.iter().map(|l| index(l.labels[0])).collect();
        let mut data = Dataset::classification(inputs, labels, classes.len(), None);
        data.lengths = lengths;
        data
    };
    Ok(Sequences { data, classes, steps, features, tagging })
}

/// One non-blank line: `steps | labels`, every step `features` numbers (the first line read
/// sets them).
fn read_line<'a>(
    number: usize,
    line: &'a str,
    features: &mut Option<usize>,
) -> std::result::Result<Line<'a>, (String, String)> {
    let at = |field: &str| format!("line {number}, {field}");
    let Some((steps_text, labels_text)) = line.split_once('|') else {
        return Err((
            at("labels"),
            "no '|' before the label (a line is 'steps | label' or 'steps | tag;tag;…')".into(),
        ));
    };
    let labels: Vec<&str> = labels_text.split(';').map(str::trim).collect();
    if let Some(k) = labels.iter().position(|l| l.is_empty() || l.contains('|')) {
        return Err((at(&format!("label {}", k + 1)), format!("'{}' is not a label (want a name)", labels[k])));
    }
    let mut values = Vec::new();
    let mut steps = 0;
    for (s, step) in steps_text.split(';').enumerate() {
        let fields: Vec<&str> = step.split(',').map(str::trim).collect();
        let want = *features.get_or_insert(fields.len());
        if fields.len() != want {
            return Err((
                at(&format!("step {}", s + 1)),
                format!("{} features, but the file's steps have {want}", fields.len()),
            ));
        }
        for (j, field) in fields.iter().enumerate() {
            let value: f32 = field.parse().ok().filter(|v: &f32| v.is_finite()).ok_or_else(|| {
                (at(&format!("step {}, feature {}", s + 1, j + 1)), format!("'{field}' is not a finite number"))
            })?;
            values.push(value);
        }
        steps += 1;
    }
    Ok(Line { number, values, steps, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_lines_are_padded_with_their_lengths_and_ignored_tags() {
        let s = parse_sequences("# two features\n0.5,1;0,1;1,0 | B;I;O\n\n1,0;0.25,1 | O;B\n").unwrap();
        assert!(s.tagging);
        assert_eq!((s.steps, s.features, s.classes.clone()), (3, 2, vec!["B".to_string(), "I".into(), "O".into()]));
        assert_eq!(s.data.lengths, Some(vec![3, 2]));
        assert_eq!(s.data.inputs.to_tensor().data(), &[0.5, 1., 0., 1., 1., 0., 1., 0., 0.25, 1., 0., 0.]);
        assert_eq!(s.data.targets.data(), &[0., 1., 2., 2., 0., -1.]);
        assert_eq!(s.data.labels, None);
    }

    #[test]
    fn labelled_lines_are_a_classification_set() {
        let s = parse_sequences("1;2;3 | up\n3;2 | down\n5 | up\n").unwrap();
        assert!(!s.tagging);
        assert_eq!(s.data.labels, Some(vec![1, 0, 1]));
        assert_eq!(s.data.targets.shape(), &[3, 2]);
        assert_eq!(s.data.lengths, Some(vec![3, 2, 1]));
        // a split keeps each row's length with it
        let (a, b) = s.data.split(0.5, 3);
        for part in [a, b] {
            let lengths = part.lengths.clone().unwrap();
            let inputs = part.inputs.to_tensor();
            for (row, len) in inputs.data().chunks(3).zip(lengths) {
                assert!(row[len..].iter().all(|&v| v == 0.0) && row[..len].iter().all(|&v| v != 0.0));
            }
        }
    }

    #[test]
    fn bad_lines_are_refused_by_line_and_field() {
        let err = |text: &str| parse_sequences(text).unwrap_err();
        assert_eq!(err("1,2;3,4 | a\n1,2;3 | b\n").0, "line 2, step 2");
        assert!(err("1,2;3,4 | a\n1,2;3 | b\n").1.contains("1 features, but the file's steps have 2"));
        assert_eq!(err("1;x | a\n").0, "line 1, step 2, feature 1");
        assert!(err("1;inf | a\n").1.contains("'inf' is not a finite number"));
        assert!(err("1;2\n").1.contains("no '|'"));
        assert_eq!(err("1;2 | a;b\n1;2;3 | a;b\n").0, "line 2, labels");
        assert!(err("1;2 | a;b\n1;2;3 | a;b\n").1.contains("2 tags for 3 steps"));
        assert_eq!(err("1;2 | a;\n").0, "line 1, label 2");
        assert!(err("# nothing\n\n").1.contains("no sequences"));
        // 3 rows padded to 4 steps of 2 features: 24 values
        let text = "1,1 | a\n1,1;1,1;1,1;1,1 | a\n1,1 | b\n";
        assert!(parse_limited(text, 24).is_ok());
        assert!(
            parse_limited(text, 23).unwrap_err().1.contains("3 sequences of up to 4 steps of 2 features: more than 23")
        );
    }
}
