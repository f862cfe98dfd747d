//! A chat server: every line a client sends goes to all the other clients.
//!
//! ```text
//! cargo run --example chat -- --listen tcp:8123
//! nc 127.0.0.1 8123   # in two terminals; type lines ending with Enter
//! ```
//!
//! Lines end with `\n` (a `\r` before it is kept and sent on); each goes out as
//! `<PEER> LINE`.

use std::{cell::RefCell, process::ExitCode, rc::Rc};

use torsion::{
    net::{factory_fn, CloseReason},
    protocols::basic::{LineProtocol, LineReceiver, Lines},
};

use torsion::application::example as net;

use net::Failed;

const USAGE: &str = "[--listen ENDPOINT|PORT]";

/// The clients connected now, by id.
type Room = Rc<RefCell<Vec<(u64, Lines)>>>;

struct Chatter {
    id: u64,
    room: Room,
}

impl LineReceiver for Chatter {
    fn connection_made(&mut self, lines: &Lines) {
        self.room.borrow_mut().push((self.id, lines.clone()));
    }

    fn line_received(&mut self, lines: &Lines, line: &[u8]) {
        let from = format!("<{}> ", lines.transport().peer());
        for (id, other) in self.room.borrow().iter() {
            if *id != self.id {
                other
                    .transport()
                    .write_sequence(&[from.as_bytes(), line, b"\n"]);
            }
        }
    }

    fn connection_lost(&mut self, _: CloseReason) {
        self.room.borrow_mut().retain(|(id, _)| *id != self.id);
    }
}

fn main() -> ExitCode {
    // The log an operator reads (RUST_LOG, default info) on standard error.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    net::report("chat", USAGE, run())
}

fn run() -> Result<ExitCode, Failed> {
    let options = net::options(std::env::args().skip(1), &["--listen"]).map_err(Failed::Usage)?;
    let endpoint = net::last(&options, "--listen").unwrap_or("8123");
    let reactor = net::reactor()?;
    let room = Room::default();
    let next = std::cell::Cell::new(0);
    let factory = factory_fn(move |_| {
        next.set(next.get() + 1);
        let chatter = Chatter {
            id: next.get(),
            room: room.clone(),
        };
        LineProtocol::new(chatter).with_delimiter(b"\n").ok()
    });
    let port = net::service(&reactor, endpoint, factory).map_err(Failed::Run)?;
    Ok(net::serve(&reactor, port))
}
