//! Run a command and print its output and exit status (Twisted's
//! `getProcessOutputAndValue`).
//!
//! ```text
//! cargo run --example process_output -- PROGRAM [ARGS...]
//! ```
//!
//! Runs `PROGRAM` with `ARGS` as a child process, waits for it through the Deferred of
//! `get_process_output_and_value`, then prints what it wrote to stdout and stderr and how
//! it ended. Exits 0 when the child could be run (whatever its status), 1 when it could
//! not (`spawn nosuchprog: No such file or directory`), 2 without a program.

use std::ffi::OsString;

use torsion::{
    process::{get_process_output_and_value, Command, ProcessOutput},
    task::react,
    Failure,
};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: process_output PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    let rest: Vec<OsString> = args.collect();
    react(|reactor| {
        let command = Command::new(&program).args(&rest);
        get_process_output_and_value(reactor, command).add_callback(|output: ProcessOutput| {
            print_section("stdout", &output.stdout);
            print_section("stderr", &output.stderr);
            println!("{}", output.exit);
            Ok::<_, Failure>(())
        })
    })
}

fn print_section(name: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    println!("{name}: {} bytes", bytes.len());
    for line in text.lines() {
        println!("  {line}");
    }
}
