//! `nabla train --ensemble K [--bagging]`: model averaging. K members are trained with seeds
//! seed, seed + 1, …, each in its own run folder (`<run>/member-k`); with bagging each learns from
//! its own bootstrap resample of the training set. The test set is then scored by the average of
//! the members' probabilities, beside each member's own accuracy.

use crate::cli::shared::json::json_f32;
use crate::cli::shared::print::{errln, outln};
use crate::cli::training::{self, MODEL_FILE, TrainArgs};
use nabla::Result;
use nabla::nn::Model;
use nabla::report::claim_run_dir;
use nabla::train::{bootstrap, evaluate_ensemble};

/// Trains the members, prints their and the ensemble's test accuracy, and with `--json` one
/// summary whose `test_accuracy` is the ensemble's and `members_test_accuracy` lists the members'.
pub fn run(args: TrainArgs, members: usize) -> Result<()> {
    let root = claim_run_dir(&args.runs, &args.name)?;
    let mut models: Vec<Model> = Vec::with_capacity(members);
    for k in 0..members {
        let mut member = args.clone();
        member.seed = args.seed + k as u64;
        member.runs = root.clone();
        member.name = format!("member-{}", k + 1);
        member.out = None;
        member.json = false;
        let mut run = training::prepare(member)?;
        if args.bagging {
            let rows = bootstrap(run.data.train.len(), run.args.seed);
            run.data.train = run.data.train.subset(&rows);
        }
        errln!("── member {}/{members}{}", k + 1, if args.bagging { " (bootstrap resample)" } else { "" });
        let run = training::execute(run, false)?;
        let summary = training::summary(&run, &run.record.dir().join(MODEL_FILE));
        models.push(run.trainer.model);
        if k + 1 < members {
            continue;
        }
        let mut out = summary;
        out["ensemble"] = members.into();
        out["bagging"] = args.bagging.into();
        out["run_dir"] = serde_json::json!(root);
        out["members_weights"] =
            (1..=members).map(|k| serde_json::json!(root.join(format!("member-{k}")).join(MODEL_FILE))).collect();
        let test = &run.data.test;
        if test.is_empty() {
            // no test figures: the summary's test_loss and test_accuracy stay null
            errln!("no test set: the ensemble is not evaluated");
        } else {
            let e = evaluate_ensemble(&mut models, test)
                .ok_or_else(|| nabla::Error::config("--ensemble needs class labels"))?;
            let mean = e.members.iter().sum::<f32>() / e.members.len() as f32;
            for (i, a) in e.members.iter().enumerate() {
                outln!("member {}: test acc {:.2}%", i + 1, 100.0 * a);
            }
            outln!("ensemble of {members}: test acc {:.2}% (mean member {:.2}%)", 100.0 * e.accuracy, 100.0 * mean);
            out["test_accuracy"] = json_f32(e.accuracy);
            out["test_loss"] = json_f32(e.loss);
            out["members_test_accuracy"] = e.members.iter().map(|&a| json_f32(a)).collect();
        }
        if args.json {
            outln!("{out}");
        }
    }
    Ok(())
}
