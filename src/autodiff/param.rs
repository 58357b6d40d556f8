//! Trainable parameters and the no-grad scope used for evaluation.

use super::{Var, fresh_id, grad_enabled, set_grad_enabled};
use crate::tensor::Tensor;

/// A trainable tensor (a weight matrix W, a bias b). Each use in a forward pass goes through
/// [`Param::var`], a graph leaf that shares the parameter's buffer, so the forward pass copies no
/// weights; the optimizer then writes [`Param::value_mut`] in place.
#[derive(Debug)]
pub struct Param {
    id: usize,
    value: Tensor,
}

impl Param {
    /// A parameter holding `value`.
    pub fn new(value: Tensor) -> Param {
        Param { id: fresh_id(), value }
    }

    /// The id that its gradients are keyed by.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The current value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }

    /// The value for the optimizer to update.
    pub fn value_mut(&mut self) -> &mut Tensor {
        &mut self.value
    }

    /// This parameter as a graph leaf (a constant inside [`no_grad`]).
    pub fn var(&self) -> Var {
        Var::new_leaf(self.id, self.value.clone(), grad_enabled())
    }
}

impl Clone for Param {
    /// A copy is a new parameter, with its own id and gradients.
    fn clone(&self) -> Param {
        Param::new(self.value.clone())
    }
}

/// Runs `f` without recording gradients for parameters (evaluation, prediction): no graph is kept.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_grad_enabled(self.0);
        }
    }
    let _restore = Restore(set_grad_enabled(false));
    f()
}
