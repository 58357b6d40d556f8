//! Checkpoints in the safetensors format: one f32 tensor per parameter under its dotted name
//! (`0.weight`), and in the header's metadata the model spec as JSON under `nabla.spec`, so that a
//! checkpoint alone is enough to rebuild, evaluate and use the model. Callers may add their own
//! metadata entries (input normalisation, for example). `nabla.format_version` says which version
//! of the format wrote the file (docs/checkpoint-format.md describes it); files without it are
//! version 1, and a version this build does not know is refused instead of misread.

use super::atomic_write;
use crate::nn::{Model, ModelSpec, Module, SizeLimits};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

const SPEC_KEY: &str = "nabla.spec";
/// The metadata key of the format's version.
pub const FORMAT_VERSION_KEY: &str = "nabla.format_version";
/// The version this build writes; files without [`FORMAT_VERSION_KEY`] are version 1.
pub const FORMAT_VERSION: u32 = 1;
/// The metadata key that a PyTorch export (`nabla export --format torch`) stores its spec under,
/// instead of [`SPEC_KEY`]: its tensors are in PyTorch's layouts, which nabla cannot load as they are.
pub(crate) const TORCH_SPEC_KEY: &str = "nabla.torch.spec";

/// Saves `model` and `metadata` to `path` (atomically).
pub fn save_checkpoint(path: &Path, model: &Model, metadata: &HashMap<String, String>) -> Result<()> {
    let params = model.params();
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = params
        .iter()
        .map(|(name, p)| {
            let b = p.value().data().iter().flat_map(|x| x.to_le_bytes()).collect();
            (name.clone(), b, p.value().shape().to_vec())
        })
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for (name, b, shape) in &bytes {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| Error::config(format!("{}: tensor '{name}': {e}", path.display())))?;
        views.push((name.as_str(), view));
    }
    let mut meta = metadata.clone();
    meta.insert(SPEC_KEY.into(), serde_json::to_string(model.spec()).expect("a spec always serializes"));
    meta.insert(FORMAT_VERSION_KEY.into(), FORMAT_VERSION.to_string());
    meta.insert("format".into(), "pt".into());
    let out = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("{}: cannot serialize: {e}", path.display())))?;
    atomic_write(path, &canonical_header(out))
}

/// The same file with its JSON header's keys sorted. safetensors writes the metadata from a
/// `HashMap`, whose order changes from process to process; sorted keys make the same weights give
/// the same bytes. The header stays padded with spaces to a multiple of 8 bytes, so that the data
/// keeps its alignment.
pub(crate) fn canonical_header(file: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).expect("safetensors wrote valid JSON");
    // serde_json's map is a BTreeMap: printing it sorts the keys
    let mut text = serde_json::to_vec(&header).expect("JSON prints");
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + file.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&file[8 + n..]);
    out
}

/// Loads a model and the checkpoint's metadata from `path`, refused if its spec is larger than
/// the default [`SizeLimits`].
pub fn load_checkpoint(path: &Path) -> Result<(Model, HashMap<String, String>)> {
    load_checkpoint_limited(path, &SizeLimits::default())
}

/// Loads a model and the checkpoint's metadata from `path`. Before the model is allocated, its
/// spec's size is checked against `limits` and against the file: a model whose weights the file
/// cannot hold is refused, so that a lying spec cannot make nabla allocate more than the file's
/// length (plus the model at its declared size).
pub fn load_checkpoint_limited(path: &Path, limits: &SizeLimits) -> Result<(Model, HashMap<String, String>)> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |place: &str, msg: String| Error::format(path, place, msg);
    let (header_len, header) =
        SafeTensors::read_metadata(&buf).map_err(|e| bad("header", format!("not a safetensors file ({e})")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    check_format_version(&metadata).map_err(|message| bad(&format!("metadata '{FORMAT_VERSION_KEY}'"), message))?;
    if !metadata.contains_key(SPEC_KEY) && metadata.contains_key(TORCH_SPEC_KEY) {
        let hint = "a PyTorch export (tensors in PyTorch's layouts): bring it back with `nabla import --from torch`";
        return Err(bad("metadata", format!("no '{SPEC_KEY}' entry: {hint}")));
    }
    let spec_json = metadata
        .get(SPEC_KEY)
        .ok_or_else(|| bad("metadata", format!("no '{SPEC_KEY}' entry: not a nabla checkpoint")))?;
    let spec: ModelSpec =
        serde_json::from_str(spec_json).map_err(|e| bad(&format!("metadata '{SPEC_KEY}'"), e.to_string()))?;
    let size = spec.check_size(limits).map_err(|e| bad(&format!("metadata '{SPEC_KEY}'"), e.to_string()))?;
    // the tensors' offsets are checked against the file's length here, before anything is built
    let tensors = SafeTensors::deserialize(&buf).map_err(|e| bad("tensors", e.to_string()))?;
    let data_bytes = buf.len().saturating_sub(8 + header_len);
    if size.stored > data_bytes / 4 {
        return Err(bad(
            &format!("metadata '{SPEC_KEY}'"),
            format!(
                "the spec's model holds {} numbers ({} bytes of f32), but the file has only {data_bytes} bytes of \
                 tensor data",
                size.stored,
                size.stored.saturating_mul(4)
            ),
        ));
    }
    let mut model = Model::with_limits(spec, &mut Rng::seed(0), limits)
        .map_err(|e| bad(&format!("metadata '{SPEC_KEY}'"), e.to_string()))?;
    for (name, param) in model.params_mut() {
        let view =
            tensors.tensor(&name).map_err(|_| bad(&format!("tensor '{name}'"), "missing: the spec needs it".into()))?;
        let place = format!("tensor '{name}'");
        if view.dtype() != Dtype::F32 {
            return Err(bad(&place, format!("dtype {:?}, expected F32", view.dtype())));
        }
        if view.shape() != param.value().shape() {
            return Err(bad(&place, format!("shape {:?}, the spec expects {:?}", view.shape(), param.value().shape())));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            let hint = "the weights of a diverged run? Retrain with a smaller --lr";
            return Err(bad(&place, format!("value {i} is {}, weights must be finite: {hint}", values[i])));
        }
        *param.value_mut() = Tensor::from_vec(values, view.shape());
    }
    Ok((model, metadata))
}

/// Accepts the versions this build reads: [`FORMAT_VERSION`], or no version entry (files written
/// before the entry existed, which are version 1).
fn check_format_version(metadata: &HashMap<String, String>) -> std::result::Result<(), String> {
    let Some(text) = metadata.get(FORMAT_VERSION_KEY) else { return Ok(()) };
    match text.trim().parse::<u32>() {
        Ok(v) if v == FORMAT_VERSION => Ok(()),
        Ok(v) if v > FORMAT_VERSION => Err(format!(
            "version {v}, but this nabla reads version {FORMAT_VERSION} only: the file comes from a newer nabla \
             (upgrade nabla to read it)"
        )),
        _ => Err(format!("'{text}' is not a version this nabla knows; expected {FORMAT_VERSION}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::nn::Activation;

    #[test]
    fn a_checkpoint_round_trips_weights_spec_and_metadata() {
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Tanh, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(4)).unwrap();
        let dir = std::env::temp_dir().join(format!("nabla-ckpt-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        let meta = HashMap::from([("nabla.note".to_string(), "hello".to_string())]);
        save_checkpoint(&path, &model, &meta).unwrap();
        let (back, meta_back) = load_checkpoint(&path).unwrap();
        assert_eq!(back.spec(), model.spec());
        assert_eq!(meta_back["nabla.note"], "hello");
        assert_eq!(meta_back[FORMAT_VERSION_KEY], "1");
        for ((n1, p1), (n2, p2)) in model.params().iter().zip(back.params()) {
            assert_eq!(n1, &n2);
            assert_eq!(p1.value(), p2.value());
        }
        // a file that is not a checkpoint is an error naming it
        std::fs::write(&path, b"garbage").unwrap();
        let err = load_checkpoint(&path).err().unwrap().to_string();
        assert!(err.contains("m.safetensors") && err.contains("header"), "{err}");
        // non-finite weights (a diverged run's) are refused, naming the tensor
        let mut nan = Model::new(model.spec().clone(), &mut Rng::seed(4)).unwrap();
        nan.params_mut()[1].1.value_mut().data_mut()[2] = f32::NAN;
        save_checkpoint(&path, &nan, &meta).unwrap();
        let err = load_checkpoint(&path).err().unwrap().to_string();
        assert!(err.contains("m.safetensors") && err.contains("value 2 is NaN") && err.contains("finite"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The same file with its metadata entry `key` set to `value`, or removed if `None`.
    fn with_metadata(file: &[u8], key: &str, value: Option<&str>) -> Vec<u8> {
        let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
        let meta = header["__metadata__"].as_object_mut().unwrap();
        match value {
            Some(v) => meta.insert(key.into(), v.into()),
            None => meta.remove(key),
        };
        let mut text = serde_json::to_vec(&header).unwrap();
        text.resize(text.len().next_multiple_of(8), b' ');
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&text);
        out.extend_from_slice(&file[8 + n..]);
        out
    }

    /// Issue 16: files say which format version wrote them; files without the entry (written
    /// before it existed) are version 1, and unknown versions are refused, naming the entry.
    #[test]
    fn the_format_version_is_written_and_unknown_versions_are_refused() {
        let spec = ModelSpec::mlp(4, &[3], 2, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(1)).unwrap();
        let dir = std::env::temp_dir().join(format!("nabla-ckpt-version-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        save_checkpoint(&path, &model, &HashMap::new()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, with_metadata(&bytes, FORMAT_VERSION_KEY, None)).unwrap();
        let (old, meta) = load_checkpoint(&path).unwrap();
        assert!(!meta.contains_key(FORMAT_VERSION_KEY));
        assert_eq!(old.params()[0].1.value(), model.params()[0].1.value());
        for (version, expected) in
            [("2", "version 2, but this nabla reads version 1"), ("1.5", "'1.5' is not a version")]
        {
            std::fs::write(&path, with_metadata(&bytes, FORMAT_VERSION_KEY, Some(version))).unwrap();
            let err = load_checkpoint(&path).err().unwrap().to_string();
            assert!(
                err.contains("m.safetensors") && err.contains(FORMAT_VERSION_KEY) && err.contains(expected),
                "{err}"
            );
        }
        // a PyTorch export is named as such, not as "not a nabla checkpoint"
        let torch = with_metadata(&with_metadata(&bytes, SPEC_KEY, None), TORCH_SPEC_KEY, Some("{}"));
        std::fs::write(&path, torch).unwrap();
        let err = load_checkpoint(&path).err().unwrap().to_string();
        assert!(err.contains("nabla import --from torch"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 11: a checkpoint whose spec declares a model larger than the file could hold, or
    /// larger than the limits, is refused before the model is allocated.
    #[test]
    fn a_spec_larger_than_the_file_or_the_limits_is_refused() {
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Tanh, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(4)).unwrap();
        let dir = std::env::temp_dir().join(format!("nabla-ckpt-lying-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        save_checkpoint(&path, &model, &HashMap::new()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // the spec's hidden layer made 10⁷ wide, the header's length word rewritten to match
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header =
            String::from_utf8(bytes[8..8 + n].to_vec()).unwrap().replace(r#"\"out\":5"#, r#"\"out\":10000000"#);
        assert!(header.contains("10000000"), "the spec was not found in the header");
        let mut lying = (header.len() as u64).to_le_bytes().to_vec();
        lying.extend_from_slice(header.as_bytes());
        lying.extend_from_slice(&bytes[8 + n..]);
        std::fs::write(&path, &lying).unwrap();
        let err = load_checkpoint(&path).err().unwrap().to_string();
        assert!(err.contains("100000003 numbers") && err.contains("bytes of tensor data"), "{err}");
        let small = SizeLimits { max_params: 1000, max_activations: 1000 };
        let err = load_checkpoint_limited(&path, &small).err().unwrap().to_string();
        assert!(err.contains("--max-params"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
