//! # nabla
//!
//! Neural networks from a university lecture, made real and fast: tensors, reverse-mode autodiff,
//! layers, losses, optimizers and a training loop, in one crate. See ARCHITECTURE.md for the map.
//!
//! ```
//! use nabla::{Tensor, Var, loss};
//! // one step of gradient descent on a 2-input linear unit, U = Y·W + 1·b
//! let y = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]));
//! let w = Var::leaf(Tensor::from_vec(vec![0.5, -0.5], &[2, 1]));
//! let b = Var::leaf(Tensor::zeros(&[1]));
//! let t = Tensor::from_vec(vec![1.0], &[1, 1]);
//! let e = loss::least_squares(&y.affine(&w, &b), &t);
//! let grads = e.backward();
//! // δ = z − t = −0.5 − 1 = −1.5, so ∂E/∂w = Yᵀ·δ
//! assert_eq!(grads.get(&w).unwrap().data(), &[-1.5, -3.0]);
//! ```

#![warn(missing_docs)]

pub mod autodiff;
pub mod data;
pub mod distributed;
pub mod error;
pub mod fuzz;
pub mod gpu;
pub mod io;
pub mod lecture;
pub mod loss;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod prelude;
pub mod report;
pub mod rng;
pub mod tensor;
pub mod train;

pub use autodiff::{Gradients, Param, Var, no_grad};
pub use error::{Error, Result};
pub use tensor::Tensor;
