//! The names a training script uses, in one import, as PyTorch's `torch`, `torch.nn` and
//! `torch.optim` give them: `use nabla::prelude::*;`.
//!
//! ```
//! use nabla::prelude::*;
//! let mut rng = Rng::seed(0);
//! let mut net = Sequential::new();
//! net.push(Linear::new(2, 4, Init::He, &mut rng));
//! net.push(ReLU);
//! net.push(Linear::new(4, 1, Init::LeCun, &mut rng));
//! let y = net.forward(&Var::constant(Tensor::zeros(&[3, 2])));
//! assert_eq!(y.shape(), &[3, 1]);
//! ```

pub use crate::autodiff::{Gradients, Param, Var, no_grad};
pub use crate::data::Dataset;
pub use crate::error::{Error, Result};
pub use crate::loss::Loss;
pub use crate::nn::{
    Activation, ActivationLayer, AvgPool2d, Conv2d, Dropout, Flatten, GELU, Gru, Identity, Init, Linear, Lstm,
    MaxPool2d, Model, ModelSpec, Module, ReLU, Rnn, ScaledTanh, Sequential, Sigmoid, Tanh,
};
pub use crate::optim::schedule::{Constant, Cosine, Exponential, Plateau, Schedule, Step, Warmup};
pub use crate::optim::{AdaDelta, AdaGrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
pub use crate::rng::Rng;
pub use crate::tensor::Tensor;
pub use crate::train::{EpochReport, Observer, Quiet, Sets, TrainConfig, Trainer};
