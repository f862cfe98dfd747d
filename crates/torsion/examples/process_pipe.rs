//! Feed lines into `sort` and print what comes back: a `ProcessProtocol` that writes to a
//! child's stdin, closes it, and collects its stdout (Twisted's `spawnProcess`).
//!
//! ```text
//! cargo run --example process_pipe -- [WORDS...]
//! ```
//!
//! Writes each word (default: a few fruit) on its own line to `sort`, closes its stdin so
//! it sorts, prints the sorted lines as they arrive and the exit status when the process
//! ended, then stops. Exits 1 if `sort` could not run or did not exit cleanly.

use torsion::{
    defer::{Deferred, Resolver},
    process::{spawn_process, Command, ProcessExit, ProcessProtocol, ProcessTransport},
    task::react,
    Failure,
};

/// Writes the lines when the child starts; prints its output; fires `done` at the end.
struct Sorter {
    lines: Vec<String>,
    partial: Vec<u8>,
    done: Option<Resolver<ProcessExit>>,
}

impl ProcessProtocol for Sorter {
    fn connection_made(&mut self, transport: ProcessTransport) {
        for line in &self.lines {
            transport.write(line.as_bytes());
            transport.write(b"\n");
        }
        transport.close_stdin(); // sort prints once its input ends
    }

    fn out_received(&mut self, data: &[u8]) {
        self.partial.extend_from_slice(data);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            println!("sorted: {}", String::from_utf8_lossy(&line[..end]));
        }
    }

    fn err_received(&mut self, data: &[u8]) {
        eprint!("sort: {}", String::from_utf8_lossy(data));
    }

    fn process_ended(&mut self, exit: ProcessExit) {
        if let Some(done) = self.done.take() {
            let _ = done.callback(exit);
        }
    }
}

fn main() {
    let mut lines: Vec<String> = std::env::args().skip(1).collect();
    if lines.is_empty() {
        lines = ["pear", "apple", "fig", "banana"]
            .map(String::from)
            .to_vec();
    }
    react(|reactor| {
        let (ended, done) = Deferred::new();
        let sorter = Sorter {
            lines,
            partial: Vec::new(),
            done: Some(done),
        };
        let command = Command::new("sort").env("LC_ALL", "C");
        if let Err(e) = spawn_process(reactor, Box::new(sorter), &command) {
            return torsion::defer::fail(Failure::new(e));
        }
        ended.add_callback(|exit: ProcessExit| {
            println!("{exit}");
            if exit.is_clean() {
                Ok(())
            } else {
                Err(Failure::msg(format!("sort did not exit cleanly: {exit}")))
            }
        })
    })
}
