//! Reverse-mode automatic differentiation, define-by-run.
//!
//! Every op on a [`Var`] computes its value at once and records a node: the parents it read and
//! a backward closure that turns the gradient of its output into the gradients of its parents
//! (the chain rule, δ_parent = ∂out/∂parent · δ_out). [`Var::backward`] sorts the recorded graph
//! topologically and runs the closures from the loss back to the leaves. The graph may branch,
//! concatenate and reuse a value: gradients that reach a node along several paths are summed.
//!
//! Gradients are returned in a [`Gradients`] store keyed by leaf, not written onto tensors;
//! intermediate gradients are dropped as soon as their node has passed them on, and branches that
//! lead to no leaf needing a gradient are never differentiated.
//!
//! ```
//! use nabla::{Tensor, Var};
//! let x = Var::leaf(Tensor::from_vec(vec![3.0], &[1]));
//! let y = x.mul(&x).add(&x); // y = x² + x
//! let grads = y.sum().backward();
//! assert_eq!(grads.get(&x).unwrap().data(), &[7.0]); // dy/dx = 2x + 1
//! ```

mod gradcheck;
mod param;

pub use gradcheck::{GradCheck, GradCheckError};
pub use param::{Param, no_grad};

use crate::tensor::Tensor;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Turns the gradient of a node's output into one gradient per parent (`None` where the parent
/// needs none). It receives the output gradient and the parents.
pub type BackwardFn = Box<dyn Fn(&Tensor, &[Var]) -> Vec<Option<Tensor>>>;

/// Told by [`Var::backward_notify`] that the gradient of a leaf id is final, and given it.
pub type ReadyFn<'a> = dyn FnMut(usize, &Tensor) + 'a;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) fn fresh_id() -> usize {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct Node {
    /// Leaves made from one [`Param`] share the parameter's id, so their gradients add up.
    id: usize,
    value: Tensor,
    parents: Vec<Var>,
    backward: Option<BackwardFn>,
    requires_grad: bool,
}

/// A value in the autodiff graph: a tensor plus how it was computed.
#[derive(Clone)]
pub struct Var(Rc<Node>);

impl Var {
    /// A leaf that gradients flow to (an input we differentiate with respect to).
    pub fn leaf(value: Tensor) -> Var {
        Var::new_leaf(fresh_id(), value, true)
    }

    /// A leaf that needs no gradient (data, targets).
    pub fn constant(value: Tensor) -> Var {
        Var::new_leaf(fresh_id(), value, false)
    }

    pub(crate) fn new_leaf(id: usize, value: Tensor, requires_grad: bool) -> Var {
        Var(Rc::new(Node { id, value, parents: Vec::new(), backward: None, requires_grad }))
    }

    /// The result of an op: `value`, computed from `parents`, with the rule that sends its
    /// gradient back to them. When no parent needs a gradient, the rule and parents are dropped
    /// at once and the result is a constant.
    pub fn from_op(value: Tensor, parents: Vec<Var>, backward: BackwardFn) -> Var {
        if parents.iter().any(Var::requires_grad) {
            Var(Rc::new(Node { id: fresh_id(), value, parents, backward: Some(backward), requires_grad: true }))
        } else {
            Var::constant(value)
        }
    }

    /// The computed value.
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// Whether gradients flow through this value to some leaf.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The same value, cut off from the graph.
    pub fn detach(&self) -> Var {
        Var::constant(self.value().clone())
    }

    /// Back-propagates from this value, which must hold one number (the loss), and returns the
    /// gradient of every leaf that requires one.
    #[track_caller]
    pub fn backward(&self) -> Gradients {
        assert_eq!(self.value().numel(), 1, "backward: the loss must be one number, got shape {:?}", self.shape());
        self.backward_with(Tensor::ones(self.shape()))
    }

    /// [`Var::backward`], calling `ready(id, gradient)` for each leaf id as soon as its gradient
    /// is final: when the walk has passed every leaf node of that id (a [`Param`] used twice has
    /// two), so that nothing more can add to it. Data-parallel training starts summing a bucket
    /// of gradients across processes there, while backward goes on with earlier layers.
    #[track_caller]
    pub fn backward_notify(&self, ready: &mut ReadyFn) -> Gradients {
        assert_eq!(self.value().numel(), 1, "backward: the loss must be one number, got shape {:?}", self.shape());
        self.backward_from(Tensor::ones(self.shape()), Some(ready))
    }

    /// Back-propagates `seed` (the gradient of some scalar with respect to this value).
    #[track_caller]
    pub fn backward_with(&self, seed: Tensor) -> Gradients {
        self.backward_from(seed, None)
    }

    #[track_caller]
    fn backward_from(&self, seed: Tensor, mut ready: Option<&mut ReadyFn>) -> Gradients {
        assert_eq!(
            seed.shape(),
            self.shape(),
            "backward_with: seed shape {:?} vs value shape {:?}",
            seed.shape(),
            self.shape()
        );
        let mut leaves = HashMap::new();
        if !self.requires_grad() {
            return Gradients { by_id: leaves };
        }
        let order = self.topological_order();
        // leaf nodes per id not yet passed (counted only for a `ready` hook)
        let mut unpassed: HashMap<usize, usize> = HashMap::new();
        if ready.is_some() {
            for node in order.iter().filter(|n| n.0.backward.is_none()) {
                *unpassed.entry(node.0.id).or_default() += 1;
            }
        }
        let mut pending: HashMap<*const Node, Tensor> = HashMap::with_capacity(order.len());
        pending.insert(Rc::as_ptr(&self.0), seed);
        for node in order.iter().rev() {
            if let Some(ready) = ready.as_deref_mut().filter(|_| node.0.backward.is_none()) {
                let grad = pending.remove(&Rc::as_ptr(&node.0));
                let id = node.0.id;
                if let Some(grad) = grad {
                    accumulate(&mut leaves, id, grad);
                }
                let left = unpassed.get_mut(&id).expect("counted above");
                *left -= 1;
                if let (0, Some(g)) = (*left, leaves.get(&id)) {
                    ready(id, g);
                }
                continue;
            }
            let Some(grad) = pending.remove(&Rc::as_ptr(&node.0)) else { continue };
            match &node.0.backward {
                None => accumulate(&mut leaves, node.0.id, grad),
                Some(rule) => {
                    let parent_grads = rule(&grad, &node.0.parents);
                    debug_assert_eq!(parent_grads.len(), node.0.parents.len());
                    for (parent, g) in node.0.parents.iter().zip(parent_grads) {
                        let Some(g) = g else { continue };
                        if !parent.requires_grad() {
                            continue;
                        }
                        assert_eq!(
                            g.shape(),
                            parent.shape(),
                            "backward: a rule returned gradient shape {:?} for a parent of shape {:?}",
                            g.shape(),
                            parent.shape()
                        );
                        accumulate(&mut pending, Rc::as_ptr(&parent.0), g);
                    }
                }
            }
        }
        Gradients { by_id: leaves }
    }

    /// Nodes that require a gradient, each after all of its parents (iterative depth-first search,
    /// so that long recurrent chains do not overflow the stack).
    fn topological_order(&self) -> Vec<Var> {
        let mut order = Vec::new();
        let mut seen: HashSet<*const Node> = HashSet::new();
        let mut stack: Vec<(Var, bool)> = vec![(self.clone(), false)];
        while let Some((var, expanded)) = stack.pop() {
            if expanded {
                order.push(var);
                continue;
            }
            if !seen.insert(Rc::as_ptr(&var.0)) {
                continue;
            }
            stack.push((var.clone(), true));
            for p in var.0.parents.iter().filter(|p| p.requires_grad()) {
                if !seen.contains(&Rc::as_ptr(&p.0)) {
                    stack.push((p.clone(), false));
                }
            }
        }
        order
    }
}

fn accumulate<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Tensor>, key: K, g: Tensor) {
    match map.get_mut(&key) {
        Some(sum) => sum.add_assign(&g),
        None => {
            map.insert(key, g);
        }
    }
}

/// The gradients that one backward pass computed, keyed by leaf.
#[derive(Default)]
pub struct Gradients {
    by_id: HashMap<usize, Tensor>,
}

impl Gradients {
    /// ∂loss/∂leaf, or `None` if the loss does not depend on it.
    pub fn get(&self, leaf: &Var) -> Option<&Tensor> {
        self.by_id.get(&leaf.0.id)
    }

    /// ∂loss/∂w for a parameter, or `None` if the loss does not depend on it.
    pub fn get_param(&self, param: &Param) -> Option<&Tensor> {
        self.by_id.get(&param.id())
    }

    /// ∂loss/∂w for a parameter, for writing (regularization and clipping add to it).
    pub fn get_param_mut(&mut self, param: &Param) -> Option<&mut Tensor> {
        self.by_id.get_mut(&param.id())
    }

    /// How many leaves received a gradient.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no leaf received a gradient.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub(crate) fn grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

pub(crate) fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hook sees each parameter once, with its whole gradient, even when the forward pass
    /// used it twice (two leaf nodes of one id), and before backward has passed the leaves that
    /// come earlier in the forward pass.
    #[test]
    fn backward_notify_hands_over_each_final_gradient_once() {
        let p = Param::new(Tensor::from_vec(vec![2.0, 3.0], &[2]));
        let q = Param::new(Tensor::from_vec(vec![5.0, 7.0], &[2]));
        // y = Σ (p·q + p)·p: p is read by three leaf nodes, q by one
        let y = p.var().mul(&q.var()).add(&p.var()).mul(&p.var()).sum();
        let mut seen = Vec::new();
        let grads = y.backward_notify(&mut |id, g| seen.push((id, g.data().to_vec())));
        let plain = y.backward();
        let mut ids: Vec<usize> = seen.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(ids, {
            let mut both = vec![p.id(), q.id()];
            both.sort_unstable();
            both
        });
        for (id, g) in &seen {
            let param = if *id == p.id() { &p } else { &q };
            assert_eq!(g, grads.get_param(param).unwrap().data(), "id {id}");
            assert_eq!(g, plain.get_param(param).unwrap().data(), "id {id}");
        }
        // ∂y/∂p = 2pq + 2p, ∂y/∂q = p²
        assert_eq!(grads.get_param(&p).unwrap().data(), &[24.0, 48.0]);
        assert_eq!(grads.get_param(&q).unwrap().data(), &[4.0, 9.0]);
    }
}
