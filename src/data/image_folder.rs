//! Image folders: `DIR/<class>/<image>.png|.jpg`, one subfolder per class, as torchvision's
//! `ImageFolder` and Keras' `image_dataset_from_directory` read them.
//!
//! Classes are the subfolders' names, sorted (class k is the k-th name); images within a class are
//! taken in name order, so a folder always gives the same rows. Each image is decoded by the
//! `image` crate (PNG or JPEG, told by the bytes, not the name), resized to H × W and turned to
//! gray or RGB, then held as bytes, channel planes first ([C, H, W], as convolutions take them),
//! standing for p/255 in [0, 1]. Files of other extensions (a README, `.DS_Store`) are skipped,
//! as torchvision skips them; a file named as an image that does not decode is an error naming it.

use super::{ByteRows, Dataset, Inputs, RowFile, idx};
use crate::{Error, Result};
use image::imageops::FilterType;
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How images are turned into rows: their size and number of channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageFormat {
    /// Height in pixels, after resizing.
    pub height: usize,
    /// Width in pixels, after resizing.
    pub width: usize,
    /// 1 (gray) or 3 (RGB).
    pub channels: usize,
}

impl ImageFormat {
    /// [C, H, W].
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

/// An image folder's rows and its classes' names.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// One row per image: C·H·W bytes, with one-hot targets and labels.
    pub data: Dataset,
    /// The class names (the subfolders), sorted; label k is `classes[k]`.
    pub classes: Vec<String>,
    /// The file of each row.
    pub files: Vec<PathBuf>,
}

/// Whether `dir` looks like an image folder: it has a subfolder, and no MNIST training images.
pub fn is_image_folder(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let (mut folders, mut idx) = (false, false);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        idx |= name.starts_with("train-images");
        folders |= !name.starts_with('.') && entry.path().is_dir();
    }
    folders && !idx
}

/// Whether a file name has an image extension (png, jpg, jpeg; any case).
pub fn is_image_file(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// The image files directly in `dir`, sorted by name; hidden files are skipped.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_image_file(p) && p.is_file() && !hidden(p))
        .collect();
    files.sort();
    Ok(files)
}

fn hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// An image folder's classes and files, listed in row order but not decoded.
#[derive(Clone, Debug)]
pub struct FolderListing {
    /// The class names (the subfolders), sorted; label k is `classes[k]`.
    pub classes: Vec<String>,
    /// The image files, class by class, each class's in name order: row i is `files[i]`.
    pub files: Vec<PathBuf>,
    /// The label of each file.
    pub labels: Vec<usize>,
}

/// Lists an image folder's classes and images without decoding them. Errors name the folder when
/// it has fewer than two classes or a class has no image.
pub fn list_image_folder(dir: &Path) -> Result<FolderListing> {
    let mut classes: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .filter(|e| e.path().is_dir() && !hidden(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    let layout = "expected one subfolder per class, each holding that class's PNG or JPEG images";
    if classes.len() < 2 {
        let found = match classes.first() {
            Some(name) => format!("one class folder ('{name}')"),
            None => "no class folders".to_string(),
        };
        return Err(Error::format(dir, "image folder", format!("{found}; a classifier needs two or more: {layout}")));
    }
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let class_dir = dir.join(class);
        let found = image_files(&class_dir)?;
        if found.is_empty() {
            return Err(Error::format(&class_dir, "class folder", format!("no .png, .jpg or .jpeg file; {layout}")));
        }
        labels.extend(std::iter::repeat_n(label, found.len()));
        files.extend(found);
    }
    Ok(FolderListing { classes, files, labels })
}

/// Reads an image folder: every image of every class subfolder, decoded in parallel and turned
/// into `format`. Errors are those of [`list_image_folder`], and name the file when an image
/// does not decode.
pub fn load_image_folder(dir: &Path, format: ImageFormat) -> Result<ImageFolder> {
    let FolderListing { classes, files, labels } = list_image_folder(dir)?;
    let bytes = read_images(&files, format)?;
    let inputs = Inputs::Bytes(ByteRows::new(bytes, files.len(), 255.0));
    let data = Dataset::classification(inputs, labels, classes.len(), Some(format.shape()));
    Ok(ImageFolder { data, classes, files })
}

/// As [`load_image_folder`], with the decoded images left on disk, each gathered batch reading
/// its rows: `decoded` gives an uncompressed IDX file of the listed files' images, [N, C, H, W]
/// as [`write_images_idx`] writes it (a data-parallel run's rank 0 writes it once; every rank
/// then reads only its part of each batch). A file of other dimensions is an error naming it.
pub fn load_image_folder_on_disk(
    dir: &Path,
    format: ImageFormat,
    decoded: &dyn Fn(&[PathBuf]) -> Result<PathBuf>,
) -> Result<ImageFolder> {
    let FolderListing { classes, files, labels } = list_image_folder(dir)?;
    let path = decoded(&files)?;
    let file = RowFile::open(&path)?;
    let [c, h, w] = format.shape();
    let expected = [files.len(), c, h, w];
    if file.dims() != expected {
        let found = file.dims().to_vec();
        let what = format!("{found:?}; expected {expected:?} for the {} images of {}", files.len(), dir.display());
        return Err(Error::format(&path, "dimensions", what));
    }
    let inputs = Inputs::Bytes(ByteRows::on_disk(file, 255.0));
    let data = Dataset::classification(inputs, labels, classes.len(), Some(format.shape()));
    Ok(ImageFolder { data, classes, files })
}

/// Writes the images of `files`, decoded into `format`, as an IDX file of unsigned bytes
/// [N, C, H, W] to `out` (`out_path` names it in errors): decoded in parallel a chunk at a time,
/// so that the folder is never whole in memory.
pub fn write_images_idx(files: &[PathBuf], format: ImageFormat, out: &mut dyn Write, out_path: &Path) -> Result<()> {
    let dims = [files.len(), format.channels, format.height, format.width];
    if dims.iter().any(|&d| u32::try_from(d).is_err()) {
        return Err(Error::format(out_path, "dimensions", format!("{dims:?}: an IDX dimension must be below 2^32")));
    }
    out.write_all(&idx::header(&dims)).map_err(|e| Error::io(out_path, e))?;
    // enough images per chunk to keep every core decoding, few enough to stay small
    for chunk in files.chunks(1024) {
        out.write_all(&read_images(chunk, format)?).map_err(|e| Error::io(out_path, e))?;
    }
    Ok(())
}

/// Decodes `files` in parallel, each into `format`'s C·H·W bytes, one after another.
pub fn read_images(files: &[PathBuf], format: ImageFormat) -> Result<Vec<u8>> {
    let images: Vec<Vec<u8>> = files.par_iter().map(|f| read_image(f, format)).collect::<Result<_>>()?;
    Ok(images.concat())
}

/// Decodes one PNG or JPEG file, resizes it to H × W and returns its bytes as C planes of H rows.
pub fn read_image(path: &Path, format: ImageFormat) -> Result<Vec<u8>> {
    let decoded = image::ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?
        .decode()
        .map_err(|e| Error::format(path, "image", format!("{}; expected a PNG or JPEG image", e.to_string().trim())))?;
    let (w, h) = (format.width as u32, format.height as u32);
    // Triangle (bilinear) filtering: smooth enough for shrinking photos, cheap for small images.
    let resized = if decoded.width() == w && decoded.height() == h {
        decoded
    } else {
        decoded.resize_exact(w, h, FilterType::Triangle)
    };
    Ok(match format.channels {
        1 => resized.to_luma8().into_raw(),
        _ => planes(&resized.to_rgb8().into_raw(), 3),
    })
}

/// Interleaved pixels (RGBRGB…) as channel planes (RR…GG…BB…).
fn planes(interleaved: &[u8], channels: usize) -> Vec<u8> {
    (0..channels).flat_map(|c| interleaved.iter().skip(c).step_by(channels).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scratch;
    use image::{GrayImage, Luma, Rgb, RgbImage};

    const GRAY: ImageFormat = ImageFormat { height: 4, width: 4, channels: 1 };

    /// A folder of two classes: `dark` (images of value 10) and `light` (200), two PNGs each, and
    /// one JPEG in `light`.
    fn folder(dir: &Scratch) {
        for (class, value) in [("light", 200u8), ("dark", 10)] {
            std::fs::create_dir_all(dir.0.join(class)).unwrap();
            for i in 0..2 {
                GrayImage::from_pixel(8, 8, Luma([value])).save(dir.0.join(format!("{class}/{i}.png"))).unwrap();
            }
        }
        RgbImage::from_pixel(4, 4, Rgb([200, 200, 200])).save(dir.0.join("light/2.JPG")).unwrap();
        dir.write("light/notes.txt", b"not an image");
    }

    #[test]
    fn classes_are_sorted_subfolders_and_images_are_resized_bytes() {
        let dir = Scratch::new("image-folder");
        folder(&dir);
        assert!(is_image_folder(&dir.0));
        let set = load_image_folder(&dir.0, GRAY).unwrap();
        assert_eq!(set.classes, vec!["dark", "light"]);
        assert_eq!(set.data.labels, Some(vec![0, 0, 1, 1, 1]));
        assert_eq!(set.data.inputs.shape(), &[5, 16]);
        assert_eq!(set.data.image_shape, Some([1, 4, 4]));
        let x = set.data.inputs.to_tensor();
        assert_eq!(x.data()[0], 10.0 / 255.0);
        assert_eq!(x.data()[2 * 16], 200.0 / 255.0);
        // a JPEG of one flat colour stays within a level or two of it
        assert!((x.data()[4 * 16] * 255.0 - 200.0).abs() <= 2.0, "{}", x.data()[4 * 16] * 255.0);
        assert!(set.files[4].ends_with("light/2.JPG"));
    }

    #[test]
    fn rgb_images_become_channel_planes() {
        let dir = Scratch::new("image-folder-rgb");
        for class in ["a", "b"] {
            std::fs::create_dir_all(dir.0.join(class)).unwrap();
            RgbImage::from_pixel(2, 2, Rgb([1, 2, 3])).save(dir.0.join(format!("{class}/x.png"))).unwrap();
        }
        let set = load_image_folder(&dir.0, ImageFormat { height: 2, width: 2, channels: 3 }).unwrap();
        let Inputs::Bytes(rows) = &set.data.inputs else { panic!("images are bytes") };
        assert_eq!(&rows.bytes()[..12], &[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    }

    #[test]
    fn errors_name_the_folder_or_the_file() {
        let dir = Scratch::new("image-folder-errors");
        let message = |dir: &Path| load_image_folder(dir, GRAY).unwrap_err().to_string();
        assert!(message(&dir.0).contains("no class folders"), "{}", message(&dir.0));
        std::fs::create_dir_all(dir.0.join("cat")).unwrap();
        dir.write("cat/a.png", b"\x89PNG broken");
        assert!(message(&dir.0).contains("one class folder ('cat')"), "{}", message(&dir.0));
        std::fs::create_dir_all(dir.0.join("dog")).unwrap();
        let m = message(&dir.0);
        assert!(m.contains("dog") && m.contains("no .png, .jpg or .jpeg file"), "{m}");
        GrayImage::from_pixel(2, 2, Luma([0])).save(dir.0.join("dog/b.png")).unwrap();
        let m = message(&dir.0);
        assert!(m.contains("cat/a.png") && m.contains("expected a PNG or JPEG image"), "{m}");
    }
}
