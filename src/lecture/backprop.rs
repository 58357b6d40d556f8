//! The lecture's backpropagation worked example: one gradient-descent step on a 2-2-2 network,
//! computed twice, by nabla's autodiff ([`worked_example`]) and by the lecture's formulas written
//! out in plain f64 loops ([`by_formulas`]), so that each checks the other.
//!
//! Indices: i runs over the inputs, j over the hidden units, k over the outputs; w_ij connects
//! input i to hidden unit j and w_jk hidden unit j to output k. Weights are n_{l−1}×n_l matrices and
//! activations row vectors, U = Y·W + 1·b, with one bias per unit. Both layers use the sigmoid
//! g(u) = σ(u) = 1/(1 + e^(−u)), whose derivative is g′(u) = g(u)(1 − g(u)).
//!
//! Forward:
//!   u_j = Σ_i x_i w_ij + b_j,   y_j = g(u_j),   u_k = Σ_j y_j w_jk + b_k,   z_k = g(u_k),
//!   E = ½ Σ_k (z_k − t_k)².
//!
//! Backward (δ = ∂E/∂u, the error signal of a unit):
//!   δ_k = (z_k − t_k)·g′(u_k),        δ_j = g′(u_j)·Σ_k δ_k w_jk,
//!   ∂E/∂w_jk = δ_k y_j,   ∂E/∂b_k = δ_k,   ∂E/∂w_ij = δ_j x_i,   ∂E/∂b_j = δ_j.
//!
//! Update (after the whole backward pass, so that δ_j uses the old w_jk): w ← w − η ∂E/∂w,
//! b ← b − η ∂E/∂b.
//!
//! The numbers are the classic ones (x = (0.05, 0.10), t = (0.01, 0.99), η = 0.5; M. Mazur's
//! "A Step by Step Backpropagation Example" names the weights w1…w8). That version shares one bias
//! per layer and does not update it; here each unit has its own bias, starting at the same value,
//! and biases are updated too. Neither choice changes E or the weight gradients.
//!
//! ```
//! let ex = nabla::lecture::worked_example();
//! assert!((ex.e - 0.298371109).abs() < 1e-6);
//! println!("{ex}"); // what `nabla explain` prints
//! ```

use crate::autodiff::Var;
use crate::loss::least_squares;
use crate::tensor::Tensor;
use std::fmt;

/// The inputs x_i.
pub const X: [f64; 2] = [0.05, 0.10];
/// The targets t_k.
pub const T: [f64; 2] = [0.01, 0.99];
/// The learning rate η.
pub const ETA: f64 = 0.5;
/// The initial hidden weights, `W_IJ[i][j]` from input i to hidden unit j (classic w1 = w_11,
/// w2 = w_21, w3 = w_12, w4 = w_22).
pub const W_IJ: [[f64; 2]; 2] = [[0.15, 0.25], [0.20, 0.30]];
/// The initial hidden biases b_j.
pub const B_J: [f64; 2] = [0.35, 0.35];
/// The initial output weights, `W_JK[j][k]` from hidden unit j to output k (classic w5 = w_11,
/// w6 = w_21, w7 = w_12, w8 = w_22).
pub const W_JK: [[f64; 2]; 2] = [[0.40, 0.50], [0.45, 0.55]];
/// The initial output biases b_k.
pub const B_K: [f64; 2] = [0.60, 0.60];

/// Relative difference under which the two computations are said to agree: f32 autodiff against
/// f64 formulas differ by f32 rounding only.
const AGREE_RTOL: f64 = 1e-6;

/// How a [`WorkedExample`] was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// nabla's reverse-mode autodiff, in f32 (widened to f64 in the struct).
    Autodiff,
    /// The lecture's formulas, written out by hand in f64.
    Formulas,
}

/// Every quantity of one forward pass, backward pass and update step of the worked example.
///
/// Fields are f64 whichever [`Method`] made them: autodiff values are computed in f32 (nabla's
/// tensor type) and widened, the formula values are computed in f64. Matrices are indexed like the
/// weights they belong to: `[i][j]` for the hidden layer, `[j][k]` for the output layer.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkedExample {
    /// How these numbers were computed.
    pub method: Method,
    /// Hidden net inputs u_j = Σ_i x_i w_ij + b_j.
    pub u_j: [f64; 2],
    /// Hidden outputs y_j = σ(u_j).
    pub y_j: [f64; 2],
    /// Output net inputs u_k = Σ_j y_j w_jk + b_k.
    pub u_k: [f64; 2],
    /// Network outputs z_k = σ(u_k).
    pub z_k: [f64; 2],
    /// The error E = ½ Σ_k (z_k − t_k)².
    pub e: f64,
    /// Output error signals δ_k = ∂E/∂u_k = (z_k − t_k)·σ′(u_k).
    pub delta_k: [f64; 2],
    /// Hidden error signals δ_j = ∂E/∂u_j = σ′(u_j)·Σ_k δ_k w_jk.
    pub delta_j: [f64; 2],
    /// Output weight gradients ∂E/∂w_jk = δ_k y_j, indexed `[j][k]`.
    pub de_dw_jk: [[f64; 2]; 2],
    /// Output bias gradients ∂E/∂b_k = δ_k.
    pub de_db_k: [f64; 2],
    /// Hidden weight gradients ∂E/∂w_ij = δ_j x_i, indexed `[i][j]`.
    pub de_dw_ij: [[f64; 2]; 2],
    /// Hidden bias gradients ∂E/∂b_j = δ_j.
    pub de_db_j: [f64; 2],
    /// Output weights after the step, w_jk − η ∂E/∂w_jk, indexed `[j][k]`.
    pub w_jk_new: [[f64; 2]; 2],
    /// Output biases after the step, b_k − η ∂E/∂b_k.
    pub b_k_new: [f64; 2],
    /// Hidden weights after the step, w_ij − η ∂E/∂w_ij, indexed `[i][j]`.
    pub w_ij_new: [[f64; 2]; 2],
    /// Hidden biases after the step, b_j − η ∂E/∂b_j.
    pub b_j_new: [f64; 2],
}

/// The worked example computed by nabla itself: `Var::leaf` weights, `affine` + `sigmoid` layers,
/// `least_squares` (m = 1 row, so it is exactly the lecture's E) and `backward()`. The error signals
/// δ = ∂E/∂u come from a second and third backward pass in which u_k, then u_j, is made a leaf.
pub fn worked_example() -> WorkedExample {
    let x = Var::constant(row(&X));
    let t = row(&T);
    let (w_ij, b_j) = (Var::leaf(matrix(&W_IJ)), Var::leaf(vector(&B_J)));
    let (w_jk, b_k) = (Var::leaf(matrix(&W_JK)), Var::leaf(vector(&B_K)));

    // forward: x 1×2 · w_ij 2×2 + b_j → u_j 1×2 → y_j → u_k 1×2 → z_k → E
    let u_j = x.affine(&w_ij, &b_j);
    let y_j = u_j.sigmoid();
    let u_k = y_j.affine(&w_jk, &b_k);
    let z_k = u_k.sigmoid();
    let e = least_squares(&z_k, &t);
    let grads = e.backward();
    let grad = |v: &Var| grads.get(v).expect("E depends on every weight and bias").clone();
    let (g_w_ij, g_b_j, g_w_jk, g_b_k) = (grad(&w_ij), grad(&b_j), grad(&w_jk), grad(&b_k));

    // δ_k = ∂E/∂u_k: restart the graph at u_k
    let u_k_leaf = Var::leaf(u_k.value().clone());
    let delta_k = least_squares(&u_k_leaf.sigmoid(), &t)
        .backward()
        .get(&u_k_leaf)
        .expect("the loss depends on its leaf u_k")
        .clone();
    // δ_j = ∂E/∂u_j: restart the graph at u_j, with the output layer fixed
    let u_j_leaf = Var::leaf(u_j.value().clone());
    let (w_jk_c, b_k_c) = (w_jk.detach(), b_k.detach());
    let z = u_j_leaf.sigmoid().affine(&w_jk_c, &b_k_c).sigmoid();
    let delta_j = least_squares(&z, &t).backward().get(&u_j_leaf).expect("the loss depends on its leaf u_j").clone();

    // one step of gradient descent, w ← w − η ∂E/∂w
    let step = |w: &Var, g: &Tensor| w.value().sub(&g.scale(ETA as f32));
    WorkedExample {
        method: Method::Autodiff,
        u_j: pair(u_j.value()),
        y_j: pair(y_j.value()),
        u_k: pair(u_k.value()),
        z_k: pair(z_k.value()),
        e: f64::from(e.value().item()),
        delta_k: pair(&delta_k),
        delta_j: pair(&delta_j),
        de_dw_jk: square(&g_w_jk),
        de_db_k: pair(&g_b_k),
        de_dw_ij: square(&g_w_ij),
        de_db_j: pair(&g_b_j),
        w_jk_new: square(&step(&w_jk, &g_w_jk)),
        b_k_new: pair(&step(&b_k, &g_b_k)),
        w_ij_new: square(&step(&w_ij, &g_w_ij)),
        b_j_new: pair(&step(&b_j, &g_b_j)),
    }
}

/// The worked example computed by the lecture's formulas, written out in plain f64 loops.
pub fn by_formulas() -> WorkedExample {
    let g = |u: f64| 1.0 / (1.0 + (-u).exp());
    let g_prime = |u: f64| g(u) * (1.0 - g(u));

    // forward
    let mut u_j = [0.0; 2];
    for j in 0..2 {
        u_j[j] = B_J[j];
        for i in 0..2 {
            u_j[j] += X[i] * W_IJ[i][j];
        }
    }
    let y_j = u_j.map(g);
    let mut u_k = [0.0; 2];
    for k in 0..2 {
        u_k[k] = B_K[k];
        for j in 0..2 {
            u_k[k] += y_j[j] * W_JK[j][k];
        }
    }
    let z_k = u_k.map(g);
    let e = 0.5 * (0..2).map(|k| (z_k[k] - T[k]).powi(2)).sum::<f64>();

    // backward
    let mut delta_k = [0.0; 2];
    for k in 0..2 {
        delta_k[k] = (z_k[k] - T[k]) * g_prime(u_k[k]);
    }
    let mut delta_j = [0.0; 2];
    for j in 0..2 {
        let back: f64 = (0..2).map(|k| delta_k[k] * W_JK[j][k]).sum();
        delta_j[j] = g_prime(u_j[j]) * back;
    }
    let mut de_dw_jk = [[0.0; 2]; 2];
    let mut de_dw_ij = [[0.0; 2]; 2];
    for j in 0..2 {
        for k in 0..2 {
            de_dw_jk[j][k] = delta_k[k] * y_j[j];
        }
        for i in 0..2 {
            de_dw_ij[i][j] = delta_j[j] * X[i];
        }
    }

    // update, only now that every δ has been computed with the old weights
    let step = |w: f64, grad: f64| w - ETA * grad;
    let mut w_jk_new = W_JK;
    let mut w_ij_new = W_IJ;
    for a in 0..2 {
        for b in 0..2 {
            w_jk_new[a][b] = step(W_JK[a][b], de_dw_jk[a][b]);
            w_ij_new[a][b] = step(W_IJ[a][b], de_dw_ij[a][b]);
        }
    }
    WorkedExample {
        method: Method::Formulas,
        u_j,
        y_j,
        u_k,
        z_k,
        e,
        delta_k,
        delta_j,
        de_dw_jk,
        de_db_k: delta_k,
        de_dw_ij,
        de_db_j: delta_j,
        w_jk_new,
        b_k_new: [0, 1].map(|k| step(B_K[k], delta_k[k])),
        w_ij_new,
        b_j_new: [0, 1].map(|j| step(B_J[j], delta_j[j])),
    }
}

impl WorkedExample {
    /// Every quantity as one flat list, in field order (35 numbers).
    pub fn values(&self) -> Vec<f64> {
        let flat = |m: &[[f64; 2]; 2]| [m[0][0], m[0][1], m[1][0], m[1][1]];
        let mut v = Vec::with_capacity(35);
        for p in [self.u_j, self.y_j, self.u_k, self.z_k] {
            v.extend(p);
        }
        v.push(self.e);
        v.extend(self.delta_k);
        v.extend(self.delta_j);
        v.extend(flat(&self.de_dw_jk));
        v.extend(self.de_db_k);
        v.extend(flat(&self.de_dw_ij));
        v.extend(self.de_db_j);
        v.extend(flat(&self.w_jk_new));
        v.extend(self.b_k_new);
        v.extend(flat(&self.w_ij_new));
        v.extend(self.b_j_new);
        v
    }

    /// The largest |a − b| and the largest |a − b| / max(|a|, |b|) over all quantities of `self`
    /// and `other`.
    pub fn max_difference(&self, other: &WorkedExample) -> (f64, f64) {
        let (mut abs, mut rel) = (0.0f64, 0.0f64);
        for (a, b) in self.values().into_iter().zip(other.values()) {
            let d = (a - b).abs();
            abs = abs.max(d);
            if d > 0.0 {
                rel = rel.max(d / a.abs().max(b.abs()));
            }
        }
        (abs, rel)
    }
}

/// Prints the example stage by stage, one quantity a line with its lecture symbol, this value
/// beside the hand-formula value, and a last line saying whether the two agree.
impl fmt::Display for WorkedExample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference = by_formulas();
        let r = &reference;
        let column = match self.method {
            Method::Autodiff => "autodiff (f32)",
            Method::Formulas => "by formula (f64)",
        };
        let vec2 = |v: [f64; 2]| format!("({:.2}, {:.2})", v[0], v[1]);
        let mat2 = |m: [[f64; 2]; 2]| format!("[{:.2} {:.2}; {:.2} {:.2}]", m[0][0], m[0][1], m[1][0], m[1][1]);
        writeln!(f, "Backpropagation, worked example: inputs x_i, sigmoid hidden y_j, sigmoid outputs z_k")?;
        writeln!(f, "x = {}  t = {}  η = {ETA}  σ(u) = 1/(1 + e^−u)  σ′(u) = σ(u)(1 − σ(u))", vec2(X), vec2(T))?;
        let (w_ij, b_j, w_jk, b_k) = (mat2(W_IJ), vec2(B_J), mat2(W_JK), vec2(B_K));
        writeln!(f, "w_ij = {w_ij}  b_j = {b_j}  w_jk = {w_jk}  b_k = {b_k}")?;
        writeln!(f, "{:<64}{:>16}{:>18}", "", column, "by formula (f64)")?;
        let line = |f: &mut fmt::Formatter<'_>, rule: &str, label: String, a: f64, b: f64| {
            writeln!(f, "{rule:<30}{label:<34}{a:>16.9}{b:>18.9}")
        };
        let pairs = |f: &mut fmt::Formatter<'_>, rule: &str, sym: &str, unit: &str, a: [f64; 2], b: [f64; 2]| {
            line(f, rule, format!("{sym}_1 ({unit})"), a[0], b[0])?;
            line(f, "", format!("{sym}_2 ({unit})"), a[1], b[1])
        };
        let matrix = |f: &mut fmt::Formatter<'_>,
                      rule: &str,
                      sym: &str,
                      from: &str,
                      to: &str,
                      a: &[[f64; 2]; 2],
                      b: &[[f64; 2]; 2]| {
            for (n, (p, q)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                let label = format!("{sym}_{}{} ({from} {} → {to} {})", p + 1, q + 1, p + 1, q + 1);
                line(f, if n == 0 { rule } else { "" }, label, a[p][q], b[p][q])?;
            }
            Ok(())
        };

        writeln!(f, "\nForward pass")?;
        pairs(f, "u_j = Σ_i x_i w_ij + b_j", "u", "hidden", self.u_j, r.u_j)?;
        pairs(f, "y_j = σ(u_j)", "y", "hidden", self.y_j, r.y_j)?;
        pairs(f, "u_k = Σ_j y_j w_jk + b_k", "u", "output", self.u_k, r.u_k)?;
        pairs(f, "z_k = σ(u_k)", "z", "output", self.z_k, r.z_k)?;
        line(f, "E = ½ Σ_k (z_k − t_k)²", "E".to_string(), self.e, r.e)?;

        writeln!(f, "\nBackward pass (δ = ∂E/∂u)")?;
        pairs(f, "δ_k = (z_k − t_k)·σ′(u_k)", "δ", "output", self.delta_k, r.delta_k)?;
        pairs(f, "δ_j = σ′(u_j)·Σ_k δ_k w_jk", "δ", "hidden", self.delta_j, r.delta_j)?;
        matrix(f, "∂E/∂w_jk = δ_k·y_j", "∂E/∂w", "hidden", "output", &self.de_dw_jk, &r.de_dw_jk)?;
        pairs(f, "∂E/∂b_k = δ_k", "∂E/∂b", "output", self.de_db_k, r.de_db_k)?;
        matrix(f, "∂E/∂w_ij = δ_j·x_i", "∂E/∂w", "input", "hidden", &self.de_dw_ij, &r.de_dw_ij)?;
        pairs(f, "∂E/∂b_j = δ_j", "∂E/∂b", "hidden", self.de_db_j, r.de_db_j)?;

        writeln!(f, "\nUpdate, only after the whole backward pass (δ_j above used the old w_jk)")?;
        matrix(f, "w_jk ← w_jk − η·∂E/∂w_jk", "w", "hidden", "output", &self.w_jk_new, &r.w_jk_new)?;
        pairs(f, "b_k ← b_k − η·∂E/∂b_k", "b", "output", self.b_k_new, r.b_k_new)?;
        matrix(f, "w_ij ← w_ij − η·∂E/∂w_ij", "w", "input", "hidden", &self.w_ij_new, &r.w_ij_new)?;
        pairs(f, "b_j ← b_j − η·∂E/∂b_j", "b", "hidden", self.b_j_new, r.b_j_new)?;

        let (abs, rel) = self.max_difference(r);
        let verdict = if rel <= AGREE_RTOL { "agree" } else { "DISAGREE" };
        write!(f, "\n{column} and formulas {verdict}: max |difference| = {abs:.1e} (relative {rel:.1e})")
    }
}

fn row(v: &[f64; 2]) -> Tensor {
    Tensor::from_vec(v.map(|x| x as f32).to_vec(), &[1, 2])
}

fn vector(v: &[f64; 2]) -> Tensor {
    Tensor::from_vec(v.map(|x| x as f32).to_vec(), &[2])
}

fn matrix(m: &[[f64; 2]; 2]) -> Tensor {
    Tensor::from_vec(m.iter().flatten().map(|&x| x as f32).collect(), &[2, 2])
}

fn pair(t: &Tensor) -> [f64; 2] {
    let d = t.data();
    [f64::from(d[0]), f64::from(d[1])]
}

fn square(t: &Tensor) -> [[f64; 2]; 2] {
    let d = t.data();
    [[f64::from(d[0]), f64::from(d[1])], [f64::from(d[2]), f64::from(d[3])]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autodiff_equals_hand_formulas() {
        let (ad, hand) = (worked_example(), by_formulas());
        assert_eq!((ad.method, hand.method), (Method::Autodiff, Method::Formulas));
        for (n, (a, b)) in ad.values().into_iter().zip(hand.values()).enumerate() {
            assert!((a - b).abs() <= AGREE_RTOL * b.abs(), "quantity {n}: autodiff {a} vs formula {b}");
        }
    }

    #[test]
    fn matches_published_values_of_the_classic_example() {
        // M. Mazur, "A Step by Step Backpropagation Example" (w1..w8 as documented on W_IJ, W_JK)
        for (ex, tol) in [(by_formulas(), 1e-8), (worked_example(), 1e-6)] {
            let near = |got: f64, want: f64, what: &str| {
                assert!((got - want).abs() < tol, "{:?} {what}: got {got}, published {want}", ex.method)
            };
            near(ex.u_j[0], 0.3775, "net_h1");
            near(ex.y_j[0], 0.593269992, "out_h1");
            near(ex.y_j[1], 0.596884378, "out_h2");
            near(ex.z_k[0], 0.75136507, "out_o1");
            near(ex.z_k[1], 0.772928465, "out_o2");
            near(ex.e, 0.298371109, "E_total");
            near(ex.de_dw_jk[0][0], 0.082167041, "∂E/∂w5");
            near(ex.de_dw_ij[0][0], 0.000438568, "∂E/∂w1");
            near(ex.w_jk_new[0][0], 0.35891648, "w5⁺");
            near(ex.w_jk_new[1][0], 0.408666186, "w6⁺");
            near(ex.w_jk_new[0][1], 0.511301270, "w7⁺");
            near(ex.w_jk_new[1][1], 0.561370121, "w8⁺");
            near(ex.w_ij_new[0][0], 0.149780716, "w1⁺");
            near(ex.w_ij_new[1][0], 0.19956143, "w2⁺");
            near(ex.w_ij_new[0][1], 0.24975114, "w3⁺");
            near(ex.w_ij_new[1][1], 0.29950229, "w4⁺");
        }
    }

    #[test]
    fn bias_gradients_are_the_deltas_and_biases_step_too() {
        for ex in [worked_example(), by_formulas()] {
            assert_eq!(ex.de_db_k, ex.delta_k);
            assert_eq!(ex.de_db_j, ex.delta_j);
            let stepped = |b: [f64; 2], grad: [f64; 2]| [0, 1].map(|n| b[n] - ETA * grad[n]);
            for (got, want) in [(ex.b_k_new, stepped(B_K, ex.delta_k)), (ex.b_j_new, stepped(B_J, ex.delta_j))] {
                assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-7), "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn display_labels_every_quantity_and_agrees() {
        let text = worked_example().to_string();
        let mut labels = vec!["E = ½ Σ_k (z_k − t_k)²".to_string(), "η = 0.5".to_string()];
        for n in 1..=2 {
            for (sym, unit) in [("u", "hidden"), ("y", "hidden"), ("u", "output"), ("z", "output")] {
                labels.push(format!("{sym}_{n} ({unit})"));
            }
            for unit in ["output", "hidden"] {
                labels.push(format!("δ_{n} ({unit})"));
                labels.push(format!("∂E/∂b_{n} ({unit})"));
                labels.push(format!("b_{n} ({unit})"));
            }
            for m in 1..=2 {
                labels.push(format!("∂E/∂w_{n}{m} (hidden {n} → output {m})"));
                labels.push(format!("∂E/∂w_{n}{m} (input {n} → hidden {m})"));
                labels.push(format!("  w_{n}{m} (hidden {n} → output {m})"));
                labels.push(format!("  w_{n}{m} (input {n} → hidden {m})"));
            }
        }
        for label in &labels {
            assert!(text.contains(label.as_str()), "missing {label:?} in\n{text}");
        }
        assert!(text.lines().last().unwrap().contains("autodiff (f32) and formulas agree"), "{text}");
        assert!(text.lines().count() <= 55, "{text}");
    }
}
