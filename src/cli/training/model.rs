//! The model of a training run: its spec as the flags ask for it, and its one-line description.

use super::flags::TrainArgs;
use nabla::loss::Loss;
use nabla::nn::Activation;
use nabla::nn::{DropoutRule, DropoutSpec, Init, InputMap, LayerSpec, ModelSpec};
use nabla::{Error, Result};

/// The spec of the model to train on data of `inputs` inputs and `outputs` targets: the settled
/// --model's `spec` (its loss replaced by --loss if given), else an MLP of --hidden with the
/// dropout flags; then --init and `input_map`. A spec that does not fit the data, or dropout
/// flags with a spec, are configuration errors.
pub fn model_spec(
    args: &TrainArgs,
    spec: Option<ModelSpec>,
    loss: Loss,
    (inputs, outputs): (usize, usize),
    input_map: Option<InputMap>,
) -> Result<ModelSpec> {
    let spec = match spec {
        Some(mut spec) => {
            if args.loss.is_some() {
                spec.loss = loss;
            }
            if spec.input_size() != inputs || spec.output_size()? != outputs {
                return Err(Error::config(format!(
                    "--model {}: the model takes {} inputs (shape {:?}) and gives {} outputs, but --data {} has {} \
                     inputs and {} targets",
                    args.model.as_deref().unwrap_or_default(),
                    spec.input_size(),
                    spec.input,
                    spec.output_size()?,
                    args.data.data,
                    inputs,
                    outputs
                )));
            }
            spec
        }
        None => {
            let hidden = args.hidden_widths()?;
            let activation = Activation::parse(&args.activation)?;
            let rule = args.dropout_rule()?;
            with_dropout(
                ModelSpec::mlp(inputs, &hidden, outputs, activation, loss),
                args.input_dropout,
                args.dropout,
                rule,
            )
        }
    };
    if (args.dropout > 0.0 || args.input_dropout > 0.0) && args.model.is_some() {
        return Err(Error::config(
            "--dropout and --input-dropout apply to MLPs (--hidden); put dropout layers in the spec file",
        ));
    }
    let mut spec = match &args.init {
        Some(name) => spec.with_init(Init::parse(name)?),
        None => spec,
    };
    spec.input_map = input_map;
    Ok(spec)
}

/// An MLP spec with dropout p_in on its inputs and p on each hidden layer's output (after its
/// activation), where the lecture puts it.
fn with_dropout(mut spec: ModelSpec, p_in: f32, p: f32, rule: DropoutRule) -> ModelSpec {
    let mut layers = Vec::new();
    if p_in > 0.0 {
        layers.push(LayerSpec::Dropout(DropoutSpec { p: p_in, rule }).into());
    }
    let last = spec.layers.len() - 1;
    for (i, layer) in spec.layers.into_iter().enumerate() {
        let is_activation = layer.spec.as_activation().is_some();
        layers.push(layer);
        if p > 0.0 && is_activation && i < last {
            layers.push(LayerSpec::Dropout(DropoutSpec { p, rule }).into());
        }
    }
    spec.layers = layers;
    spec
}

/// "mlp 784-512-512-10 relu" for an MLP; for other models the input shape, the layer types and
/// the outputs: "lenet5-modern 1×28×28 conv2d relu maxpool2d … linear → 10".
pub fn describe(spec: &ModelSpec) -> String {
    let mut widths = vec![spec.input_size().to_string()];
    let mut act = "";
    let mut kinds = Vec::new();
    let mut plain = spec.input.len() == 1;
    for layer in &spec.layers {
        kinds.push(layer.spec.kind());
        if let LayerSpec::Linear(linear) = &layer.spec {
            widths.push(linear.out.to_string());
        } else if layer.spec.as_activation().is_some() {
            act = layer.spec.kind();
        } else {
            plain = false;
        }
    }
    if plain {
        return format!("{} {} {}", spec.name, widths.join("-"), act).trim_end().to_string();
    }
    let input: Vec<String> = spec.input.iter().map(usize::to_string).collect();
    let outputs = spec.output_size().map_or_else(|_| "?".to_string(), |n| n.to_string());
    format!("{} {} {} → {outputs}", spec.name, input.join("×"), kinds.join(" "))
}
