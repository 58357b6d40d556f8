//! `nabla explain`: the lecture's worked backpropagation example, computed by the library.

use nabla::Result;
use nabla::lecture::worked_example;

pub fn run() -> Result<()> {
    print!("{}", worked_example());
    Ok(())
}
