//! Printing that survives a closed pipe. `println!` panics when stdout is gone: `nabla train |
//! head` closes it after ten lines, and the eleventh `println!` ended the run with a panic (exit
//! 101) and a backtrace. Rust ignores SIGPIPE, which would have ended a C program quietly at that
//! write, so each write must say what happens instead; every line of the CLI goes through these
//! macros, whose writes return the error rather than panic:
//!
//! - [`outln!`]/[`out!`] (stdout): a closed pipe ends the process at once and quietly, with
//!   status 141 (128 + SIGPIPE, what the shell reports for `cat big | head`), as a Unix filter
//!   ends when its reader leaves; a run folder is then left as after its last completed epoch
//!   (its files are written atomically, and no write is under way while a line is printed). Any
//!   other failure (stdout redirected to a full disk) is an error on stderr and exit 1: lost
//!   output must not pass for success.
//! - [`errln!`] (stderr: progress and diagnostics): errors are ignored, as std already ignores a
//!   closed stderr; the work and its stdout still matter when the log cannot be delivered.
//!
//! The alternative, propagating `io::Result` from every print, cannot reach the lines printed by
//! the trainer's `Observer` callbacks, which return nothing.

use std::io::Write;

/// What a write to a closed stdout pipe exits with: 128 + SIGPIPE (13).
pub const BROKEN_PIPE_STATUS: i32 = 141;

/// Writes `args` to stdout; ends the process if that fails (see the module doc).
pub fn write_stdout(args: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(BROKEN_PIPE_STATUS);
        }
        let _ = writeln!(std::io::stderr(), "error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// Writes `args` to stderr, ignoring failures (see the module doc).
pub fn write_stderr(args: std::fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `println!` for the CLI: a closed stdout ends the process quietly instead of panicking.
macro_rules! outln {
    () => {
        $crate::cli::shared::print::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::shared::print::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the CLI, as [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::shared::print::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` for the CLI: a failed write to stderr is ignored instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::shared::print::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
