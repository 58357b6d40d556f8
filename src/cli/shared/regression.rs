//! Regression figures as a user reads them: in the target's own units (the model learns the
//! standardised target; its errors are scaled back by the target's standard deviation), on the
//! epoch line, in `eval`'s line and in the `--json` summaries (`test_mse`, `val_rmse`, …).

use super::json::json_f32;
use nabla::data::table::TableSchema;
use nabla::train::RegressionMetrics;

/// The standard deviation that maps a model's standardised target back to its units (1 for a
/// model that learnt the raw values).
pub fn target_std(schema: Option<&TableSchema>) -> f32 {
    schema.and_then(|s| s.target_scale).map_or(1.0, |s| s.std)
}

/// `mse 1.2  rmse 1.1  mae 0.9  r2 0.87` after `prefix` (`test `, `val `).
pub fn text(prefix: &str, m: &RegressionMetrics) -> String {
    format!(
        "{prefix}mse {}  {prefix}rmse {}  {prefix}mae {}  {prefix}r2 {:.4}",
        short(m.mse),
        short(m.rmse()),
        short(m.mae),
        m.r2
    )
}

/// Four significant digits, whatever the target's scale (a price in dollars, a rate in 10⁻³).
fn short(x: f32) -> String {
    if x != 0.0 && !(1e-3..1e5).contains(&x.abs()) { format!("{x:.3e}") } else { format!("{:.4}", x) }
}

/// Sets `<prefix>_mse`, `_rmse`, `_mae` and `_r2` of `out` (null for none).
pub fn json(out: &mut serde_json::Value, prefix: &str, m: Option<RegressionMetrics>) {
    out[format!("{prefix}_mse")] = m.map(|m| json_f32(m.mse)).unwrap_or_default();
    out[format!("{prefix}_rmse")] = m.map(|m| json_f32(m.rmse())).unwrap_or_default();
    out[format!("{prefix}_mae")] = m.map(|m| json_f32(m.mae)).unwrap_or_default();
    out[format!("{prefix}_r2")] = m.map(|m| json_f32(m.r2)).unwrap_or_default();
}
