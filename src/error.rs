//! Errors that a user can cause with a file, a flag or a config: each names the place and what was
//! expected. Shape bugs in code that calls the tensor API are programmer errors and panic instead
//! (with the op and both shapes), so that arithmetic never returns `Result`.

use std::path::{Path, PathBuf};

/// Everything in nabla that can fail because of its input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file was read but its content is not what the format expects.
    #[error("{path}: {place}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Where in the file: a header field, a byte offset, a row and column.
        place: String,
        /// What was found and what was expected.
        message: String,
    },
    /// A flag, a model spec or a setting is not valid.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// A format error in `path` at `place`.
    pub fn format(path: &Path, place: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), place: place.into(), message: message.into() }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}

/// nabla's result type.
pub type Result<T> = std::result::Result<T, Error>;
