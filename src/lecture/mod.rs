//! The lecture's worked examples, run by the library itself.

pub mod backprop;

pub use backprop::{Method, WorkedExample, by_formulas, worked_example};
