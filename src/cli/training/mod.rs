//! The training pipeline that `nabla train` (one run or an ensemble's members) and `nabla compare`
//! share: flags → [`prepare`] (a [`Run`]) → [`execute`] → [`summary`]. It imports only
//! `super::shared`, never a command module.

mod device;
mod execute;
mod flags;
mod model;
mod prepare;
mod progress;
mod run_folder;
mod sequences;
mod summary;
mod text;

pub use device::place;
pub use execute::execute;
pub use flags::{MOMENTUM_ALIAS, TrainArgs};
pub use prepare::prepare;
#[cfg(feature = "mpi")]
pub use prepare::{Run, prepare_rank};
pub use run_folder::MODEL_FILE;
pub use summary::summary;
