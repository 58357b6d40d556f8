//! The fuzzer's seed files (small valid files of each format, made here), its format-aware
//! mutations, and the readers it runs on them.

use super::mutate::{mutate, mutate_text};
use super::{FUZZ_LIMITS, Format, MAX_FORWARD};
use crate::data::{CsvOptions, TargetColumn, Task, load_csv, load_mnist, read_gray_png, read_idx};
use crate::io::onnx::{InputScaling, RawInput, import_onnx, onnx_bytes, proto::ModelProto};
use crate::io::{load_checkpoint_limited, save_checkpoint};
use crate::nn::{Model, ModelSpec, ZOO};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The seed files of a format.
pub struct Corpus {
    files: Vec<Vec<u8>>,
}

/// An IDX file of unsigned bytes.
pub fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip into a Vec");
    encoder.finish().expect("gzip into a Vec")
}

/// A small MNIST set: `n` images (pixels from `rng`) and their labels.
fn mnist_pair(n: u32, rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n as usize * 784).map(|_| rng.next_u64() as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (idx(&[n, 28, 28], &pixels), idx(&[n], &labels))
}

/// A PNG of `w` × `h` pixels of `color` at `depth` (`palette` for indexed images).
fn png_file(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    if color == png::ColorType::Indexed {
        encoder.set_palette((0..12).map(|i| i * 20).collect::<Vec<u8>>());
    }
    let mut writer = encoder.write_header().expect("PNG header into a Vec");
    let bits = color.samples() * depth as usize;
    let size = (w as usize * bits).div_ceil(8) * h as usize;
    let data: Vec<u8> = (0..size)
        .map(|_| if color == png::ColorType::Indexed { (rng.below(4)) as u8 } else { rng.next_u64() as u8 })
        .collect();
    writer.write_image_data(&data).expect("PNG data into a Vec");
    writer.finish().expect("PNG into a Vec");
    bytes
}

/// Small specs of every layer kind; the zoo is added to them (but GoogLeNet at 224 × 224, whose
/// 7 million weights would make each case slow; googlenet-mnist has the same kinds).
const SPECS: [&str; 3] = [
    r#"name = "tiny-cnn"
input = [2, 9, 9]
loss = "softmax-cross-entropy"
[[layers]]
type = "conv2d"
out = 4
kernel = 3
padding = 1
connections = [[0], [1], [0, 1], [1, 0]]
[[layers]]
type = "maxpool2d"
kernel = 3
stride = 2
padding = 1
[[layers]]
type = "lrn"
size = 3
[[layers]]
type = "pad"
padding = [1, 2]
value = -0.5
[[layers]]
type = "avgpool2d"
kernel = 2
[[layers]]
type = "subsample"
kernel = [1, 2]
[[layers]]
type = "flatten"
[[layers]]
type = "dropout"
p = 0.25
[[layers]]
type = "linear"
out = 7
[[layers]]
type = "gelu"
[[layers]]
type = "rbf"
out = 3
"#,
    r#"name = "tiny-rnn"
input = [4, 3]
loss = "least-squares"
[[layers]]
type = "rnn"
hidden = 5
sequence = true
[[layers]]
type = "lstm"
hidden = 2
[[layers]]
type = "scale"
factor = 0.5
[[layers]]
type = "sigmoid"
"#,
    r#"name = "tiny-inception"
input = [3, 6, 6]
loss = "sigmoid-cross-entropy"
[[layers]]
type = "inception"
1x1 = 2
3x3_reduce = 2
3x3 = 3
5x5_reduce = 1
5x5 = 2
pool_proj = 1
[[layers]]
type = "auxiliary"
weight = 0.3
layers = [{ type = "avgpool2d", kernel = 3 }, { type = "flatten" }, { type = "linear", out = 4 }]
[[layers]]
type = "avgpool2d"
kernel = 6
[[layers]]
type = "flatten"
[[layers]]
type = "linear"
out = 4
"#,
];

/// The seed files of `format`; checkpoints are saved through `dir`.
pub fn corpus(format: Format, dir: &Path) -> Result<Corpus> {
    let mut rng = Rng::seed(0);
    let files = match format {
        Format::Idx | Format::IdxGz => {
            // pairs of (images, labels) one after the other; the odd dimensions read alone
            let mut files = Vec::new();
            for n in [1, 3] {
                let (images, labels) = mnist_pair(n, &mut rng);
                files.push(images);
                files.push(labels);
            }
            files.push(idx(&[2, 3], &[1, 2, 3, 4, 5, 6]));
            files.push(idx(&[1, 1, 1, 1], &[7]));
            files
        }
        Format::Csv => vec![
            b"x1,x2,x3,label\n0.5,1,2,0\n1.5,-2,3e2,1\n\n2,\"3\",4,2\n0,0,0,1\n".to_vec(),
            b"1,2,3\n4,5,6\n7,8,9\n10,11,12\n".to_vec(),
            b"a,b\n1.25,0\n-3,1\n".to_vec(),
        ],
        Format::Seq => vec![
            b"# tags\n0.5,1;0,1;1,0 | B;I;O\n1,0;0.25,1 | O;B\n".to_vec(),
            b"1;2;3 | up\n3;2 | down\n\n5 | up\n".to_vec(),
        ],
        Format::Png => {
            use png::{BitDepth as D, ColorType as C};
            vec![
                png_file(28, 28, C::Grayscale, D::Eight, &mut rng),
                png_file(5, 4, C::Rgb, D::Eight, &mut rng),
                png_file(3, 3, C::Rgba, D::Sixteen, &mut rng),
                png_file(4, 2, C::GrayscaleAlpha, D::Eight, &mut rng),
                png_file(7, 3, C::Indexed, D::Two, &mut rng),
                png_file(9, 2, C::Grayscale, D::One, &mut rng),
            ]
        }
        Format::Spec => {
            let mut files: Vec<Vec<u8>> = SPECS.iter().map(|s| s.as_bytes().to_vec()).collect();
            files.extend(ZOO.iter().filter(|(name, _)| *name != "googlenet").map(|(_, text)| text.as_bytes().to_vec()));
            files
        }
        Format::Checkpoint => {
            let mut files = Vec::new();
            let mut specs: Vec<ModelSpec> = SPECS
                .iter()
                .map(|text| ModelSpec::from_toml(text, Path::new("seed.toml")).expect("the seed specs are valid"))
                .collect();
            specs.push(ModelSpec::zoo("mlp").expect("in the zoo"));
            specs[3].layers.truncate(1); // 784 → 10 rather than 784 → 512 → …: a small file
            specs[3].layers[0] = crate::nn::LayerSpec::Linear(crate::nn::LinearSpec { out: 10, init: None }).into();
            for (i, spec) in specs.into_iter().enumerate() {
                let model = Model::new(spec, &mut rng)?;
                let path = dir.join(format!("seed-{i}.safetensors"));
                let meta = HashMap::from([("nabla.norm".to_string(), "0.1307,0.3081".to_string())]);
                save_checkpoint(&path, &model, &meta)?;
                files.push(std::fs::read(&path).map_err(|e| Error::io(&path, e))?);
            }
            files
        }
        Format::Onnx => {
            // the small specs, and a GRU and a one-hot model, as `nabla export` writes them
            let mut specs: Vec<ModelSpec> = SPECS
                .iter()
                .map(|text| ModelSpec::from_toml(text, Path::new("seed.toml")).expect("the seed specs are valid"))
                .collect();
            let mut gru = ModelSpec::zoo("gru-rows").expect("in the zoo");
            if let crate::nn::LayerSpec::Gru(g) = &mut gru.layers[0].spec {
                (g.hidden, g.layers, g.bidirectional) = (4, 2, true);
            }
            specs.push(gru);
            let mut text = ModelSpec::zoo("char-lstm").expect("in the zoo");
            text.input = vec![5];
            specs.push(text);
            let mut files = Vec::new();
            for spec in specs {
                let one_hot = matches!(spec.layers[0].spec, crate::nn::LayerSpec::OneHot(_));
                let model = Model::new(spec, &mut rng)?;
                let scaling = match one_hot {
                    true => InputScaling::symbols(),
                    false => InputScaling { raw: RawInput::Pixels, mean: vec![0.1307], std: vec![0.3081] },
                };
                files.push(onnx_bytes(&model, &scaling)?);
            }
            files
        }
    };
    Ok(Corpus { files })
}

/// The offsets of the IDX header's words.
fn idx_words(file: &[u8]) -> Vec<usize> {
    let ndims = file.get(3).copied().unwrap_or(0) as usize;
    (0..=ndims).map(|i| 4 * i).collect()
}

/// A mutated file of `format`: the first line of the returned bytes' meaning depends on the
/// format (see [`read`]).
pub fn mutated(format: Format, corpus: &Corpus, rng: &mut Rng) -> Vec<u8> {
    let pick = |rng: &mut Rng| corpus.files[rng.below(corpus.files.len())].clone();
    match format {
        Format::Idx => {
            let mut file = pick(rng);
            let words = idx_words(&file);
            mutate(rng, &mut file, &words, true);
            file
        }
        Format::IdxGz => {
            let mut file = pick(rng);
            if rng.below(2) == 0 {
                // under the compression: the reader sees the mutation itself
                let words = idx_words(&file);
                mutate(rng, &mut file, &words, true);
                if rng.below(8) == 0 {
                    // a bomb: a lying header over data that compresses a thousand times
                    file.resize(file.len() + rng.below(1 << 20), 0);
                }
                gzip(&file)
            } else {
                let mut z = gzip(&file);
                let n = z.len();
                // the trailer's size word (a capacity hint to a naive reader) lies more often
                mutate(rng, &mut z, &[n.saturating_sub(4), n.saturating_sub(8)], false);
                z
            }
        }
        Format::Csv | Format::Spec | Format::Seq => {
            let mut file = pick(rng);
            mutate_text(rng, &mut file);
            file
        }
        Format::Png => {
            let mut file = pick(rng);
            // IHDR's width and height, and the first chunk lengths
            mutate(rng, &mut file, &[8, 16, 20, 33], true);
            if rng.below(4) != 0 {
                fix_png_crcs(&mut file);
            }
            file
        }
        Format::Checkpoint => {
            let mut file = pick(rng);
            if rng.below(2) == 0 {
                mutate(rng, &mut file, &[0], false);
            } else {
                // under the header's length word: the JSON (shapes, offsets, the spec) lies
                let n = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
                let mut header = file[8..8 + n].to_vec();
                mutate_text(rng, &mut header);
                let mut out = (header.len() as u64).to_le_bytes().to_vec();
                out.extend_from_slice(&header);
                out.extend_from_slice(&file[8 + n..]);
                file = out;
            }
            file
        }
        Format::Onnx => {
            let mut file = pick(rng);
            match ModelProto::decode(&file[..]) {
                // under the protobuf: an initialiser's shape or data, or the stored spec, lies
                Ok(mut onnx) if rng.below(2) == 0 => {
                    let graph = onnx.graph.as_mut().expect("the seeds have graphs");
                    let k = rng.below(graph.initializer.len());
                    let t = &mut graph.initializer[k];
                    match rng.below(3) {
                        0 => {
                            let mut spec = onnx.metadata_props[0].value.clone().into_bytes();
                            mutate_text(rng, &mut spec);
                            onnx.metadata_props[0].value = String::from_utf8_lossy(&spec).into_owned();
                        }
                        1 if !t.dims.is_empty() => {
                            let d = rng.below(t.dims.len());
                            t.dims[d] = [0, -1, t.dims[d] + 1, i64::MAX, 1 << 40][rng.below(5)];
                        }
                        _ => t.raw_data.truncate(rng.below(t.raw_data.len() + 1)),
                    }
                    file = onnx.encode_to_vec();
                }
                _ => mutate(rng, &mut file, &[], false),
            }
            file
        }
    }
}

/// CRC-32 (ISO-HDLC, PNG's).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Rewrites the CRC of every whole chunk, so that a mutation inside one reaches the decoder.
pub fn fix_png_crcs(file: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= file.len() {
        let len = u32::from_be_bytes(file[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= file.len()) else { break };
        let crc = crc32(&file[at + 4..end]);
        file[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// Builds the model of `spec` under the fuzzer's limits and runs it on one sample.
fn build_and_run(spec: ModelSpec, rng: &mut Rng) -> Result<()> {
    let size = spec.check_size(&FUZZ_LIMITS)?;
    let mut model = Model::with_limits(spec, rng, &FUZZ_LIMITS)?;
    run_one(&mut model, size.activations)
}

fn run_one(model: &mut Model, activations: usize) -> Result<()> {
    if activations <= MAX_FORWARD {
        let x = Tensor::zeros(&[1, model.spec().input_size()]);
        let _ = model.predict(&x);
    }
    Ok(())
}

/// Reads `file` as `format` with the reader nabla uses, through a file in `dir`.
pub fn read(format: Format, file: &[u8], dir: &Path, rng: &mut Rng) -> Result<()> {
    let write = |name: &str, bytes: &[u8]| -> Result<std::path::PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    };
    match format {
        Format::Idx | Format::IdxGz => {
            let gz = if format == Format::IdxGz { ".gz" } else { "" };
            let path = write(&format!("file.idx{gz}"), file)?;
            let alone = read_idx(&path);
            // as an MNIST folder too: the mutated file as the images or the labels, beside a valid
            // partner, and a valid test set
            let (images, labels) = mnist_pair(2, rng);
            let wrap = |b: &[u8]| if gz.is_empty() { b.to_vec() } else { gzip(b) };
            let (images, labels) =
                if rng.below(2) == 0 { (file.to_vec(), wrap(&labels)) } else { (wrap(&images), file.to_vec()) };
            write(&format!("train-images-idx3-ubyte{gz}"), &images)?;
            write(&format!("train-labels-idx1-ubyte{gz}"), &labels)?;
            let (images, labels) = mnist_pair(1, &mut Rng::seed(1));
            write(&format!("t10k-images-idx3-ubyte{gz}"), &wrap(&images))?;
            write(&format!("t10k-labels-idx1-ubyte{gz}"), &wrap(&labels))?;
            // the file alone decides Ok or Err (a folder of a mutated file is almost never valid)
            let _ = load_mnist(dir);
            alone.map(|_| ())
        }
        Format::Csv => {
            let path = write("table.csv", file)?;
            let target = match rng.below(3) {
                0 => TargetColumn::Index(rng.below(4)),
                1 => TargetColumn::Name("label".into()),
                _ => TargetColumn::Name("b".into()),
            };
            let task = if rng.below(2) == 0 { Task::Classification } else { Task::Regression };
            let header = [None, Some(true), Some(false)][rng.below(3)];
            load_csv(&path, &CsvOptions { target, task, header }).map(|_| ())
        }
        Format::Png => read_gray_png(&write("image.png", file)?).map(|_| ()),
        Format::Seq => crate::data::sequences::load_sequences(&write("lines.seq", file)?).map(|_| ()),
        Format::Spec => {
            let path = write("spec.toml", file)?;
            let spec = ModelSpec::load(path.to_str().expect("a UTF-8 temp path"))?;
            spec.summary()?;
            build_and_run(spec, rng)
        }
        Format::Checkpoint => {
            let path = write("model.safetensors", file)?;
            let (mut model, _) = load_checkpoint_limited(&path, &FUZZ_LIMITS)?;
            let activations = model.spec().size()?.activations;
            run_one(&mut model, activations)
        }
        Format::Onnx => {
            let path = write("model.onnx", file)?;
            let mut model = import_onnx(&path, None, &FUZZ_LIMITS)?.model;
            let activations = model.spec().size()?.activations;
            run_one(&mut model, activations)
        }
    }
}
