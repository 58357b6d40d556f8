//! `nabla augment --show N`: see what data augmentation does to MNIST digits before training with
//! it. Writes a PNG grid with one row per image: the original, then [`VERSIONS`] augmented versions.
//!
//! The augmentation flags ([`AugmentArgs`], in `shared/augment_flags.rs`) are shared with `nabla train`, where a flag that is not
//! given is off; here they default to a visible but mild `--translate 2 --rotate 10 --scale 0.1`.

use super::shared::augment_flags::AugmentArgs;
use super::shared::print::outln;
use super::shared::source::{MNIST_MEAN, MNIST_STD, bundled_mnist};
use clap::Args;
use nabla::data::{augment_batch, load_mnist};
use nabla::io::atomic_write;
use nabla::{Error, Result};
use std::path::PathBuf;

/// Augmented versions shown beside each original.
const VERSIONS: usize = 7;
/// Gray pixels between the cells of the grid and around it.
const GAP: usize = 2;
/// The gap's gray level: between MNIST's black background and white ink.
const GAP_GRAY: u8 = 96;

/// The flags of `nabla augment`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Show the first N training images, each beside 7 augmented versions.
    #[arg(long, value_name = "N")]
    pub show: usize,
    /// Defaults here: --translate 2 --rotate 10 --scale 0.1, no elastic distortion.
    #[command(flatten)]
    pub aug: AugmentArgs,
    /// Seed of the draws: the same seed gives the same grid.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The PNG grid to write.
    #[arg(long, default_value = "augment.png")]
    pub out: PathBuf,
    /// A folder of MNIST IDX files (default: the bundled copy).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Loads the first `--show` training images, augments each [`VERSIONS`] times and writes the grid,
/// (1 + VERSIONS)·(28 + GAP) + GAP pixels wide and N·(28 + GAP) + GAP high, atomically to `--out`.
pub fn run(args: ShowArgs) -> Result<()> {
    if args.show == 0 {
        return Err(Error::config("--show N: N must be at least 1 (the number of images to show)"));
    }
    let flags = AugmentArgs {
        translate: args.aug.translate.or(Some(2.0)),
        rotate: args.aug.rotate.or(Some(10.0)),
        scale: args.aug.scale.or(Some(0.1)),
        elastic: args.aug.elastic.clone(),
    };
    let aug = flags.to_augmentation()?;
    let dir = args.data.clone().unwrap_or_else(bundled_mnist);
    let (mut train, _) = load_mnist(&dir)?;
    train = train.take(args.show);
    let [_, h, w] = train.image_shape.ok_or_else(|| Error::config(format!("{}: not images", dir.display())))?;
    // augment as training would: normalised pixels, blank = the normalised 0
    train.normalize(MNIST_MEAN, MNIST_STD);
    let n = train.len();
    let repeated: Vec<usize> = (0..n).flat_map(|i| [i; VERSIONS]).collect();
    let augmented =
        augment_batch(&train.inputs.gather_rows(&repeated), (h, w), &aug, -MNIST_MEAN / MNIST_STD, args.seed);

    // row i: the original, then its versions
    let (cell_w, cell_h) = (w + GAP, h + GAP);
    let (width, height) = (GAP + (1 + VERSIONS) * cell_w, GAP + n * cell_h);
    let mut gray = vec![GAP_GRAY; width * height];
    let originals = train.inputs.to_tensor();
    let originals = originals.data().chunks(h * w);
    let versions = augmented.data().chunks(h * w * VERSIONS);
    for (i, (original, versions)) in originals.zip(versions).enumerate() {
        for (j, image) in std::iter::once(original).chain(versions.chunks(h * w)).enumerate() {
            for (y, row) in image.chunks(w).enumerate() {
                let start = (GAP + i * cell_h + y) * width + GAP + j * cell_w;
                for (px, &v) in gray[start..start + w].iter_mut().zip(row) {
                    *px = ((v * MNIST_STD + MNIST_MEAN).clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let encoded = encoder.write_header().and_then(|mut writer| writer.write_image_data(&gray));
    encoded.map_err(|e| Error::config(format!("{}: encoding the PNG failed: {e}", args.out.display())))?;
    atomic_write(&args.out, &bytes)?;
    outln!("{}", args.out.display());
    Ok(())
}
