//! Greedy layer-wise pre-training (Hinton et al. 2006; Bengio et al. 2007, with autoencoders in
//! place of RBMs): before supervised training, each hidden layer in turn learns to encode the
//! representation that the layers below it produce, without labels.
//!
//! For hidden layer l (a `linear` layer followed by an activation f, below the output layer):
//!   1. H = the outputs of layers 1 … l−1 for every pre-training input (the first layer sees the
//!      inputs themselves); those layers are already pre-trained and stay fixed.
//!   2. An autoencoder H → f(H·W_l + b_l) → (·)·W′ + b′ ≈ H, whose encoder is layer l itself and
//!      whose decoder W′ (linear) is thrown away afterwards, is trained to reconstruct H under
//!      the least-squares loss, by Adam over shuffled mini-batches. With `noise` > 0 it is a
//!      denoising autoencoder (Vincent et al. 2008): a random fraction `noise` of each input row
//!      is set to zero, and the clean row is the target.
//!   3. The trained encoder's W_l and b_l are written back into the network.
//!
//! Only `linear` layers are pre-trained; layers of other kinds below them (the convolutions of a
//! LeNet, for example) keep their initial weights and only shape what the linear layers see. The
//! output layer is not pre-trained either: supervised training (fine-tuning) starts from the
//! pre-trained hidden layers and a fresh output layer. Everything is drawn from streams of the
//! seed, so the result is the same, bit for bit, on every run.

use crate::autodiff::{Var, no_grad};
use crate::loss::{Loss, least_squares};
use crate::nn::Activation;
use crate::nn::{LayerSpec, LinearSpec, Model, ModelSpec, Module};
use crate::optim::{Adam, Optimizer};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// How long and how each layer's autoencoder is trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pretrain {
    /// Passes over the pre-training inputs for each layer.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam's learning rate η.
    pub eta: f32,
    /// The fraction of each input row set to zero (0: a plain autoencoder).
    pub noise: f32,
    /// Seed of the shuffles, the noise and the decoders' weights.
    pub seed: u64,
}

/// What pre-training did to one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct PretrainedLayer {
    /// The layer's index in the spec.
    pub layer: usize,
    /// Its inputs and units (n_{l−1}, n_l).
    pub shape: (usize, usize),
    /// The mean reconstruction loss ½‖x̂ − x‖² per row, in each epoch.
    pub losses: Vec<f32>,
}

/// The spec indices of the layers that greedy pre-training trains: every layer with
/// [`LayerSpec::pretrain_units`] (`linear`) that an activation follows, except the last of them
/// (the output).
pub fn pretrainable_layers(spec: &ModelSpec) -> Vec<usize> {
    let linear: Vec<usize> =
        spec.layers.iter().enumerate().filter(|(_, l)| l.spec.pretrain_units().is_some()).map(|(i, _)| i).collect();
    let hidden = &linear[..linear.len().saturating_sub(1)];
    hidden.iter().copied().filter(|&i| activation_after(spec, i).is_some()).collect()
}

/// The activation of the layer after layer `i`, if that layer is an activation.
fn activation_after(spec: &ModelSpec, i: usize) -> Option<Activation> {
    spec.layers.get(i + 1)?.spec.as_activation()
}

/// Pre-trains the hidden layers of `model` on `inputs` (one flat sample per row; labels are not
/// used), one after the other, and reports each layer's reconstruction losses. `report` is
/// called after every epoch with the layer and its loss so far. Fails if the model has no
/// hidden `linear` layer to pre-train or `inputs` do not fit the model.
pub fn pretrain_greedy(
    model: &mut Model,
    inputs: &Tensor,
    p: &Pretrain,
    report: &mut dyn FnMut(&PretrainedLayer),
) -> Result<Vec<PretrainedLayer>> {
    let spec = model.spec().clone();
    let layers = pretrainable_layers(&spec);
    if layers.is_empty() {
        return Err(Error::config(format!(
            "pre-training: model '{}' has no hidden linear layer followed by an activation",
            spec.name
        )));
    }
    let (rows, width) = inputs.dims2("pretrain");
    if width != spec.input_size() || rows == 0 || p.batch_size == 0 || p.epochs == 0 || !(0.0..1.0).contains(&p.noise) {
        return Err(Error::config(format!(
            "pre-training: {rows} inputs of width {width} (the model takes {}), batch size {}, {} epochs, noise {}: \
             want at least one input of the model's width, batch size and epochs ≥ 1, noise in [0, 1)",
            spec.input_size(),
            p.batch_size,
            p.epochs,
            p.noise
        )));
    }
    model.set_training(false);
    let mut done = Vec::with_capacity(layers.len());
    for (k, &l) in layers.iter().enumerate() {
        let h = below(model, l, inputs);
        let trained = pretrain_layer(model, l, &h, p, Rng::derive(p.seed, 1000 + k as u64), report)?;
        done.push(trained);
    }
    model.set_training(true);
    Ok(done)
}

/// The outputs of the network's layers before spec layer `l` for every row of `inputs`, in
/// evaluation mode and without a graph.
fn below(model: &Model, l: usize, inputs: &Tensor) -> Tensor {
    let layers = &model.net().layers()[..l];
    let mut parts = Vec::new();
    let rows = inputs.shape()[0];
    for start in (0..rows).step_by(1024) {
        let chunk: Vec<usize> = (start..(start + 1024).min(rows)).collect();
        // flat rows take the model's input shape (1×28×28 for a convolutional net)
        let shape: Vec<usize> = [chunk.len()].into_iter().chain(model.spec().input.iter().copied()).collect();
        let x = Var::constant(inputs.gather_rows(&chunk).reshape(&shape));
        let y = no_grad(|| layers.iter().fold(x, |y, layer| layer.forward(&y)));
        parts.push(y.value().clone());
    }
    let refs: Vec<&Tensor> = parts.iter().collect();
    Tensor::concat(&refs, 0)
}

/// Trains layer `l` of `model` as the encoder of an autoencoder on `h` and writes it back.
fn pretrain_layer(
    model: &mut Model,
    l: usize,
    h: &Tensor,
    p: &Pretrain,
    mut rng: Rng,
    report: &mut dyn FnMut(&PretrainedLayer),
) -> Result<PretrainedLayer> {
    let spec = model.spec();
    let (rows, n_in) = h.dims2("pretrain");
    let units = spec.layers[l].spec.pretrain_units().expect("a pretrainable layer has units");
    let activation = activation_after(spec, l).expect("a pretrainable layer has an activation");
    let ae_spec = ModelSpec {
        name: format!("autoencoder of layer {l}"),
        input: vec![n_in],
        input_map: None,
        loss: Loss::LeastSquares,
        train: None,
        layers: vec![
            LayerSpec::Linear(LinearSpec { out: units, init: None }).into(),
            LayerSpec::activation(activation).into(),
            LayerSpec::Linear(LinearSpec { out: n_in, init: None }).into(),
        ],
    };
    let mut ae = Model::new(ae_spec, &mut rng)?;
    copy_params(model, &format!("{l}."), &mut ae, "0.");
    let mut optimizer = Optimizer::new(Adam::default(), p.eta);
    let mut order: Vec<usize> = (0..rows).collect();
    let mut done = PretrainedLayer { layer: l, shape: (n_in, units), losses: Vec::new() };
    for _ in 0..p.epochs {
        rng.shuffle(&mut order);
        let (mut total, mut batches) = (0.0f64, 0usize);
        for batch in order.chunks(p.batch_size) {
            let clean = h.gather_rows(batch);
            let x = if p.noise > 0.0 { mask(&clean, p.noise, &mut rng) } else { clean.clone() };
            let e = least_squares(&ae.forward(&Var::constant(x)), &clean);
            total += f64::from(e.value().item());
            batches += 1;
            let grads = e.backward();
            drop(e);
            optimizer.step(&mut ae, &grads);
        }
        done.losses.push((total / batches as f64) as f32);
        report(&done);
    }
    copy_params(&ae, "0.", model, &format!("{l}."));
    Ok(done)
}

/// `x` with each entry set to zero with probability `noise`.
fn mask(x: &Tensor, noise: f32, rng: &mut Rng) -> Tensor {
    let data = x.data().iter().map(|&v| if rng.uniform(0.0, 1.0) < noise { 0.0 } else { v }).collect();
    Tensor::from_vec(data, x.shape())
}

/// Copies the parameters named `from_prefix…` of `from` onto those named `to_prefix…` of `to`.
fn copy_params(from: &Model, from_prefix: &str, to: &mut Model, to_prefix: &str) {
    let source: Vec<(String, Tensor)> = from
        .params()
        .into_iter()
        .filter_map(|(n, p)| n.strip_prefix(from_prefix).map(|rest| (rest.to_string(), p.value().clone())))
        .collect();
    for (name, p) in to.params_mut() {
        if let Some(rest) = name.strip_prefix(to_prefix)
            && let Some((_, value)) = source.iter().find(|(n, _)| n == rest)
        {
            *p.value_mut() = value.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep_sigmoid() -> ModelSpec {
        ModelSpec::mlp(6, &[4, 3], 2, Activation::Sigmoid, Loss::SoftmaxCrossEntropy)
    }

    #[test]
    fn the_hidden_layers_are_pretrained_and_the_output_layer_is_not() {
        let spec = deep_sigmoid();
        assert_eq!(pretrainable_layers(&spec), [0, 2]);
        let mut model = Model::new(spec.clone(), &mut Rng::seed(0)).unwrap();
        let before: Vec<Tensor> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
        // inputs on a 2-D plane inside 6-D: an autoencoder with 4 units can learn them
        let mut rng = Rng::seed(1);
        let codes = rng.normal_tensor(&[256, 2], 1.0);
        let mix = rng.normal_tensor(&[2, 6], 1.0);
        let inputs = codes.matmul(&mix);
        let p = Pretrain { epochs: 30, batch_size: 16, eta: 0.01, noise: 0.0, seed: 3 };
        let mut reports = 0;
        let done = pretrain_greedy(&mut model, &inputs, &p, &mut |_| reports += 1).unwrap();
        assert_eq!(reports, 60);
        assert_eq!(done.iter().map(|d| (d.layer, d.shape)).collect::<Vec<_>>(), [(0, (6, 4)), (2, (4, 3))]);
        for d in &done {
            let (first, last) = (d.losses[0], *d.losses.last().unwrap());
            assert!(last < 0.5 * first, "layer {}: reconstruction loss {first} → {last}", d.layer);
        }
        // layers 0 and 2 changed, the output layer 4 did not
        let after: Vec<Tensor> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
        let names: Vec<String> = model.params().into_iter().map(|(n, _)| n).collect();
        for ((name, b), a) in names.iter().zip(&before).zip(&after) {
            assert_eq!(name.starts_with("4."), a.data() == b.data(), "{name}");
        }
        // the same seed gives the same weights, bit for bit
        let mut again = Model::new(spec, &mut Rng::seed(0)).unwrap();
        pretrain_greedy(&mut again, &inputs, &p, &mut |_| {}).unwrap();
        let twice: Vec<Tensor> = again.params().iter().map(|(_, p)| p.value().clone()).collect();
        assert!(after.iter().zip(&twice).all(|(a, b)| a.data() == b.data()));
    }

    #[test]
    fn the_linear_layers_above_a_convolution_see_its_outputs() {
        let text = "name = \"c\"\ninput = [1, 6, 6]\nloss = \"softmax-cross-entropy\"\n\
            [[layers]]\ntype = \"conv2d\"\nout = 2\nkernel = 3\n[[layers]]\ntype = \"relu\"\n\
            [[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\nout = 5\n\
            [[layers]]\ntype = \"tanh\"\n[[layers]]\ntype = \"linear\"\nout = 2\n";
        let spec = ModelSpec::from_toml(text, std::path::Path::new("c.toml")).unwrap();
        assert_eq!(pretrainable_layers(&spec), [3]);
        let mut model = Model::new(spec, &mut Rng::seed(0)).unwrap();
        let inputs = Rng::seed(1).normal_tensor(&[40, 36], 1.0);
        let p = Pretrain { epochs: 2, batch_size: 8, eta: 0.01, noise: 0.1, seed: 0 };
        let done = pretrain_greedy(&mut model, &inputs, &p, &mut |_| {}).unwrap();
        assert_eq!(done.iter().map(|d| (d.layer, d.shape)).collect::<Vec<_>>(), [(3, (32, 5))]);
    }

    #[test]
    fn a_model_without_hidden_layers_or_wrong_inputs_is_an_error() {
        let flat = ModelSpec::mlp(6, &[], 2, Activation::Sigmoid, Loss::SoftmaxCrossEntropy);
        let mut model = Model::new(flat, &mut Rng::seed(0)).unwrap();
        let p = Pretrain { epochs: 1, batch_size: 4, eta: 0.01, noise: 0.0, seed: 0 };
        let err = pretrain_greedy(&mut model, &Tensor::zeros(&[8, 6]), &p, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("no hidden linear layer"), "{err}");
        let mut model = Model::new(deep_sigmoid(), &mut Rng::seed(0)).unwrap();
        let err = pretrain_greedy(&mut model, &Tensor::zeros(&[8, 5]), &p, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("width 5 (the model takes 6)"), "{err}");
    }
}
