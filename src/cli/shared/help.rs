//! Help texts that list what the library offers, built from its tables (the model zoo, the
//! activations, the optimizers, the schedules) so that `--help` names every entry and no other.

use nabla::nn::Activation;
use nabla::optim::OPTIMIZERS;
use nabla::optim::schedule::SCHEDULES;

/// "a, b or c".
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [head @ .., last] => format!("{} or {last}", head.join(", ")),
    }
}

/// The zoo's model names, comma-separated, as `nabla::nn::ZOO` lists them.
pub fn zoo_names() -> String {
    nabla::nn::ZOO.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// `nabla train --model`.
pub fn train_model() -> String {
    format!(
        "The model: a zoo name ({}; see `nabla summary`) or a spec file (TOML, format in models/*.toml). Without \
         --model and --hidden: lenet5-modern for MNIST, an MLP 512,512 for a CSV file. A spec's [train] table sets \
         defaults that flags override",
        zoo_names()
    )
}

/// `nabla train --activation`.
pub fn activation() -> String {
    let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
    format!("Hidden activation of an MLP: {}", or_list(&names))
}

/// `nabla summary --model`.
pub fn summary_model() -> String {
    format!("A zoo model ({}) or a spec file (TOML)", zoo_names())
}

/// `nabla train --optimizer`; `alias` is the CLI's extra name for SGD with momentum.
pub fn train_optimizer(alias: &str) -> String {
    let mut names: Vec<String> = OPTIMIZERS.iter().map(|n| n.to_string()).collect();
    names.insert(1, format!("{alias} (sgd with α = 0.9)"));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    format!("Optimizer: {} [default: the model's, else sgd]", or_list(&names))
}

/// `nabla train --schedule`.
pub fn train_schedule() -> String {
    format!(
        "Learning-rate schedule: {} (plateau is the lecture's: divide η by --factor when the loss has flattened for \
         --patience epochs) [default: the model's, else constant]",
        or_list(&SCHEDULES)
    )
}

/// `nabla compare --optimizer`.
pub fn compare_optimizers(alias: &str) -> String {
    let mut names = OPTIMIZERS.to_vec();
    names.insert(1, alias);
    format!("Optimizers to compare, comma-separated ({})", names.join(", "))
}

/// `nabla compare --schedule`.
pub fn compare_schedules() -> String {
    format!("Schedules to compare, comma-separated ({})", SCHEDULES.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_texts_name_every_zoo_model_optimizer_and_schedule() {
        for (name, _) in nabla::nn::ZOO {
            assert!(train_model().contains(name) && summary_model().contains(name), "{name}");
        }
        for a in Activation::ALL {
            assert!(activation().contains(a.name()), "{a:?}");
        }
        for name in OPTIMIZERS {
            assert!(train_optimizer("momentum").contains(name) && compare_optimizers("momentum").contains(name));
        }
        for name in SCHEDULES {
            assert!(train_schedule().contains(name) && compare_schedules().contains(name), "{name}");
        }
        assert_eq!(or_list(&["a", "b", "c"]), "a, b or c");
    }
}
