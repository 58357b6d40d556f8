//! A model's summary: for each layer its output shape, its trainable parameters and its
//! connections, counted as LeCun et al. (1998) and the lecture count them.
//!
//! A *connection* is one input-to-unit link of a unit, with the bias counted as one more link
//! (a multiply-add, or an add for the bias): a unit with F inputs and a bias has F + 1
//! connections. Shared weights make a convolution's connections many more than its parameters:
//!
//! | layer       | parameters                      | connections                                  |
//! |-------------|---------------------------------|----------------------------------------------|
//! | `linear`    | out·(in + 1)                    | the same                                     |
//! | `conv2d`    | Σ_o (links_o·KH·KW + 1)         | OH·OW · Σ_o (links_o·KH·KW + 1)              |
//! | `subsample` | 2·C                             | C·OH·OW·(KH·KW + 1)                          |
//! | pooling     | 0                               | C·OH·OW·KH·KW (each output reads its window) |
//! | `rbf`       | out·in                          | out·in                                       |
//! | `inception` | the sum over its six convolutions | theirs, plus its 3×3 pool's                |
//! | `auxiliary` | the sum over its head's layers  | theirs (used in training only)               |
//! | elementwise, `dropout`, `pad`, `flatten`, `lrn` | 0 | 0                                      |
//!
//! Each kind counts itself ([`super::LayerKind::counts`], beside its layer); this table sums
//! their rules up.
//!
//! links_o is the number of input maps output map o reads (all C, or its row of the connection
//! table). For LeNet-5 this gives the paper's figures: C1 156 parameters and 122,304 connections,
//! S2 12 and 5,880, C3 1,516 and 151,600, S4 32 and 2,000, C5 48,120 and 48,120, F6 10,164 and
//! 10,164, and 340,908 connections in all.

use super::ModelSpec;
use crate::Result;
use serde::Serialize;

/// One row of a summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRow {
    /// Position in the spec, from 0.
    pub index: usize,
    /// The layer's name, or its type when it has none.
    pub name: String,
    /// The layer's type.
    pub kind: String,
    /// The shape of one sample's output.
    pub output: Vec<usize>,
    /// Trainable numbers (unmasked weights only).
    pub parameters: usize,
    /// Connections (see the module docs).
    pub connections: usize,
}

/// A model's layers with their shapes and counts, and the totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The model's name.
    pub model: String,
    /// The shape of one input sample.
    pub input: Vec<usize>,
    /// One row per layer.
    pub layers: Vec<LayerRow>,
    /// The sum of the parameters.
    pub parameters: usize,
    /// The sum of the connections.
    pub connections: usize,
}

impl Summary {
    /// The row of the layer named `name` (or of the first layer of that type).
    pub fn row(&self, name: &str) -> Option<&LayerRow> {
        self.layers.iter().find(|r| r.name == name)
    }
}

impl ModelSpec {
    /// The summary of the model: shapes, parameters and connections of every layer. Fails as
    /// [`ModelSpec::shapes`] does.
    pub fn summary(&self) -> Result<Summary> {
        let shapes = self.shapes()?;
        let mut input = self.input.clone();
        let mut layers = Vec::with_capacity(self.layers.len());
        for (index, (layer, output)) in self.layers.iter().zip(shapes).enumerate() {
            let (parameters, connections) = layer.spec.as_kind().counts(&input, &output);
            if parameters == usize::MAX || connections == usize::MAX {
                return Err(crate::Error::config(format!(
                    "model '{}': layer {index} ({}): its counts do not fit in 64 bits",
                    self.name,
                    layer.describe()
                )));
            }
            layers.push(LayerRow {
                index,
                name: layer.name.clone().unwrap_or_else(|| layer.spec.kind().to_string()),
                kind: layer.spec.kind().to_string(),
                output: output.clone(),
                parameters,
                connections,
            });
            input = output;
        }
        Ok(Summary {
            model: self.name.clone(),
            input: self.input.clone(),
            parameters: layers.iter().map(|r| r.parameters).fold(0, usize::saturating_add),
            connections: layers.iter().map(|r| r.connections).fold(0, usize::saturating_add),
            layers,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::nn::{ModelSpec, Module};
    use crate::rng::Rng;

    #[test]
    fn lenet5_counts_are_the_papers() {
        let s = ModelSpec::zoo("lenet5").unwrap().summary().unwrap();
        let row = |name: &str| {
            let r = s.row(name).unwrap_or_else(|| panic!("no layer {name}"));
            (r.output.clone(), r.parameters, r.connections)
        };
        assert_eq!(row("C1"), (vec![6, 28, 28], 156, 122_304));
        assert_eq!(row("S2"), (vec![6, 14, 14], 12, 5_880));
        assert_eq!(row("C3"), (vec![16, 10, 10], 1_516, 151_600));
        assert_eq!(row("S4"), (vec![16, 5, 5], 32, 2_000));
        assert_eq!(row("C5"), (vec![120, 1, 1], 48_120, 48_120));
        assert_eq!(row("F6"), (vec![84], 10_164, 10_164));
        assert_eq!(row("output"), (vec![10], 840, 840));
        assert_eq!(s.connections, 340_908);
        // 60,000 trainable numbers up to F6, plus the 840 RBF centres that nabla trains too
        assert_eq!(s.parameters, 60_840);
        // the built model agrees: C3's masked weights are not parameters
        let model = ModelSpec::zoo("lenet5").unwrap().build(&mut Rng::seed(0)).unwrap();
        assert_eq!(model.num_parameters(), s.parameters);
    }

    #[test]
    fn modern_lenet_and_mlp_counts() {
        let s = ModelSpec::zoo("lenet5-modern").unwrap().summary().unwrap();
        // the same as PyTorch's sum(p.numel() for p in lenet().parameters()) in torch_ref.py
        assert_eq!(s.parameters, 156 + 2_416 + 48_120 + 10_164 + 850);
        assert_eq!(s.layers[0].connections, 156 * 28 * 28);
        assert_eq!(s.layers[2].connections, 6 * 14 * 14 * 4);
        let mlp = ModelSpec::zoo("mlp").unwrap().summary().unwrap();
        assert_eq!(mlp.parameters, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
        assert_eq!(mlp.connections, mlp.parameters);
    }
}
