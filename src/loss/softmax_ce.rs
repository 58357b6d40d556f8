//! Softmax cross-entropy from logits u: E = −(1/m) Σ_rows Σ_k t_k log softmax(u)_k, with
//! log-softmax computed stably; δ = (softmax(u) − t)/m when each target row sums to 1.

use super::check_shapes;
use crate::autodiff::Var;
use crate::ops::log_softmax_rows;
use crate::tensor::Tensor;

/// Softmax cross-entropy of logits `u` against target distributions `t` (one-hot or soft, m×K).
#[track_caller]
pub fn softmax_cross_entropy(u: &Var, t: &Tensor) -> Var {
    let (m, k) = check_shapes("softmax_cross_entropy", u, t);
    let log_z = log_softmax_rows(u.value());
    let e = -log_z.data().iter().zip(t.data()).map(|(&l, &t)| (l * t) as f64).sum::<f64>() / m as f64;
    let t = t.clone();
    Var::from_op(
        Tensor::scalar(e as f32),
        vec![u.clone()],
        Box::new(move |g, _| {
            // ∂E/∂u_k = (z_k · Σ_j t_j − t_k)/m, which is (z − t)/m for a distribution t
            let scale = g.item() / m as f32;
            let mut delta = Vec::with_capacity(m * k);
            for (lr, tr) in log_z.data().chunks_exact(k).zip(t.data().chunks_exact(k)) {
                let mass: f32 = tr.iter().sum();
                delta.extend(lr.iter().zip(tr).map(|(&l, &t)| (l.exp() * mass - t) * scale));
            }
            vec![Some(Tensor::from_vec(delta, &[m, k]))]
        }),
    )
}

/// The class index of a row that the loss ignores (PyTorch's `ignore_index`): a padded step of a
/// sequence shorter than its batch's T.
pub const IGNORED: usize = usize::MAX;

/// Softmax cross-entropy of logits `u` (rows × K) against one class index per row (PyTorch's
/// `cross_entropy` with class targets): E = −(1/n) Σ_r log softmax(u_r)_{c_r}, δ = (z − e_c)/n,
/// over the n rows whose class is not [`IGNORED`] (those get δ = 0). The targets of a language
/// model, one next character per step, without K-wide one-hot rows; or of a tagger, one tag per
/// real step.
#[track_caller]
pub fn softmax_cross_entropy_classes(u: &Var, classes: &[usize]) -> Var {
    let (rows, k) = u.value().dims2("softmax_cross_entropy_classes");
    assert!(
        classes.len() == rows && classes.iter().all(|&c| c < k || c == IGNORED),
        "softmax_cross_entropy_classes: outputs {:?} and {} class indices (want one per row, each below {k})",
        u.shape(),
        classes.len()
    );
    let log_z = log_softmax_rows(u.value());
    let counted = classes.iter().filter(|&&c| c != IGNORED).count();
    let picked = classes.iter().enumerate().filter(|&(_, &c)| c != IGNORED);
    let sum = picked.map(|(r, &c)| log_z.data()[r * k + c] as f64).sum::<f64>();
    // a batch of padding alone has no loss (0, not 0/0)
    let e = -sum / counted.max(1) as f64;
    let classes = classes.to_vec();
    Var::from_op(
        Tensor::scalar(e as f32),
        vec![u.clone()],
        Box::new(move |g, _| {
            let scale = g.item() / counted.max(1) as f32;
            let mut delta = vec![0.0; rows * k];
            for (r, &c) in classes.iter().enumerate().filter(|&(_, &c)| c != IGNORED) {
                let (d, l) = (&mut delta[r * k..(r + 1) * k], &log_z.data()[r * k..(r + 1) * k]);
                d.iter_mut().zip(l).for_each(|(d, &l)| *d = l.exp() * scale);
                d[c] -= scale;
            }
            vec![Some(Tensor::from_vec(delta, &[rows, k]))]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class indices give the one-hot loss and gradient, and pass the gradient check.
    #[test]
    fn class_targets_equal_one_hot_targets() {
        let xs = randn(13, &[&[4, 5]]);
        let classes = [3, 0, 4, 1];
        check(&xs, |v| softmax_cross_entropy_classes(&v[0], &classes));
        let mut t = vec![0.0; 20];
        for (row, class) in classes.iter().enumerate() {
            t[row * 5 + class] = 1.0;
        }
        let u = Var::leaf(xs[0].clone());
        let (a, b) =
            (softmax_cross_entropy_classes(&u, &classes), softmax_cross_entropy(&u, &Tensor::from_vec(t, &[4, 5])));
        assert!((a.value().item() - b.value().item()).abs() < 1e-6);
        let (ga, gb) = (a.backward(), b.backward());
        for (x, y) in ga.get(&u).unwrap().data().iter().zip(gb.get(&u).unwrap().data()) {
            assert!((x - y).abs() < 1e-7);
        }
    }
    use crate::ops::testing::{check, randn};

    /// Ignored rows add nothing to the loss nor to the mean's count, and get no gradient: the loss
    /// equals that of the other rows alone.
    #[test]
    fn ignored_rows_count_for_nothing() {
        let xs = randn(14, &[&[4, 5]]);
        let classes = [3, IGNORED, 4, IGNORED];
        check(&xs, |v| softmax_cross_entropy_classes(&v[0], &classes));
        let u = Var::leaf(xs[0].clone());
        let e = softmax_cross_entropy_classes(&u, &classes);
        let kept = Var::leaf(Tensor::concat(&[&xs[0].slice(0, 0..1), &xs[0].slice(0, 2..3)], 0));
        let want = softmax_cross_entropy_classes(&kept, &[3, 4]);
        assert!((e.value().item() - want.value().item()).abs() < 1e-6);
        let g = e.backward();
        let g = g.get(&u).unwrap();
        assert!(g.slice(0, 1..2).data().iter().chain(g.slice(0, 3..4).data()).all(|&d| d == 0.0));
        let all_ignored = softmax_cross_entropy_classes(&u, &[IGNORED; 4]);
        assert_eq!(all_ignored.value().item(), 0.0);
    }

    #[test]
    fn softmax_ce_passes_gradient_check_and_matches_its_definition() {
        let xs = randn(12, &[&[4, 5]]);
        let mut t = vec![0.0; 20];
        for (row, class) in [3, 0, 4, 1].iter().enumerate() {
            t[row * 5 + class] = 1.0;
        }
        let t = Tensor::from_vec(t, &[4, 5]);
        check(&xs, |v| softmax_cross_entropy(&v[0], &t));
        // soft targets too
        let soft = Tensor::full(&[4, 5], 0.2);
        check(&xs, |v| softmax_cross_entropy(&v[0], &soft));
        // value: −mean log softmax at the target class, by the unfused ops
        let u = Var::constant(xs[0].clone());
        let want = u.log_softmax().mul(&Var::constant(t.clone())).sum().value().item() / -4.0;
        assert!((softmax_cross_entropy(&u, &t).value().item() - want).abs() < 1e-5);
    }

    /// A hand-made language-model case through `Loss::apply`: 1 sequence of 2 steps over 4
    /// characters. Step 1's logits are equal (p = 1/4 for its target: 2 bits); step 2's, (ln 9,
    /// 0, 0, 0), give its target 9/12 = 3/4 (−log₂ ¾ = 0.415 bits). The loss is their mean in
    /// nats; in bits per character, (2 + 0.415)/2.
    #[test]
    fn sequence_loss_is_the_mean_cross_entropy_per_step() {
        let u = Var::constant(Tensor::from_vec(vec![0.0, 0.0, 0.0, 0.0, 9f32.ln(), 0.0, 0.0, 0.0], &[1, 2, 4]));
        let t = Tensor::from_vec(vec![2.0, 0.0], &[1, 2]);
        let nats = crate::loss::Loss::SoftmaxCrossEntropy.apply(&u, &t).value().item() as f64;
        let bits = nats / std::f64::consts::LN_2;
        let want = (2.0 - 0.75f64.log2()) / 2.0;
        assert!((bits - want).abs() < 1e-6, "{bits} bits, want {want}");
    }

    #[test]
    fn softmax_ce_is_finite_for_huge_logits() {
        let u = Var::leaf(Tensor::from_vec(vec![1e4, -1e4, 0.0, 5e3], &[2, 2]));
        let t = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[2, 2]);
        let e = softmax_cross_entropy(&u, &t);
        assert!(e.value().item().is_finite());
        assert!(e.backward().get(&u).unwrap().data().iter().all(|g| g.is_finite()));
    }
}
