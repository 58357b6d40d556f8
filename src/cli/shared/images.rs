//! Image folders on the command line: the `--image-size` and `--grayscale` flags, the default
//! normalisation (the training pixels' own mean and std), and the class names that a checkpoint
//! carries so that eval and predict can name classes.

use super::source::Normalization;
use nabla::data::{Dataset, ImageFormat, Inputs};
use nabla::nn::Model;
use nabla::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The checkpoint metadata key of the class names (a JSON array of strings): any classifier
/// trained on named classes (an image folder's subfolders, a table's class column).
const CLASSES_KEY: &str = "nabla.classes";

/// The checkpoint metadata key of the images' format (`{"channels", "height", "width"}`) that a
/// model was trained on, which eval and predict then read image files into.
const IMAGE_KEY: &str = "nabla.image";

/// How an image folder's pictures become rows.
#[derive(clap::Args, Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageArgs {
    /// For an image folder: resize every image to HxW pixels (default: the model's input size,
    /// 28x28 for the zoo's MNIST models).
    #[arg(long, value_name = "HxW")]
    pub image_size: Option<String>,
    /// For an image folder: turn images to gray (the default for models of 1-channel input;
    /// others take RGB).
    #[arg(long)]
    pub grayscale: bool,
    /// The model's input shape, set by the command before loading: the default size and channels.
    #[arg(skip)]
    #[serde(skip)]
    pub model_input: Option<Vec<usize>>,
    /// The format the model was trained on (from its checkpoint), set by eval and predict: the
    /// default, and what the flags must agree with.
    #[arg(skip)]
    #[serde(skip)]
    pub trained: Option<ImageFormat>,
}

impl ImageArgs {
    /// The size and channels images are turned into: the format the model was trained on if it is
    /// known (flags that differ from it are an error), else the flags, else what the model takes.
    pub fn format(&self) -> Result<ImageFormat> {
        let size = self.image_size.as_deref().map(parse_size).transpose()?;
        if let Some(trained) = self.trained {
            let size_differs = size.is_some_and(|s| s != (trained.height, trained.width));
            if size_differs || (self.grayscale && trained.channels != 1) {
                return Err(Error::config(format!(
                    "the model was trained on {}x{} images of {} channel(s), but {} asks for other ones; \
                     leave the flag out (images are read as in training)",
                    trained.height,
                    trained.width,
                    trained.channels,
                    if size_differs { "--image-size" } else { "--grayscale" }
                )));
            }
            return Ok(trained);
        }
        let square = |n: usize| (n > 0 && n.isqrt() * n.isqrt() == n).then_some((n.isqrt(), n.isqrt()));
        // (channels, size) that the model's input implies
        let (channels, model_size) = match self.model_input.as_deref() {
            Some(&[c, h, w]) => (c, Some((h, w))),
            Some(&[h, w]) => (1, Some((h, w))),
            // an MLP on flattened images: H·W gray values, or 3·H·W for RGB
            Some(&[n]) => match size {
                Some((h, w)) => (if n == 3 * h * w { 3 } else { 1 }, None),
                None => match (square(n), square(n / 3).filter(|_| n % 3 == 0)) {
                    (Some(hw), _) => (1, Some(hw)),
                    (None, Some(hw)) => (3, Some(hw)),
                    (None, None) => (1, None),
                },
            },
            // a model built from the data (--hidden): as the flags say
            _ => (3, None),
        };
        let channels = if self.grayscale { 1 } else { channels };
        if channels != 1 && channels != 3 {
            return Err(Error::config(format!(
                "the model takes images of {channels} channels; an image folder gives 1 (--grayscale) or 3 (RGB)"
            )));
        }
        let (height, width) = size.or(model_size).unwrap_or((28, 28));
        Ok(ImageFormat { height, width, channels })
    }
}

/// Parses `HxW` (e.g. `28x28`) into (H, W), both positive and at most 4096.
fn parse_size(text: &str) -> Result<(usize, usize)> {
    let parsed =
        text.split_once(['x', 'X', '×']).and_then(|(h, w)| Some((h.trim().parse().ok()?, w.trim().parse().ok()?)));
    match parsed {
        Some((h, w)) if (1..=4096).contains(&h) && (1..=4096).contains(&w) => Ok((h, w)),
        _ => Err(Error::config(format!("--image-size {text}: expected HxW, two sizes from 1 to 4096 (e.g. 28x28)"))),
    }
}

/// The mean and std of every training pixel (one of each, in [0, 1] units): an image folder's
/// default normalisation, as MNIST's 0.1307 and 0.3081 are its own.
pub fn pixel_statistics(train: &Dataset) -> Result<Normalization> {
    // a histogram of the 256 byte values gives exact sums in one pass over the bytes
    let (counts, values) = match &train.inputs {
        Inputs::Bytes(rows) => {
            let mut counts = [0u64; 256];
            rows.scan(&mut |bytes| bytes.iter().for_each(|&b| counts[b as usize] += 1))?;
            (counts.to_vec(), rows.values().to_vec())
        }
        Inputs::F32(t) => (vec![1; t.numel()], t.data().to_vec()),
    };
    let n = counts.iter().sum::<u64>().max(1) as f64;
    let mean = counts.iter().zip(&values).map(|(&c, &v)| c as f64 * v as f64).sum::<f64>() / n;
    let var = counts.iter().zip(&values).map(|(&c, &v)| c as f64 * (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt() as f32;
    Ok(Normalization { mean: vec![mean as f32], std: vec![if std > 0.0 { std } else { 1.0 }] })
}

/// The checkpoint metadata that [`classes_from_checkpoint`] reads back.
pub fn classes_meta(classes: &[String]) -> HashMap<String, String> {
    let json = serde_json::to_string(classes).expect("strings always serialize");
    HashMap::from([(CLASSES_KEY.to_string(), json)])
}

/// The class names in a checkpoint's metadata, if it has them; `path` names it in errors.
pub fn classes_from_checkpoint(path: &Path, meta: &HashMap<String, String>) -> Result<Option<Vec<String>>> {
    let Some(text) = meta.get(CLASSES_KEY) else { return Ok(None) };
    let names = serde_json::from_str(text)
        .map_err(|e| Error::format(path, format!("metadata '{CLASSES_KEY}'"), e.to_string()))?;
    Ok(Some(names))
}

/// The checkpoint metadata that [`image_from_checkpoint`] reads back.
pub fn image_meta(shape: [usize; 3]) -> HashMap<String, String> {
    let [channels, height, width] = shape;
    let json = serde_json::json!({ "channels": channels, "height": height, "width": width }).to_string();
    HashMap::from([(IMAGE_KEY.to_string(), json)])
}

/// The image format in a checkpoint's metadata, if it has one; `path` names it in errors.
pub fn image_from_checkpoint(path: &Path, meta: &HashMap<String, String>) -> Result<Option<ImageFormat>> {
    let Some(text) = meta.get(IMAGE_KEY) else { return Ok(None) };
    let bad = |why: String| Error::format(path, format!("metadata '{IMAGE_KEY}'"), why);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let field = |name: &str| {
        value[name]
            .as_u64()
            .filter(|&n| (1..=4096).contains(&n))
            .map(|n| n as usize)
            .ok_or_else(|| bad(format!("'{name}': expected a whole number from 1 to 4096")))
    };
    let format = ImageFormat { channels: field("channels")?, height: field("height")?, width: field("width")? };
    if format.channels != 1 && format.channels != 3 {
        return Err(bad(format!("'channels' {}: expected 1 or 3", format.channels)));
    }
    Ok(Some(format))
}

/// Checks that the data's classes are the model's, in the same order; the error lists both.
pub fn check_classes(weights: &Path, model: &[String], data: &[String], what: &str) -> Result<()> {
    if model == data {
        return Ok(());
    }
    Err(Error::config(format!(
        "{}: the model was trained on the classes [{}], but {what} has [{}]; expected the same class folders",
        weights.display(),
        model.join(", "),
        data.join(", ")
    )))
}

/// (samples, correct) for each class of `data`, by the model's most probable class.
pub fn per_class(model: &mut Model, data: &Dataset, classes: usize) -> Vec<(usize, usize)> {
    let mut counts = vec![(0, 0); classes];
    let Some(labels) = &data.labels else { return counts };
    let rows: Vec<usize> = (0..data.len()).collect();
    for chunk in rows.chunks(1000) {
        let predicted = model.predict(&data.inputs.gather_rows(chunk)).argmax_rows();
        for (&r, p) in chunk.iter().zip(predicted) {
            let count = &mut counts[labels[r]];
            count.0 += 1;
            count.1 += usize::from(p == labels[r]);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(input: Option<&[usize]>, size: Option<&str>, grayscale: bool) -> ImageArgs {
        ImageArgs {
            image_size: size.map(String::from),
            grayscale,
            model_input: input.map(<[usize]>::to_vec),
            trained: None,
        }
    }

    #[test]
    fn the_format_follows_the_flags_else_the_model() {
        let f = |input, size, gray| args(input, size, gray).format().map(|f| f.shape());
        assert_eq!(f(Some(&[1, 28, 28]), None, false).unwrap(), [1, 28, 28]);
        assert_eq!(f(Some(&[3, 32, 32]), None, false).unwrap(), [3, 32, 32]);
        assert_eq!(f(Some(&[3, 32, 32]), Some("8x16"), true).unwrap(), [1, 8, 16]);
        assert_eq!(f(Some(&[784]), None, false).unwrap(), [1, 28, 28]);
        assert_eq!(f(Some(&[192]), None, false).unwrap(), [3, 8, 8]);
        assert_eq!(f(Some(&[192]), Some("8x8"), false).unwrap(), [3, 8, 8]);
        assert_eq!(f(None, Some("8X8"), false).unwrap(), [3, 8, 8]);
        assert!(f(Some(&[4, 8, 8]), None, false).unwrap_err().to_string().contains("4 channels"));
        assert!(f(None, Some("0x8"), false).unwrap_err().to_string().contains("--image-size 0x8"));
        assert!(f(None, Some("28"), false).is_err());
    }

    #[test]
    fn the_trained_format_comes_back_from_the_checkpoint_and_rules_the_flags() {
        let meta = image_meta([3, 8, 16]);
        let trained = image_from_checkpoint(Path::new("w"), &meta).unwrap().unwrap();
        assert_eq!(trained.shape(), [3, 8, 16]);
        assert_eq!(image_from_checkpoint(Path::new("w"), &HashMap::new()).unwrap(), None);
        // an MLP's 384 inputs (3·8·16) are a guess without the stored format, which then rules
        let mut a = args(Some(&[384]), None, false);
        assert_eq!(a.format().unwrap().shape(), [1, 28, 28]);
        a.trained = Some(trained);
        assert_eq!(a.format().unwrap().shape(), [3, 8, 16]);
        a.image_size = Some("8x16".into());
        assert_eq!(a.format().unwrap().shape(), [3, 8, 16]);
        a.image_size = Some("16x8".into());
        assert!(a.format().unwrap_err().to_string().contains("--image-size"));
        a.image_size = None;
        a.grayscale = true;
        assert!(a.format().unwrap_err().to_string().contains("--grayscale"));
        let bad = HashMap::from([(IMAGE_KEY.to_string(), r#"{"channels": 2, "height": 8, "width": 8}"#.to_string())]);
        assert!(image_from_checkpoint(Path::new("w"), &bad).unwrap_err().to_string().contains("'channels' 2"));
    }

    #[test]
    fn pixel_statistics_are_those_of_the_values() {
        let rows = nabla::data::ByteRows::new(vec![0, 255, 0, 255], 2, 255.0);
        let data = Dataset {
            inputs: Inputs::Bytes(rows),
            targets: nabla::Tensor::zeros(&[2, 1]),
            labels: None,
            image_shape: None,
            lengths: None,
        };
        let norm = pixel_statistics(&data).unwrap();
        assert_eq!((norm.mean[0], norm.std[0]), (0.5, 0.5));
    }

    #[test]
    fn class_names_round_trip_through_the_metadata() {
        let names = vec!["cat".to_string(), "dog".to_string()];
        let meta = classes_meta(&names);
        assert_eq!(classes_from_checkpoint(Path::new("w"), &meta).unwrap(), Some(names.clone()));
        assert_eq!(classes_from_checkpoint(Path::new("w"), &HashMap::new()).unwrap(), None);
        let other = vec!["cat".to_string(), "fox".to_string()];
        let e = check_classes(Path::new("w"), &names, &other, "--data d").unwrap_err().to_string();
        assert!(e.contains("[cat, dog]") && e.contains("[cat, fox]"), "{e}");
    }
}
