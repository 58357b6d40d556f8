//! Reading PNG images as gray values (what `nabla predict` classifies and `nabla conv` filters).
//! The decoder keeps the `png` crate's memory limit (64 MiB for the decoded image), so that a
//! header claiming a huge image is an error, not an allocation.

use crate::{Error, Result};
use std::path::Path;

/// The most bytes a decoded image may take (the `png` crate's default limit): 4096 × 4096 RGBA.
const MAX_DECODED: usize = 64 << 20;

/// The pixels of a PNG as gray values in [0, 1], with its width and height.
pub fn read_gray_png(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    // 16-bit samples become 8-bit and palettes become colours, so only four layouts remain below
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| Error::format(path, "PNG header", e.to_string()))?;
    // png 0.18.1 expands a palette whose length is not a multiple of 3 with an out-of-bounds
    // slice (a panic); such a PLTE chunk is invalid (PNG spec 11.2.3), so it is refused here
    if let Some(palette) = &reader.info().palette
        && (palette.is_empty() || !palette.len().is_multiple_of(3) || palette.len() > 3 * 256)
    {
        let message = format!("{} bytes, expected 3 per entry and at most 256 entries", palette.len());
        return Err(Error::format(path, "PNG PLTE chunk", message));
    }
    let size =
        reader.output_buffer_size().ok_or_else(|| Error::format(path, "PNG header", "image too large".to_string()))?;
    // the header's width and height are checked before the buffer for them is allocated (the
    // crate's own limit covers only what it allocates itself)
    if size > MAX_DECODED {
        let (w, h) = reader.info().size();
        let message = format!("a {w}×{h} image needs {size} bytes decoded, more than the {MAX_DECODED} nabla reads");
        return Err(Error::format(path, "PNG header", message));
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| Error::format(path, "PNG data", e.to_string()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(Error::format(path, "PNG color type", "an indexed image that could not be expanded"));
        }
    };
    let gray = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|px| {
            let v = if channels >= 3 { (px[0] as f32 + px[1] as f32 + px[2] as f32) / 3.0 } else { px[0] as f32 };
            v / 255.0
        })
        .collect();
    Ok((gray, w, h))
}
