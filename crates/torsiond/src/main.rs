//! The `torsiond` command with the built-in plugins (see the crate docs).

use std::process::ExitCode;

fn main() -> ExitCode {
    torsiond::run(torsiond::builtin_plugins())
}
