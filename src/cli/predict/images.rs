//! `nabla predict --data IMAGES…`: the class of each of many PNG/JPEG images, one CSV row per
//! image (its file, the predicted class's name, and each class's probability).

use crate::cli::shared::device::Runner;
use crate::cli::shared::images::ImageArgs;
use crate::cli::shared::print::outln;
use crate::cli::shared::source::Normalization;
use nabla::data::{ByteRows, ImageFormat, Inputs, image_files, is_image_file, is_image_folder, read_images};
use nabla::io::atomic_write;
use nabla::nn::Model;
use nabla::{Error, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Images decoded and predicted at a time: bounds memory for folders of any size.
const CHUNK: usize = 256;

/// What predicting images needs besides the model.
pub struct ImagePrediction<'a> {
    /// Files, folders of images, or image folders (class subfolders), as given.
    pub paths: &'a [PathBuf],
    /// Where the CSV goes; stdout when `None`.
    pub out: Option<&'a Path>,
    /// The size and channels, else the model's.
    pub images: &'a ImageArgs,
    /// Invert images (dark ink on light to MNIST's light on dark).
    pub invert: bool,
    /// The checkpoint's class names, if it has them (else classes are numbered).
    pub classes: Option<Vec<String>>,
    /// The image format the model was trained on, if its checkpoint says.
    pub trained_image: Option<ImageFormat>,
    /// The checkpoint's input normalisation (one mean and std).
    pub normalization: Normalization,
    /// The checkpoint, to name it in errors.
    pub weights: &'a Path,
}

/// Predicts every image of `job.paths` and writes `file,class,p_<class>…` rows.
pub fn predict_images(model: &mut Model, runner: &mut Runner, job: ImagePrediction) -> Result<()> {
    if job.normalization.mean.len() != 1 {
        return Err(Error::config(format!(
            "{}: the model was trained on a table of {} columns, not on images",
            job.weights.display(),
            job.normalization.mean.len()
        )));
    }
    let mut images = job.images.clone();
    images.model_input = Some(model.spec().input.clone());
    images.trained = job.trained_image;
    let format = images.format()?;
    let files = collect_files(job.paths)?;
    let outputs = model.spec().output_size()?;
    let names = job.classes.clone().unwrap_or_else(|| (0..outputs).map(|k| k.to_string()).collect());
    if names.len() != outputs {
        return Err(Error::format(
            job.weights,
            "metadata 'nabla.classes'",
            format!("{} class names for a model of {outputs} outputs", names.len()),
        ));
    }
    let mut csv = String::from("file,class");
    names.iter().for_each(|n| write!(csv, ",{}", field(&format!("p_{n}"))).expect("writing to a String"));
    csv.push('\n');
    for chunk in files.chunks(CHUNK) {
        let probabilities = predict_chunk((model, runner), chunk, format, &job)?;
        for (file, p) in chunk.iter().zip(probabilities.data().chunks(outputs)) {
            let best = (0..outputs).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
            write!(csv, "{},{}", field(&file.display().to_string()), field(&names[best])).expect("writing to a String");
            p.iter().for_each(|v| write!(csv, ",{v}").expect("writing to a String"));
            csv.push('\n');
        }
    }
    match job.out {
        Some(out) => {
            atomic_write(out, csv.as_bytes())?;
            outln!("{} predictions written to {}", files.len(), out.display());
        }
        None => csv.lines().for_each(|line| outln!("{line}")),
    }
    Ok(())
}

/// Decodes, normalises and predicts one chunk of images: probabilities, one row per file.
fn predict_chunk(
    (model, runner): (&mut Model, &mut Runner),
    files: &[PathBuf],
    format: ImageFormat,
    job: &ImagePrediction,
) -> Result<nabla::Tensor> {
    let mut bytes = read_images(files, format)?;
    if job.invert {
        bytes.iter_mut().for_each(|b| *b = 255 - *b);
    }
    let mut rows = ByteRows::new(bytes, files.len(), 255.0);
    let (mean, std) = (job.normalization.mean[0], job.normalization.std[0]);
    rows.map_values(|v| (v - mean) / std);
    let x = Inputs::Bytes(rows).to_tensor();
    Ok(runner.predict(model, &x))
}

/// The image files that `paths` name: a file as it is; a folder's images, or, for an image folder,
/// the images of each class subfolder; in the order given, each folder's sorted.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            if !is_image_file(path) {
                return Err(Error::config(format!("{}: expected a .png, .jpg or .jpeg file", path.display())));
            }
            files.push(path.clone());
        } else if path.is_dir() {
            let found = if is_image_folder(path) {
                let mut subfolders: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| Error::io(path, e))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                subfolders.sort();
                let mut found = image_files(path)?;
                for dir in subfolders {
                    found.extend(image_files(&dir)?);
                }
                found
            } else {
                image_files(path)?
            };
            if found.is_empty() {
                return Err(Error::config(format!("{}: no .png, .jpg or .jpeg file in this folder", path.display())));
            }
            files.extend(found);
        } else {
            return Err(Error::config(format!("--data {}: no such file or folder", path.display())));
        }
    }
    Ok(files)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("a/b.png"), "a/b.png");
        assert_eq!(field("a,b \"c\".png"), "\"a,b \"\"c\"\".png\"");
    }
}
