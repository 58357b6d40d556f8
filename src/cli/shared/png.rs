//! PNG reading lives in the library (`nabla::data::read_gray_png`), where the fuzzer reaches it.

pub use nabla::data::read_gray_png;
