//! Helpers that several commands share. Nothing here imports a command module or the training
//! pipeline (`super::training`): the imports of `cli` run one way, commands → training → shared.

pub mod augment_flags;
pub mod device;
pub mod help;
pub mod images;
pub mod json;
pub mod limits;
pub mod png;
pub mod print;
pub mod regression;
pub mod row_cache;
pub mod source;
