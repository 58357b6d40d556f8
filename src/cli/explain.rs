//! `nabla explain`: the lecture's worked backpropagation example, computed by the library.

use crate::cli::shared::print::out;
use nabla::Result;
use nabla::lecture::worked_example;

pub fn run() -> Result<()> {
    out!("{}", worked_example());
    Ok(())
}
