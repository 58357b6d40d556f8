//! The end-to-end tests, one module per area, linked into one test binary: each binary links
//! all of nabla, and one link instead of fifteen is minutes of CI. `cargo test --test suite
//! <module>::` runs one area. Three stay binaries of their own: `fuzz.rs` installs a
//! global allocator, and `mpi.rs` and `gpu/` need a cargo feature.

#[path = "../common/mod.rs"]
mod common;

mod augment_cli;
mod bad_input_cli;
mod char_lm_cli;
mod cli;
mod cnn_cli;
mod image_folder_cli;
mod kill_resume;
mod loss_trajectory;
mod onnx_export;
mod overfit_cli;
mod run_folder_cli;
mod sequences_cli;
mod tables_cli;
mod torch_interop;
mod torch_reference;
mod train_cli;
