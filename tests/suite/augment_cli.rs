//! End-to-end test of `nabla augment --show N` on the bundled MNIST.

use crate::common::*;
use std::path::Path;

/// (width, height, pixels) of an 8-bit grayscale PNG.
fn decode_gray(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Grayscale, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn augment_show_writes_a_grid_of_originals_and_versions() {
    let s = Scratch::new("show");
    let out = nabla(&["augment", "--show", "3", "--out", "x.png"], &s.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "x.png");
    // 1 original + 7 versions per row, 28-pixel cells with 2-pixel gaps between and around them
    let (w, h, pixels) = decode_gray(&s.0.join("x.png"));
    assert_eq!((w, h), (2 + 8 * (28 + 2), 2 + 3 * (28 + 2)));
    assert_eq!((w, h), (242, 92));
    // the gaps are gray, the digits have ink, and the versions differ from their original
    assert_eq!((pixels[0], pixels[w as usize * 31 + 100]), (96, 96));
    let cell = |row: usize, col: usize| -> Vec<u8> {
        (0..28)
            .flat_map(|y| {
                let start = (2 + row * 30 + y) * w as usize + 2 + col * 30;
                pixels[start..start + 28].to_vec()
            })
            .collect()
    };
    for row in 0..3 {
        let original = cell(row, 0);
        let ink: u32 = original.iter().map(|&p| p as u32).sum();
        assert!(ink > 255 * 50, "row {row}: too little ink in the original ({ink})");
        for col in 1..8 {
            let version = cell(row, col);
            assert_ne!(version, original, "row {row}, version {col} is the original");
            let ink_v: u32 = version.iter().map(|&p| p as u32).sum();
            let ratio = ink_v as f32 / ink as f32;
            assert!((0.6..1.5).contains(&ratio), "row {row}, version {col}: ink ratio {ratio}");
        }
    }

    // the same seed gives the same bytes; elastic distortion gives another grid of the same size
    let again = nabla(&["augment", "--show", "3", "--out", "y.png"], &s.0);
    assert!(again.status.success());
    assert_eq!(std::fs::read(s.0.join("x.png")).unwrap(), std::fs::read(s.0.join("y.png")).unwrap());
    let elastic = nabla(&["augment", "--show", "3", "--elastic", "34,4", "--seed", "2", "--out", "z.png"], &s.0);
    assert!(elastic.status.success(), "{}", String::from_utf8_lossy(&elastic.stderr));
    let (zw, zh, z) = decode_gray(&s.0.join("z.png"));
    assert_eq!((zw, zh), (w, h));
    assert_ne!(z, pixels);
}

#[test]
fn augment_rejects_bad_flags_cleanly() {
    let s = Scratch::new("bad");
    for (args, word) in [
        (&["augment", "--show", "2", "--elastic", "34"][..], "ALPHA,SIGMA"),
        (&["augment", "--show", "2", "--rotate=-5"][..], "rotate"),
        (&["augment", "--show", "0"][..], "--show"),
    ] {
        let out = nabla(args, &s.0);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!stderr.contains("panicked") && stderr.contains(word), "{args:?}: {stderr}");
    }
    assert!(!s.0.join("augment.png").exists());
}
