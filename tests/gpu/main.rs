//! The GPU backend (cargo feature `gpu`) against the CPU, in one test binary: each kernel
//! against the CPU op it stands for, forward and backward, on shapes that are odd, prime and not
//! multiples of a workgroup, with the error bound each file's header justifies; training steps
//! of the zoo models on both devices; short MNIST trainings; the errors of a GPU that cannot be
//! had. CI runs these on Mesa's software Vulkan driver (lavapipe). `cargo test --features gpu
//! --test gpu <module>::` runs one family.
#![cfg(feature = "gpu")]

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod basics;
mod chars;
mod conv;
mod eval;
mod ops;
mod rnn;
