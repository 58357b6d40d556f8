//! Numbers in the `--json` output of every command.

/// An f32 as the JSON number that prints like it (0.1, not 0.10000000149011612).
pub fn json_f32(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or(serde_json::Value::Null, serde_json::Value::from)
}
