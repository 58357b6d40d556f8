//! `nabla summary`: a model's layers, one row each, with the output shape, the parameters and the
//! connections (multiply-adds through the layer, bias included, as the lecture and LeCun et al.
//! count them; see `nabla::nn::Summary`), and the totals. Keras prints parameters only; the
//! connections show what shared weights buy: LeNet-5's C1 has 156 parameters but 122,304
//! connections.

use super::shared::help;
use super::shared::print::outln;
use clap::Args;
use nabla::Result;
use nabla::nn::ModelSpec;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    // the help lists the zoo from `nabla::nn::ZOO`
    #[arg(long, default_value = "lenet5-modern", help = help::summary_model())]
    pub model: String,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// 122304 → "122,304".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn shape(dims: &[usize]) -> String {
    dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×")
}

pub fn run(args: SummaryArgs) -> Result<()> {
    let spec = ModelSpec::load(&args.model)?;
    let s = spec.summary()?;
    if args.json {
        outln!("{}", serde_json::to_string(&s).expect("a summary serializes"));
        return Ok(());
    }
    let loss = serde_json::to_value(spec.loss).expect("a loss serializes");
    outln!("{}: input {}, loss {}", s.model, shape(&s.input), loss.as_str().unwrap_or_default());
    // the name column fits the longest name (GoogLeNet's are Caffe's, "conv2/3x3_reduce")
    let w = s.layers.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).max(12);
    let row = |index: &str, name: &str, kind: &str, output: &str, parameters: &str, connections: &str| {
        outln!("{index:>3}  {name:<w$} {kind:<12} {output:<12} {parameters:>12} {connections:>13}");
    };
    row("#", "layer", "type", "output", "parameters", "connections");
    for r in &s.layers {
        let (p, c) = (thousands(r.parameters), thousands(r.connections));
        row(&r.index.to_string(), &r.name, &r.kind, &shape(&r.output), &p, &c);
    }
    row("", "total", "", "", &thousands(s.parameters), &thousands(s.connections));
    Ok(())
}
