//! The weights of any [`Module`] by name, as PyTorch's `torch.save(model.state_dict())` and
//! `model.load_state_dict(...)`: a safetensors file of one f32 tensor per parameter under its
//! dotted name, without a spec. The code that built the module rebuilds it and loads the weights
//! into it; a spec-built `Model` keeps its spec too with [`super::save_checkpoint`], which is what
//! `nabla eval` and `predict` read.

use super::{atomic_write, canonical_header};
use crate::nn::Module;
use crate::tensor::Tensor;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Saves the parameters of `module` to `path` (atomically), one tensor per dotted name.
///
/// ```
/// use nabla::io::{load_weights, save_weights};
/// use nabla::nn::{Init, Linear, Module, ReLU, Sequential};
/// use nabla::rng::Rng;
/// let net = |seed| {
///     let mut rng = Rng::seed(seed);
///     let mut net = Sequential::new();
///     net.push(Linear::new(3, 4, Init::He, &mut rng));
///     net.push(ReLU);
///     net.push(Linear::new(4, 2, Init::LeCun, &mut rng));
///     net
/// };
/// let path = std::env::temp_dir().join(format!("nabla-doc-weights-{}.safetensors", std::process::id()));
/// save_weights(&path, &net(1)).unwrap();
/// let mut other = net(2);
/// load_weights(&path, &mut other).unwrap();
/// assert_eq!(other.params()[2].1.value(), net(1).params()[2].1.value());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_weights(path: &Path, module: &dyn Module) -> Result<()> {
    let tensors: Vec<(String, Vec<u8>, Vec<usize>)> = module
        .params()
        .iter()
        .map(|(name, p)| {
            let b = p.value().data().iter().flat_map(|x| x.to_le_bytes()).collect();
            (name.clone(), b, p.value().shape().to_vec())
        })
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, b, shape) in &tensors {
        let view = TensorView::new(Dtype::F32, shape.clone(), b)
            .map_err(|e| Error::config(format!("{}: tensor '{name}': {e}", path.display())))?;
        views.push((name.as_str(), view));
    }
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let out = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("{}: cannot serialize: {e}", path.display())))?;
    atomic_write(path, &canonical_header(out))
}

/// Loads the weights in `path` into `module`, whose parameters must all be there under the same
/// names, in F32 and the same shapes, with finite values; the file may hold no other tensor. On
/// an error (naming the file and the tensor) the module is left as it was.
pub fn load_weights(path: &Path, module: &mut dyn Module) -> Result<()> {
    let buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |place: &str, message: String| Error::format(path, place, message);
    let tensors = SafeTensors::deserialize(&buf).map_err(|e| bad("header", format!("not a safetensors file ({e})")))?;
    let mut values = Vec::new();
    for (name, param) in module.params() {
        let place = format!("tensor '{name}'");
        let view = tensors.tensor(&name).map_err(|_| bad(&place, "missing: the module has this parameter".into()))?;
        let expected = param.value().shape();
        if view.dtype() != Dtype::F32 || view.shape() != expected {
            return Err(bad(&place, format!("{:?} {:?}, expected F32 {expected:?}", view.dtype(), view.shape())));
        }
        let v: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(&place, format!("value {i} is {}, weights must be finite", v[i])));
        }
        values.push(Tensor::from_vec(v, view.shape()));
    }
    let names: Vec<String> = module.params().into_iter().map(|(n, _)| n).collect();
    if let Some(extra) = tensors.names().into_iter().find(|n| !names.iter().any(|m| m == *n)) {
        return Err(bad(&format!("tensor '{extra}'"), "the module has no parameter of this name".into()));
    }
    for ((_, p), v) in module.params_mut().into_iter().zip(values) {
        *p.value_mut() = v;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Init, Linear, Sequential};
    use crate::rng::Rng;

    fn net(outputs: usize) -> Sequential {
        let mut net = Sequential::new();
        net.push(Linear::new(3, outputs, Init::He, &mut Rng::seed(outputs as u64)));
        net
    }

    #[test]
    fn other_names_shapes_and_garbage_are_errors_naming_the_tensor() {
        let dir = std::env::temp_dir().join(format!("nabla-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        save_weights(&path, &net(2)).unwrap();
        let mut wrong = net(4);
        let before = wrong.params()[0].1.value().clone();
        let err = load_weights(&path, &mut wrong).unwrap_err().to_string();
        assert!(err.contains("w.safetensors") && err.contains("tensor '0.weight'") && err.contains("[3, 4]"), "{err}");
        assert_eq!(wrong.params()[0].1.value(), &before);
        let mut two = Sequential::new();
        two.push(Linear::new(3, 2, Init::He, &mut Rng::seed(0)));
        two.push(Linear::new(2, 2, Init::He, &mut Rng::seed(0)));
        let err = load_weights(&path, &mut two).unwrap_err().to_string();
        assert!(err.contains("tensor '1.weight'") && err.contains("missing"), "{err}");
        save_weights(&path, &two).unwrap();
        let err = load_weights(&path, &mut net(2)).unwrap_err().to_string();
        assert!(err.contains("tensor '1.") && err.contains("no parameter of this name"), "{err}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load_weights(&path, &mut net(2)).unwrap_err().to_string().contains("not a safetensors file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
