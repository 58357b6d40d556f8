//! The state a recurrent layer carries from one forward pass to the next, for truncated
//! backpropagation through time (`--bptt K`): a long sequence is cut into chunks of K steps, the
//! batch's rows being parallel streams through it, and each chunk starts from the final state of
//! the chunk before, detached, so that the gradient stops at the chunk's start (Williams & Peng
//! 1990; PyTorch's word_language_model). The layers take `&self` in their forward pass, so the
//! state sits behind a mutex; [`crate::nn::Module::carry_state`] switches it on and off.

use crate::tensor::Tensor;
use std::sync::Mutex;

/// A recurrent layer's carried state: off (every forward pass starts from zero), or on and
/// holding the final state of the last forward pass (h, or h and c), detached.
#[derive(Debug, Default)]
pub struct Carry(Option<Mutex<Option<Vec<Tensor>>>>);

impl Clone for Carry {
    fn clone(&self) -> Carry {
        Carry(self.0.as_ref().map(|slot| Mutex::new(slot.lock().expect("carried state").clone())))
    }
}

impl Carry {
    /// Switches carrying on or off; either way the next forward pass starts from zero.
    pub fn set(&mut self, on: bool) {
        self.0 = on.then(|| Mutex::new(None));
    }

    /// Whether the layer carries its state.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The state to start a batch of `m` rows from: the one carried, if any and of m rows (a
    /// batch of another size, such as an evaluation's last, starts from zero).
    pub fn start(&self, m: usize) -> Option<Vec<Tensor>> {
        let slot = self.0.as_ref()?.lock().expect("carried state");
        slot.clone().filter(|s| s.first().is_some_and(|h| h.shape()[0] == m))
    }

    /// Keeps `state` (already detached: tensors, not variables) for the next forward pass.
    pub fn keep(&self, state: Vec<Tensor>) {
        if let Some(slot) = &self.0 {
            *slot.lock().expect("carried state") = Some(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_only_when_on_and_only_to_a_batch_of_the_same_size() {
        let mut carry = Carry::default();
        carry.keep(vec![Tensor::zeros(&[2, 3])]);
        assert_eq!(carry.start(2), None, "off: nothing kept");
        carry.set(true);
        assert_eq!(carry.start(2), None, "on: zero at first");
        carry.keep(vec![Tensor::ones(&[2, 3])]);
        assert_eq!(carry.start(2), Some(vec![Tensor::ones(&[2, 3])]));
        assert_eq!(carry.clone().start(2), Some(vec![Tensor::ones(&[2, 3])]));
        assert_eq!(carry.start(5), None, "another batch size starts from zero");
        carry.set(true);
        assert_eq!(carry.start(2), None, "switching on again resets");
    }
}
