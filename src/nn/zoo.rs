//! The model zoo and spec files: specs read from TOML (the format is described in [`super::spec`]),
//! and the zoo's models, whose TOML files in `models/` are compiled into the binary.

use super::{Layer, ModelSpec};
use crate::{Error, Result};
use std::path::Path;

/// The zoo: (name, TOML text) of each built-in model.
pub const ZOO: [(&str, &str); 10] = [
    ("mlp", include_str!("../../models/mlp.toml")),
    ("mlp-dropout", include_str!("../../models/mlp-dropout.toml")),
    ("lenet5", include_str!("../../models/lenet5.toml")),
    ("lenet5-modern", include_str!("../../models/lenet5-modern.toml")),
    ("lstm-rows", include_str!("../../models/lstm-rows.toml")),
    ("gru-rows", include_str!("../../models/gru-rows.toml")),
    ("bilstm-rows", include_str!("../../models/bilstm-rows.toml")),
    ("googlenet", include_str!("../../models/googlenet.toml")),
    ("googlenet-mnist", include_str!("../../models/googlenet-mnist.toml")),
    ("char-lstm", include_str!("../../models/char-lstm.toml")),
];

impl ModelSpec {
    /// Reads a spec from TOML text; `origin` (a file, or `models/<name>.toml` for the zoo) names it
    /// in errors. An unknown layer type, an unknown field or a missing field is an error naming
    /// the layer's index and type. Shapes are not checked here: see [`ModelSpec::shapes`].
    pub fn from_toml(text: &str, origin: &Path) -> Result<ModelSpec> {
        let table: toml::Table = toml::from_str(text).map_err(|e| Error::format(origin, "TOML", e.to_string()))?;
        let whole = table.clone().try_into::<ModelSpec>();
        whole.map_err(|e| {
            // find the layer that failed, so that the message can name it
            let layers = table.get("layers").and_then(toml::Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            for (i, value) in layers.iter().enumerate() {
                if let Err(layer_err) = value.clone().try_into::<Layer>() {
                    let kind = value.get("type").and_then(toml::Value::as_str).unwrap_or("without a type");
                    return Error::format(origin, format!("layer {i} ({kind})"), layer_err.message());
                }
            }
            Error::format(origin, "model spec", e.message())
        })
    }

    /// The spec as TOML text (what [`ModelSpec::from_toml`] reads back).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a spec always serializes to TOML")
    }

    /// The zoo model `name` (`mlp`, `lenet5`, `lenet5-modern`), or `None`.
    pub fn zoo(name: &str) -> Option<ModelSpec> {
        let (_, text) = ZOO.iter().find(|(n, _)| *n == name)?;
        let origin = format!("models/{name}.toml");
        Some(ModelSpec::from_toml(text, Path::new(&origin)).expect("the zoo's specs are valid (tested)"))
    }

    /// A zoo model by name, or a spec file (TOML; JSON, as stored in checkpoints, if it ends in
    /// `.json`), with its shapes checked.
    pub fn load(name_or_file: &str) -> Result<ModelSpec> {
        let spec = match ModelSpec::zoo(name_or_file) {
            Some(spec) => spec,
            None => {
                let path = Path::new(name_or_file);
                if !path.is_file() {
                    let names: Vec<&str> = ZOO.iter().map(|(n, _)| *n).collect();
                    return Err(Error::config(format!(
                        "--model {name_or_file}: neither a zoo model ({}) nor a spec file",
                        names.join(", ")
                    )));
                }
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                if path.extension().is_some_and(|e| e == "json") {
                    serde_json::from_str(&text).map_err(|e| Error::format(path, "model spec", e.to_string()))?
                } else {
                    ModelSpec::from_toml(&text, path)?
                }
            }
        };
        spec.shapes().map_err(|e| Error::config(format!("{name_or_file}: {e}")))?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::nn::Activation;
    use crate::nn::{Conv2dSpec, LayerSpec, Size2};

    #[test]
    fn zoo_specs_round_trip_through_toml_and_json() {
        for (name, _) in ZOO {
            let spec = ModelSpec::zoo(name).unwrap();
            assert_eq!(spec.name, name);
            spec.shapes().unwrap();
            let toml_text = spec.to_toml();
            assert_eq!(ModelSpec::from_toml(&toml_text, Path::new("x.toml")).unwrap(), spec, "{toml_text}");
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec, "{json}");
        }
    }

    #[test]
    fn the_zoo_mlp_is_the_flag_built_mlp() {
        let flags = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
        assert_eq!(ModelSpec::zoo("mlp").unwrap(), flags);
    }

    #[test]
    fn lenet5_c3_is_table_one_of_the_paper() {
        let spec = ModelSpec::zoo("lenet5").unwrap();
        let c3 = spec.layers.iter().find(|l| l.name.as_deref() == Some("C3")).unwrap();
        let LayerSpec::Conv2d(Conv2dSpec { connections: Some(table), kernel: Size2(5, 5), .. }) = &c3.spec else {
            panic!("C3 is not a partially connected 5×5 convolution: {c3:?}")
        };
        // Table I, row by row: which C3 maps each S2 map feeds ('X' in the paper)
        let rows = [
            "X...XXX..XXXX.XX",
            "XX...XXX..XXXX.X",
            "XXX...XXX..X.XXX",
            ".XXX..XXXX..X.XX",
            "..XXX..XXXX.XX.X",
            "...XXX..XXXX.XXX",
        ];
        for (s2, row) in rows.iter().enumerate() {
            for (c3_map, mark) in row.chars().enumerate() {
                assert_eq!(table[c3_map].contains(&s2), mark == 'X', "S2 map {s2}, C3 map {c3_map}");
            }
        }
    }

    /// Table 1 of Szegedy et al. (2015): each stage's output size and multiply-adds ("ops"), which
    /// the built model's weights reproduce. (The table's parameter column disagrees with its own
    /// channel counts by up to 7% and is not used; its ops for 5a, 54M, is 51.1M by the same
    /// counts, and its conv1 figures are misprints.)
    #[test]
    fn googlenet_is_table_one_of_the_paper() {
        let spec = ModelSpec::zoo("googlenet").unwrap();
        let shapes = spec.shapes().unwrap();
        let net = spec.build(&mut crate::rng::Rng::seed(0)).unwrap();
        let index = |name: &str| spec.layers.iter().position(|l| l.name.as_deref() == Some(name)).unwrap();
        // multiply-adds of layer `i`: its weights (biases left out, as the paper counts) times
        // the positions of its output
        let macs = |i: usize| {
            let weights: usize = crate::nn::Module::params(&net)
                .iter()
                .filter(|(n, _)| n.starts_with(&format!("{i}.")) && n.ends_with("weight"))
                .map(|(_, p)| p.value().numel())
                .sum();
            weights * shapes[i][1] * shapes[i][2]
        };
        let table: [(&str, [usize; 3], usize); 14] = [
            ("conv1/7x7_s2", [64, 112, 112], 0),
            ("pool1/3x3_s2", [64, 56, 56], 0),
            ("conv2/3x3", [192, 56, 56], 0),
            ("pool2/3x3_s2", [192, 28, 28], 0),
            ("inception_3a", [256, 28, 28], 128),
            ("inception_3b", [480, 28, 28], 304),
            ("pool3/3x3_s2", [480, 14, 14], 0),
            ("inception_4a", [512, 14, 14], 73),
            ("inception_4b", [512, 14, 14], 88),
            ("inception_4c", [512, 14, 14], 100),
            ("inception_4d", [528, 14, 14], 119),
            ("inception_4e", [832, 14, 14], 170),
            ("inception_5b", [1024, 7, 7], 71),
            ("pool5/7x7_s1", [1024, 1, 1], 0),
        ];
        for (name, shape, ops) in table {
            let i = index(name);
            assert_eq!(shapes[i], shape, "{name}");
            if ops > 0 {
                let m = macs(i) as f64 / 1e6;
                assert!((m - ops as f64).abs() <= 1.0, "{name}: {m:.1}M multiply-adds, the paper says {ops}M");
            }
        }
        // conv2 is the 1×1 reduce and the 3×3 together in the table: 360M
        let conv2 = (macs(index("conv2/3x3_reduce")) + macs(index("conv2/3x3"))) as f64 / 1e6;
        assert!((conv2 - 360.0).abs() <= 1.0, "conv2: {conv2:.1}M");
        assert_eq!(shapes.last().unwrap(), &[1000]);
        // the two auxiliary heads sit on 4a's and 4d's outputs
        assert_eq!(index("loss1"), index("inception_4a") + 1);
        assert_eq!(index("loss2"), index("inception_4d") + 1);
    }

    #[test]
    fn googlenet_trains_through_its_auxiliary_heads_and_drops_them_for_inference() {
        use crate::autodiff::{Var, no_grad};
        use crate::nn::{Model, Module};
        let mut model = Model::new(ModelSpec::zoo("googlenet").unwrap(), &mut crate::rng::Rng::seed(1)).unwrap();
        let x = Var::constant(crate::rng::Rng::seed(2).normal_tensor(&[1, 3, 224, 224], 1.0));
        let (u, side) = model.forward_train(&x);
        assert_eq!(u.shape(), &[1, 1000]);
        let sides: Vec<(f32, Vec<usize>)> = side.iter().map(|(w, s)| (*w, s.shape().to_vec())).collect();
        assert_eq!(sides, [(0.3, vec![1, 1000]), (0.3, vec![1, 1000])]);
        let t = crate::tensor::Tensor::from_vec((0..1000).map(|i| f32::from(i == 7)).collect(), &[1, 1000]);
        let loss = model.spec().loss;
        let mut e = loss.apply(&u, &t);
        for (w, s) in &side {
            e = e.add(&loss.apply(s, &t).scale(*w));
        }
        let grads = e.backward();
        let missing: Vec<String> =
            model.params().into_iter().filter(|(_, p)| grads.get_param(p).is_none()).map(|(n, _)| n).collect();
        assert!(missing.is_empty(), "no gradient for {missing:?}");
        model.set_training(false);
        let (_, side) = no_grad(|| model.forward_train(&x));
        assert!(side.is_empty());
    }

    #[test]
    fn spec_file_errors_name_the_layer() {
        let origin = Path::new("my.toml");
        let head = "name = \"x\"\ninput = [1, 8, 8]\nloss = \"softmax-cross-entropy\"\n";
        let cases = [
            (
                "[[layers]]\ntype = \"relu\"\n[[layers]]\ntype = \"conv3d\"\nout = 2\n",
                "layer 1 (conv3d)",
                "unknown variant",
            ),
            ("[[layers]]\ntype = \"conv2d\"\nout = 2\n", "layer 0 (conv2d)", "missing field `kernel`"),
            ("[[layers]]\ntype = \"linear\"\nout = 2\nbias = false\n", "layer 0 (linear)", "unknown field `bias`"),
            ("[[layers]]\nout = 2\n", "layer 0 (without a type)", "type"),
        ];
        for (layers, place, what) in cases {
            let err = ModelSpec::from_toml(&format!("{head}{layers}"), origin).unwrap_err().to_string();
            assert!(err.contains("my.toml") && err.contains(place) && err.contains(what), "{err}");
        }
        let err = ModelSpec::from_toml("name = \"x\"\ninput = [4]\n", origin).unwrap_err().to_string();
        assert!(err.contains("model spec") && err.contains("missing field"), "{err}");
        let err = ModelSpec::from_toml("name = ", origin).unwrap_err().to_string();
        assert!(err.contains("my.toml: TOML"), "{err}");
        assert!(ModelSpec::load("no-such-model").unwrap_err().to_string().contains("lenet5-modern"));
    }
}
