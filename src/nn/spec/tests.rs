//! Tests of parsing, checking and building whole specs; each kind's own rules are tested in its
//! file.

use super::*;
use crate::nn::{DropoutRule, Module, RbfInit, Size2};

/// A model of `layers`, written as the JSON array a checkpoint stores, over `input`.
pub(crate) fn spec_of(input: &[usize], layers: &str) -> ModelSpec {
    let json = format!(r#"{{"name":"t","input":{input:?},"loss":"softmax-cross-entropy","layers":{layers}}}"#);
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn mlp_spec_round_trips_through_json_and_builds() {
    let spec = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
    let json = serde_json::to_string(&spec).unwrap();
    assert!(json.contains(r#"{"type":"linear","out":512},{"type":"relu"}"#), "{json}");
    let back: ModelSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
    let net = spec.build(&mut Rng::seed(0)).unwrap();
    assert_eq!(net.num_parameters(), 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
    let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
}

/// The JSON of a checkpoint written before convolutions existed still loads.
#[test]
fn an_mlp_spec_of_the_first_format_still_parses() {
    let old = r#"{"name":"mlp","input":[784],"layers":[{"type":"linear","out":64},{"type":"relu"},
        {"type":"linear","out":10}],"loss":"softmax-cross-entropy"}"#;
    let spec: ModelSpec = serde_json::from_str(old).unwrap();
    assert_eq!(spec, ModelSpec::mlp(784, &[64], 10, Activation::Relu, Loss::SoftmaxCrossEntropy));
}

/// Every kind writes the JSON it reads, with its defaults left out.
#[test]
fn every_kind_round_trips_through_json() {
    let layers = r#"[{"type":"pad","padding":2,"value":-0.1},{"type":"conv2d","out":4,"kernel":[3,2],"init":"he"},
        {"type":"maxpool2d","kernel":2,"padding":1},{"type":"avgpool2d","kernel":2,"stride":1},
        {"type":"subsample","kernel":2},{"type":"lrn","size":3},{"type":"dropout","p":0.5},
        {"type":"scale","factor":-1.0},{"type":"inception","1x1":1,"3x3_reduce":1,"3x3":1,"5x5_reduce":1,
        "5x5":1,"pool_proj":1},{"type":"auxiliary","weight":0.3,"layers":[{"type":"flatten"}]},
        {"type":"flatten","name":"F"},{"type":"rbf","out":10,"init":"digits"},{"type":"rnn","hidden":3},
        {"type":"lstm","hidden":3,"sequence":true},{"type":"linear","out":2},{"type":"relu"},{"type":"gelu"},
        {"type":"sigmoid"},{"type":"tanh"},{"type":"scaled-tanh"},{"type":"identity"}]"#;
    let spec = spec_of(&[1, 8, 8], layers);
    let json = serde_json::to_string(&spec).unwrap();
    assert!(json.contains(r#"{"type":"lrn","size":3,"alpha":0.0001,"beta":0.75,"k":1.0}"#), "{json}");
    assert!(json.contains(r#"{"name":"F","type":"flatten"}"#), "{json}");
    assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
    for &a in Activation::ALL {
        let layer = LayerSpec::activation(a);
        assert_eq!((layer.kind(), layer.as_activation()), (a.name(), Some(a)));
        assert_eq!(layer.as_kind().init_before(), Some(a.init_before()));
    }
    // the GPU has kernels for every kind so far
    let off_gpu: Vec<&str> = spec.layers.iter().filter(|l| !l.spec.as_kind().gpu()).map(|l| l.spec.kind()).collect();
    assert!(off_gpu.is_empty(), "{off_gpu:?}");
    assert!(LayerSpec::activation(Activation::Gelu).as_kind().gpu());
}

#[test]
fn the_default_init_is_the_one_the_next_layer_asks_for() {
    let var = |layers: &str| {
        let w = spec_of(&[400], layers).build(&mut Rng::seed(0)).unwrap().params()[0].1.value().clone();
        w.data().iter().map(|x| x * x).sum::<f32>() / w.numel() as f32
    };
    // He draws 2/400, LeCun 1/400, Xavier 2/(400 + 300)
    let next =
        |act: &str| var(&format!(r#"[{{"type":"linear","out":300}},{{"type":"{act}"}},{{"type":"linear","out":2}}]"#));
    for (act, want) in [("relu", 2.0 / 400.0), ("gelu", 2.0 / 400.0), ("identity", 1.0 / 400.0), ("tanh", 2.0 / 700.0)]
    {
        let got = next(act);
        assert!((got / want - 1.0).abs() < 0.05, "before {act}: variance {got}, want {want}");
    }
    let last = var(r#"[{"type":"linear","out":300}]"#);
    assert!((last * 400.0 - 1.0).abs() < 0.05, "last layer: LeCun, got variance {last}");
}

#[test]
fn shape_errors_name_the_layer_its_type_and_the_shapes() {
    let conv = |out: usize, k: usize| format!(r#"{{"type":"conv2d","out":{out},"kernel":{k}}}"#);
    let cases: Vec<(Vec<usize>, String, &str)> = vec![
        (vec![4], r#"[{"type":"linear","out":0}]"#.into(), "layer 0 (linear): out = 0 (input shape [4])"),
        (
            vec![1, 8, 8],
            format!(r#"[{},{{"type":"maxpool2d","kernel":2}},{}]"#, conv(2, 5), conv(3, 5)),
            "layer 2 (conv2d): kernel 5×5 does not fit input shape [2, 2, 2]",
        ),
        (
            vec![1, 8, 8],
            format!(r#"[{},{{"type":"linear","out":3}}]"#, conv(2, 3)),
            "layer 1 (linear): needs a flat input (add a flatten layer before it), got shape [2, 6, 6]",
        ),
        (vec![784], format!("[{}]", conv(2, 3)), "layer 0 (conv2d): needs an image input C×H×W, got shape [784]"),
        (
            vec![2, 8, 8],
            r#"[{"type":"conv2d","out":2,"kernel":3,"connections":[[0],[1,2]]}]"#.into(),
            "layer 0 (conv2d): connections[1] names input map 2, but there are 2 (0 to 1) (input shape [2, 8, 8])",
        ),
        (
            vec![1, 6, 6],
            r#"[{"type":"flatten"},{"type":"rbf","out":10,"init":"digits"}]"#.into(),
            "layer 1 (rbf): init = \"digits\" needs 84 inputs",
        ),
        (
            vec![1, 6, 6],
            r#"[{"type":"maxpool2d","kernel":3,"padding":[2,1]}]"#.into(),
            "layer 0 (maxpool2d): padding 2×1 is more than half the kernel 3×3",
        ),
        (
            vec![1, 6, 6],
            r#"[{"type":"inception","1x1":0,"3x3_reduce":2,"3x3":3,"5x5_reduce":1,"5x5":2,"pool_proj":2}]"#.into(),
            "layer 0 (inception): 1x1 = 0 (input shape [1, 6, 6])",
        ),
        (
            vec![1, 6, 6],
            r#"[{"type":"auxiliary","weight":0.3,"layers":[{"type":"linear","out":10}]}]"#.into(),
            "layer 0 (auxiliary): head layer 0 (linear): needs a flat input",
        ),
        (
            vec![1, 6, 6],
            r#"[{"type":"auxiliary","weight":0.3,"layers":[{"type":"flatten"},{"type":"linear","out":9}]},
                {"type":"flatten"},{"type":"linear","out":10}]"#
                .into(),
            "layer 0 (auxiliary): the head ends in shape [9] but the model's output is [10]",
        ),
        (vec![4], r#"[{"type":"dropout","p":1.0}]"#.into(), "layer 0 (dropout): p = 1 must be in [0, 1)"),
    ];
    for (input, layers, want) in cases {
        let err = spec_of(&input, &layers).shapes().unwrap_err().to_string();
        assert!(err.contains(want), "{err}\n  does not contain\n{want}");
    }
    let named = spec_of(&[3], r#"[{"type":"linear","out":0,"name":"F6"}]"#);
    let err = named.shapes().unwrap_err().to_string();
    assert!(err.contains("layer 0 (linear 'F6')"), "{err}");
}

#[test]
fn unknown_layers_and_fields_are_rejected() {
    let parse = |layer: &str| {
        serde_json::from_str::<ModelSpec>(&format!(
            r#"{{"name":"x","input":[4],"loss":"least-squares","layers":[{layer}]}}"#
        ))
    };
    assert!(parse(r#"{"type":"conv9"}"#).is_err());
    assert!(parse(r#"{"type":"relu","out":3}"#).is_err(), "a field on a layer without fields");
    assert!(parse(r#"{"type":"gelu","approximate":"tanh"}"#).is_err(), "a field on an activation");
    assert!(parse(r#"{"type":"flatten","dims":1}"#).is_err(), "a field on flatten");
    assert!(parse(r#"{"type":"linear"}"#).is_err(), "a missing field");
    assert!(parse(r#"{"type":"linear","out":3,"bias":false}"#).is_err(), "an unknown field");
    assert!(parse(r#"{"type":"conv2d","out":3,"kernel":[3,2,1]}"#).is_err(), "a size of three numbers");
    let ok = parse(r#"{"type":"conv2d","out":3,"kernel":[3,2],"name":"C1"}"#).unwrap();
    assert_eq!(ok.layers[0].name.as_deref(), Some("C1"));
    let LayerSpec::Conv2d(conv) = &ok.layers[0].spec else { panic!("{:?}", ok.layers[0]) };
    assert_eq!((conv.kernel, conv.stride), (Size2(3, 2), Size2(1, 1)));
}

#[test]
fn dropout_and_rbf_fields_parse_with_their_defaults() {
    let spec = spec_of(&[4], r#"[{"type":"dropout","p":0.5,"rule":"weight-scaling"},{"type":"rbf","out":3}]"#);
    assert_eq!(spec.layers[0].spec, LayerSpec::Dropout(DropoutSpec { p: 0.5, rule: DropoutRule::WeightScaling }));
    assert_eq!(spec.layers[1].spec, LayerSpec::Rbf(crate::nn::RbfSpec { out: 3, init: RbfInit::Random }));
    assert_eq!(spec.build(&mut Rng::seed(0)).unwrap().len(), 2);
}

#[test]
fn input_map_is_a_normalisation() {
    let (mean, std) = InputMap { zero: -0.1, one: 1.175 }.mean_std();
    for (x, want) in [(0.0f32, -0.1f32), (1.0, 1.175), (0.5, 0.5375)] {
        assert!(((x - mean) / std - want).abs() < 1e-6);
    }
}

/// Issue 11: huge layer sizes are refused from the shapes alone, before anything is allocated,
/// with an error naming the model, the count and the way to raise the limit; sizes that would
/// overflow (padding 2⁶³ − 1, an input of 2⁶⁴ values) are errors, not wrapped numbers or panics.
#[test]
fn huge_and_overflowing_sizes_are_refused_before_building() {
    let huge = spec_of(&[784], r#"[{"type":"linear","out":1000000000},{"type":"linear","out":10}]"#);
    let err = huge.build(&mut Rng::seed(0)).err().unwrap().to_string();
    assert!(
        err.contains("model 't'") && err.contains("795000000010 parameters") && err.contains("--max-params"),
        "{err}"
    );
    // a raised limit admits it (checked, not built: 3 TB)
    let raised = SizeLimits::unlimited();
    assert_eq!(huge.check_size(&raised).unwrap().stored, 795_000_000_010);
    let lstm = spec_of(&[28, 28], r#"[{"type":"lstm","hidden":100000000},{"type":"linear","out":10}]"#);
    assert!(lstm.build(&mut Rng::seed(0)).err().unwrap().to_string().contains("parameters"));
    // values per sample: a pad that makes each map 20001 × 20001
    let wide = spec_of(&[1, 1, 1], r#"[{"type":"pad","padding":10000}]"#);
    let err = wide.build(&mut Rng::seed(0)).err().unwrap().to_string();
    assert!(err.contains("400040002 values per sample") && err.contains("--max-activations"), "{err}");
    let overflowing = [
        (
            vec![1, 28, 28],
            r#"[{"type":"pad","padding":9223372036854775807}]"#,
            "padding 9223372036854775807 is too large",
        ),
        (vec![1, 28, 28], r#"[{"type":"conv2d","out":2,"kernel":3,"padding":9223372036854775807}]"#, "too large"),
        (vec![1, 28, 28], r#"[{"type":"maxpool2d","kernel":2,"padding":9223372036854775807}]"#, "more than half"),
        (vec![1 << 32, 1 << 32], r#"[{"type":"flatten"}]"#, "input shape [4294967296, 4294967296] is too large"),
        (vec![1 << 32, 1, 1], r#"[{"type":"pad","padding":[2147483648, 2147483648]}]"#, "output shape"),
        (
            vec![1, 4, 4],
            r#"[{"type":"inception","1x1":18446744073709551615,"3x3_reduce":1,"3x3":1,"5x5_reduce":1,"5x5":1,"pool_proj":1}]"#,
            "add up past",
        ),
    ];
    for (input, layers, want) in overflowing {
        let spec = spec_of(&input, layers);
        let err = spec.shapes().err().unwrap_or_else(|| panic!("{layers} was accepted")).to_string();
        assert!(err.contains(want), "{layers}: {err}");
        assert!(spec.build(&mut Rng::seed(0)).is_err() && spec.summary().is_err());
    }
    // counts that fit no 64-bit number are an error in the summary, not a wrapped figure
    let counted = spec_of(&[1 << 31], r#"[{"type":"linear","out":9223372036854775807}]"#);
    assert!(counted.summary().err().unwrap().to_string().contains("do not fit in 64 bits"));
    assert!(counted.size().unwrap().stored == usize::MAX && counted.build(&mut Rng::seed(0)).is_err());
}

/// The numbers the built model's parameters hold, masked weights included.
fn stored(spec: &ModelSpec) -> usize {
    spec.build(&mut Rng::seed(0)).unwrap().params().iter().map(|(_, p)| p.value().numel()).sum()
}

/// A connection table's conv still stores the whole out × C × KH × KW weight: that is what the
/// limits count.
#[test]
fn the_size_counts_what_the_layers_store() {
    let spec = spec_of(&[3, 8, 8], r#"[{"type":"conv2d","out":2,"kernel":3,"connections":[[0],[1,2]]}]"#);
    let size = spec.size().unwrap();
    assert_eq!(size.stored, 2 * 3 * 9 + 2);
    assert_eq!(size.stored, stored(&spec));
    // the input, the conv's input again, its im2col columns (3·3·3 per output position), its output
    assert_eq!(size.activations, 3 * 64 + 3 * 64 + 27 * 36 + 2 * 36);
    // found by the fuzzer (spec, seed 2024, case 78023): an inception module whose 5×5 reduce
    // makes 65536 maps of 6×6 computes 59 million im2col values per sample for its 5×5 conv,
    // though its output is 8 maps
    let inception = r#"[{"type":"inception","1x1":2,"3x3_reduce":2,"3x3":3,"5x5_reduce":65536,"5x5":2,"pool_proj":1}]"#;
    let size = spec_of(&[3, 6, 6], inception).size().unwrap();
    assert!(size.activations > 65536 * 25 * 36 && size.stored < 4_000_000, "{size:?}");
    for (name, _) in crate::nn::ZOO {
        let spec = ModelSpec::zoo(name).unwrap();
        let size = spec.check_size(&SizeLimits::default()).unwrap();
        if name != "googlenet" {
            assert_eq!(size.stored, stored(&spec), "{name}");
        }
    }
}
