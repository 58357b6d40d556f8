//! The optimizers that can be built by name: one table, [`OPTIMIZER_KINDS`], from which the list of
//! names, the default learning rates, [`by_name`] and its error messages all follow. Adding an
//! optimizer is its file and one entry here (and its row in the module's doc table, which a test
//! holds to this one).

use super::{AdaDelta, AdaDeltaWindow, AdaGrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use crate::{Error, Result};

/// One optimizer that [`by_name`] builds.
#[derive(Clone, Copy, Debug)]
pub struct OptimizerKind {
    /// The name that [`by_name`] takes.
    pub name: &'static str,
    /// The learning rate η when none is given.
    pub default_lr: f32,
    /// The update, in one line (as in the table of [`crate::optim`]).
    pub update: &'static str,
    /// Whether it takes a momentum α and Nesterov's form.
    pub momentum: bool,
    /// Builds it with learning rate η (checked), momentum α and Nesterov (given only to a kind that
    /// takes them).
    build: fn(f32, Option<f32>, bool) -> Result<Optimizer>,
}

/// Every optimizer, in the order that error messages and `--help` list them.
///
/// Default η: sgd 0.1 (the lecture's MLP on MNIST; take about 0.01 with momentum 0.9), adagrad
/// 0.01 and adadelta-window 0.01 (PyTorch's AdaGrad default), adadelta 1.0 (Zeiler's form needs no
/// learning rate; η only scales Δw, as in PyTorch), rmsprop 0.001 (Keras, Hinton's lecture), adam
/// and adamw 0.001 (the Adam paper, PyTorch).
pub const OPTIMIZER_KINDS: [OptimizerKind; 7] = [
    OptimizerKind {
        name: "sgd",
        default_lr: 0.1,
        update: "w ← w − ηg, or with momentum Δw ← αΔw − ηg, w ← w + Δw",
        momentum: true,
        build: sgd,
    },
    OptimizerKind {
        name: "adagrad",
        default_lr: 0.01,
        update: "G ← G + g², w ← w − η/√(G + ε)·g",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(AdaGrad::default(), eta)),
    },
    OptimizerKind {
        name: "adadelta",
        default_lr: 1.0,
        update: "Zeiler: Δw = −√(E[Δw²] + ε)/√(E[g²] + ε)·g, w ← w + ηΔw",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(AdaDelta::default(), eta)),
    },
    OptimizerKind {
        name: "adadelta-window",
        default_lr: 0.01,
        update: "S = Σ of g² over the last `window` steps, w ← w − η/√(S + ε)·g",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(AdaDeltaWindow::default(), eta)),
    },
    // RMSProp as Keras and Hinton's lecture set it: PyTorch's 0.01 left an MNIST MLP at 90.0% after
    // 2 epochs on 10,000 samples, 0.001 reached 93.7%
    OptimizerKind {
        name: "rmsprop",
        default_lr: 0.001,
        update: "v ← αv + (1 − α)g², w ← w − ηg/(√v + ε)",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(RmsProp::default(), eta)),
    },
    OptimizerKind {
        name: "adam",
        default_lr: 0.001,
        update: "bias-corrected moments m̂, v̂: w ← w − ηm̂/(√v̂ + ε)",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(Adam::default(), eta)),
    },
    OptimizerKind {
        name: "adamw",
        default_lr: 0.001,
        update: "w ← w − ηλw, then the Adam step",
        momentum: false,
        build: |eta, _, _| Ok(Optimizer::new(AdamW::default(), eta)),
    },
];

/// The names that [`by_name`] accepts, in [`OPTIMIZER_KINDS`]' order.
pub const OPTIMIZERS: [&str; OPTIMIZER_KINDS.len()] = {
    let mut names = [""; OPTIMIZER_KINDS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = OPTIMIZER_KINDS[i].name;
        i += 1;
    }
    names
};

/// The momentum α that [`by_name`] uses when Nesterov momentum is asked for without a value.
pub const DEFAULT_MOMENTUM: f32 = 0.9;

/// The entry of the optimizer `name`; an unknown name is an error listing the valid ones.
pub fn kind(name: &str) -> Result<&'static OptimizerKind> {
    OPTIMIZER_KINDS
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::config(format!("unknown optimizer '{name}': expected one of {}", OPTIMIZERS.join(", "))))
}

/// The default learning rate η of an optimizer named as in [`by_name`] (see [`OPTIMIZER_KINDS`]).
/// An unknown name is an error listing the valid ones.
pub fn default_lr(name: &str) -> Result<f32> {
    Ok(kind(name)?.default_lr)
}

/// Builds the optimizer `name` (one of [`OPTIMIZERS`]) with learning rate `eta` and each rule's
/// default hyper-parameters (see each rule's `Default`).
///
/// `momentum` (α, 0 ≤ α < 1) and `nesterov` apply to `sgd` only: `Some(α)` gives the lecture's
/// momentum, and `nesterov` Nesterov's, with α = [`DEFAULT_MOMENTUM`] when `momentum` is `None`.
/// An unknown name, a non-positive η, an α outside [0, 1), Nesterov with α = 0, or momentum asked
/// of another optimizer are configuration errors.
pub fn by_name(name: &str, eta: f32, momentum: Option<f32>, nesterov: bool) -> Result<Optimizer> {
    let kind = kind(name)?;
    if !(eta > 0.0 && eta.is_finite()) {
        return Err(Error::config(format!("learning rate η = {eta}: must be a positive number")));
    }
    if !kind.momentum && (momentum.is_some() || nesterov) {
        let takers: Vec<&str> = OPTIMIZER_KINDS.iter().filter(|k| k.momentum).map(|k| k.name).collect();
        return Err(Error::config(format!(
            "momentum and Nesterov apply to {} only, not to '{name}'",
            takers.join(" and ")
        )));
    }
    (kind.build)(eta, momentum, nesterov)
}

/// SGD with the lecture's momentum α, or Nesterov's (α = [`DEFAULT_MOMENTUM`] if not given).
fn sgd(eta: f32, momentum: Option<f32>, nesterov: bool) -> Result<Optimizer> {
    let alpha = momentum.unwrap_or(if nesterov { DEFAULT_MOMENTUM } else { 0.0 });
    if !(0.0..1.0).contains(&alpha) {
        return Err(Error::config(format!("momentum α = {alpha}: must lie in [0, 1)")));
    }
    if nesterov && alpha == 0.0 {
        return Err(Error::config("Nesterov momentum needs a momentum α > 0"));
    }
    Ok(Optimizer::new(Sgd { momentum: alpha, nesterov }, eta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::Quadratic;

    #[test]
    fn by_name_builds_every_optimizer_with_its_default_lr() {
        for name in OPTIMIZERS {
            let eta = default_lr(name).unwrap();
            assert_eq!(by_name(name, eta, None, false).unwrap().lr(), eta);
            // the default η suit networks, not this bowl of curvature up to 100: take a small one
            let mut optimizer = by_name(name, 0.001, None, false).unwrap();
            assert!(optimizer.name().starts_with(name.split('-').next().unwrap()), "{name}: {}", optimizer.name());
            let mut model = Quadratic::ill_conditioned();
            let before = model.loss();
            model.step(&mut optimizer);
            assert!(model.loss() < before, "{name}: one step did not lower the loss");
            assert_eq!(optimizer.steps(), 1);
        }
        assert_eq!(by_name("sgd", 0.1, Some(0.5), false).unwrap().name(), "sgd(momentum 0.5)");
        assert_eq!(by_name("sgd", 0.1, None, true).unwrap().name(), "sgd(nesterov 0.9)");
    }

    #[test]
    fn by_name_rejects_bad_names_and_settings() {
        let err = by_name("adamax", 0.1, None, false).err().unwrap().to_string();
        assert!(err.contains("'adamax'") && err.contains("adadelta-window") && err.contains("adamw"), "{err}");
        assert!(default_lr("adamax").is_err());
        let err = by_name("adam", 0.1, Some(0.9), false).err().unwrap().to_string();
        assert_eq!(err, "momentum and Nesterov apply to sgd only, not to 'adam'");
        for (name, eta, momentum, nesterov) in [
            ("sgd", 0.0, None, false),
            ("sgd", f32::NAN, None, false),
            ("sgd", 0.1, Some(1.0), false),
            ("sgd", 0.1, Some(-0.1), false),
            ("sgd", 0.1, Some(0.0), true),
            ("adam", 0.1, Some(0.9), false),
            ("rmsprop", 0.1, None, true),
        ] {
            assert!(by_name(name, eta, momentum, nesterov).is_err(), "{name} η {eta} α {momentum:?} {nesterov}");
        }
    }

    /// The table in the module docs of `optim` (name, update, default η) says what the code does.
    #[test]
    fn the_doc_table_agrees_with_the_kinds() {
        let rows = crate::optim::testing::doc_table_rows(include_str!("mod.rs"));
        let named: Vec<&Vec<String>> = rows.iter().filter(|cells| !cells[0].is_empty()).collect();
        assert_eq!(named.len(), OPTIMIZER_KINDS.len(), "{rows:?}");
        for cells in named {
            let name = cells[0].trim_matches('`');
            let kind = kind(name).unwrap_or_else(|e| panic!("doc table: {e}"));
            assert_eq!(cells[2].replace('\\', ""), kind.update, "{name}: update");
            assert_eq!(cells[3].parse::<f32>().ok(), Some(kind.default_lr), "{name}: default η");
        }
    }
}
